"""email_client and email_employee sending a library template (rendered with the deal's values)."""

from __future__ import annotations

import pytest

from kanban.models import EmailMessage
from robots.errors import PermanentError
from tests.robots.test_email_templates import OFFER


def test_a_templated_robot_email_is_rendered_escaped_and_tracked(kit_with_template):
    kit, tid = kit_with_template
    out = kit.run("email_client", {"template_id": tid})
    with kit.runtime.sessions() as s:
        mail = s.get(EmailMessage, out["message_id"])
    assert mail.subject == "Offer for Acme renewal"
    assert "Dear Carla Client" in mail.body_html and "/t/c/" in mail.body_html and "/t/o/" in mail.body_html
    assert mail.links == ["https://shop.example/o"] and mail.body_text.startswith("Dear Carla Client, see the offer")
    emp = kit.run("email_employee", {"template_id": tid})
    with kit.runtime.sessions() as s:
        staff = s.get(EmailMessage, emp["message_id"])
    assert staff.to_address == "rep@example.com" and staff.subject == "Offer for Acme renewal"
    assert "/t/c/" not in (staff.body_html or "")  # only client emails are tracked


@pytest.fixture
def kit_with_template(kit):
    from robots.email_templates import create_template

    with kit.runtime.sessions() as s, s.begin():
        return kit, create_template(s, OFFER).id


def test_a_template_deleted_behind_the_robots_back_fails_the_run_permanently(kit_with_template):
    kit, tid = kit_with_template
    from robots.email_templates import EmailTemplate

    with kit.runtime.sessions() as s, s.begin():
        s.delete(s.get(EmailTemplate, tid))
    with pytest.raises(PermanentError, match="no longer exists"):
        kit.run("email_client", {"template_id": tid})
