"""Writing an email from the deal page: typed or templated, tracked like robot emails, on the timeline."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from kanban.events import Actor
from kanban.models import EmailMessage
from kanban.services.deals import create_deal
from robots.compose import text_to_html
from tests.conftest import csrf_of, login


def _deal(runtime: Any, pipeline: Any, admin: Any, email: str | None = "carla@client.example",
          responsible_id: int | None = None) -> int:
    with runtime.sessions() as s, s.begin():
        contact = {"name": "Carla <Client>", "email": email} if email else None
        return create_deal(s, title="Acme & Co", pipeline_id=pipeline.id, actor=Actor.user(admin.id),
                           contact=contact, responsible_id=responsible_id).id


def _emails(runtime: Any) -> list[EmailMessage]:
    with runtime.sessions() as s:
        return list(s.scalars(select(EmailMessage).order_by(EmailMessage.id)))


def test_text_becomes_escaped_html_with_clickable_links():
    assert text_to_html("Hi <b>\nsee https://shop.example/o?a=1&b=2.") == (
        'Hi &lt;b&gt;<br>\nsee <a href="https://shop.example/o?a=1&amp;b=2">https://shop.example/o?a=1&amp;b=2</a>.')


def test_a_rep_writes_to_the_contact_tracked_and_on_the_timeline(runtime, pipeline, admin, rep, rep_api):
    deal = _deal(runtime, pipeline, admin, responsible_id=rep.id)  # reps write from their own deals
    response = rep_api.post(f"/api/v1/deals/{deal}/emails", json={
        "subject": "Next steps", "body": "Hello,\nthe offer: https://shop.example/offer"})
    assert response.status_code == 201, response.text
    [mail] = _emails(runtime)
    assert (mail.kind, mail.to_address, mail.deal_id) == ("rep", "carla@client.example", deal)
    assert mail.status == "captured"
    assert mail.from_address == f"Rex Rep <{runtime.settings.mail_from}>"
    assert mail.links == ["https://shop.example/offer"]
    assert mail.body_text == "Hello,\nthe offer: https://shop.example/offer"
    [entry] = [e for e in rep_api.get(f"/api/v1/deals/{deal}/timeline").json()["items"] if e["kind"] == "email"]
    assert entry["actor"] == {"type": "user", "id": rep.id}
    assert entry["text"] == "Email “Next steps” to carla@client.example"
    pixel = re.search(r'src="http://testserver(/t/o/[^"]+\.gif)"', mail.body_html).group(1)
    link = re.search(r'href="http://testserver(/t/c/[^"]+)"', mail.body_html).group(1)
    assert rep_api.get(pixel).status_code == 200
    assert rep_api.get(link, follow_redirects=False).headers["location"] == "https://shop.example/offer"
    [mail] = _emails(runtime)
    assert mail.open_count == 1 and mail.clicked_at is not None


def test_a_template_is_rendered_with_the_deals_values_escaped(runtime, pipeline, admin, admin_api):
    deal = _deal(runtime, pipeline, admin)
    template = {"name": "Hello", "subject": "About {{ deal.title }}", "body_html": "<p>Dear {{ contact.name }}</p>"}
    tid = admin_api.post("/api/v1/email-templates", json=template).json()["id"]
    response = admin_api.post(f"/api/v1/deals/{deal}/emails", json={"template_id": tid})
    assert response.status_code == 201, response.text
    [mail] = _emails(runtime)
    assert mail.subject == "About Acme & Co" and "<p>Dear Carla &lt;Client&gt;</p>" in mail.body_html


def test_bad_compositions_are_refused_and_nothing_is_sent(runtime, pipeline, admin, admin_api):
    deal = _deal(runtime, pipeline, admin)
    url = f"/api/v1/deals/{deal}/emails"
    assert set(admin_api.post(url, json={}).json()["error"]["fields"]) == {"subject", "body"}
    both = admin_api.post(url, json={"template_id": 1, "subject": "x"})
    assert both.status_code == 422 and "template_id" in both.json()["error"]["fields"]
    assert admin_api.post(url, json={"template_id": 12345}).status_code == 404
    nobody = _deal(runtime, pipeline, admin, email=None)
    refused = admin_api.post(f"/api/v1/deals/{nobody}/emails", json={"subject": "s", "body": "b"})
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == {"to": "the contact has no email address"}
    assert _emails(runtime) == []


def test_the_deal_page_panel_sends_and_keeps_a_draft_on_error(runtime, pipeline, admin, client, rep):
    deal = _deal(runtime, pipeline, admin, responsible_id=rep.id)
    login(client, rep.email)
    page = client.get(f"/deals/{deal}")
    assert 'id="compose"' in page.text and "carla@client.example" in page.text
    token = csrf_of(client, f"/deals/{deal}")
    kept = client.post(f"/deals/{deal}/emails", data={"csrf_token": token, "subject": "Only a subject"})
    assert kept.status_code == 200 and "write a subject and a body" in kept.text
    assert 'value="Only a subject"' in kept.text and _emails(runtime) == []
    sent = client.post(f"/deals/{deal}/emails", data={"csrf_token": token, "subject": "Hi", "body": "Hello"})
    assert sent.status_code == 200 and "Email sent to carla@client.example." in sent.text
    assert 'data-email-id="' in sent.text and [m.subject for m in _emails(runtime)] == ["Hi"]
