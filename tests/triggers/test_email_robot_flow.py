"""With the real email_client robot: its pixel and tracked links feed email_opened / link_clicked triggers."""

from __future__ import annotations

import re

from kanban.models import EmailMessage
from tests.triggers.conftest import add_trigger, make_deal, settled, stage_of, wait_for


def test_email_client_open_and_click_move_the_deal(admin_api, runtime, pipeline, stages):
    runtime.extras["triggers.options"].machine_open_seconds = 0  # the test opens right after sending
    body = {"kind": "email_client", "settings": {"subject": "Our offer",
                                                 "body": '<p>See <a href="https://example.com/offer">it</a></p>'}}
    assert admin_api.post(f"/api/v1/stages/{stages['New']}/robots", json=body).status_code == 201
    add_trigger(runtime, stages["Qualified"], "email_opened")
    add_trigger(runtime, stages["Proposal"], "link_clicked", settings={"url": "https://example.com/offer"})
    deal = make_deal(runtime, pipeline, stages["New"], contact={"name": "Cleo", "email": "cleo@example.com"})

    def sent_email() -> EmailMessage | None:
        with runtime.sessions() as s:
            return s.query(EmailMessage).filter_by(deal_id=deal).first()

    message = wait_for(sent_email, what="the email_client robot's email")
    assert message.tracking_token and message.links == ["https://example.com/offer"]
    pixel = re.search(r'src="http://testserver(/t/o/[^"]+\.gif)"', message.body_html).group(1)
    link = re.search(r'href="http://testserver(/t/c/[^"]+)"', message.body_html).group(1)
    assert admin_api.get(pixel).status_code == 200
    settled(runtime, provider="pixel")
    assert stage_of(runtime, deal) == stages["Qualified"]
    response = admin_api.get(link, follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == "https://example.com/offer"
    settled(runtime, provider="click")
    assert stage_of(runtime, deal) == stages["Proposal"]
