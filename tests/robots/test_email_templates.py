"""Email templates: the API and admin page, placeholder checks at save, and the email robots sending them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from robots.email_templates import EmailTemplate
from tests.conftest import csrf_of, login

OFFER = {"name": "Offer", "subject": "Offer for {{ deal.title }}",
         "body_html": '<p>Dear {{ contact.name }}, see <a href="https://shop.example/o">the offer</a>.</p>',
         "language": "en"}


def _new(api: Any, **changes: Any) -> Any:
    return api.post("/api/v1/email-templates", json={**OFFER, **changes})


def test_templates_crud_through_the_api(admin_api):
    created = _new(admin_api)
    assert created.status_code == 201, created.text
    tid = created.json()["id"]
    assert created.json()["body_text"] is None and created.json()["language"] == "en"
    assert [t["name"] for t in admin_api.get("/api/v1/email-templates").json()["items"]] == ["Offer"]
    changed = admin_api.patch(f"/api/v1/email-templates/{tid}", json={"body_text": "Hi {{ contact.name }}"})
    assert changed.status_code == 200 and changed.json()["subject"] == OFFER["subject"]
    assert admin_api.get(f"/api/v1/email-templates/{tid}").json()["body_text"] == "Hi {{ contact.name }}"
    assert admin_api.delete(f"/api/v1/email-templates/{tid}").status_code == 204
    assert admin_api.get(f"/api/v1/email-templates/{tid}").status_code == 404


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"subject": "Hi {{ deal.nope }}"}, "subject", "unknown placeholder"),
    ({"body_html": "{{ robots.x.url }}"}, "body_html", "cannot use robot outputs"),
    ({"body_text": "{% for %}"}, "body_text", "template error"),
    ({"name": "  "}, "name", "required"),
    ({"language": "French"}, "language", "language code"),
    ({"colour": "red"}, "colour", "unknown field"),
])
def test_bad_templates_are_refused_naming_the_field(runtime, admin_api, changes, field, words):
    response = _new(admin_api, **changes)
    assert response.status_code == 422
    assert words in response.json()["error"]["fields"][field]
    with runtime.sessions() as s:
        assert s.scalars(select(EmailTemplate)).all() == []


def test_template_names_are_unique_and_reps_cannot_write(admin_api, runtime, rep):
    assert _new(admin_api).status_code == 201
    assert "already exists" in _new(admin_api).json()["error"]["fields"]["name"]
    from tests.conftest import token_for

    rep_h = {"Authorization": f"Bearer {token_for(runtime, rep.email)}"}
    assert admin_api.post("/api/v1/email-templates", json={**OFFER, "name": "x"}, headers=rep_h).status_code == 403
    assert admin_api.get("/api/v1/email-templates", headers=rep_h).status_code == 200


def test_email_robots_take_a_template_id_instead_of_subject_and_body(admin_api, pipeline):
    tid = _new(admin_api).json()["id"]
    stage = pipeline.stages[1].id
    url = f"/api/v1/stages/{stage}/robots"
    ok = admin_api.post(url, json={"kind": "email_client", "settings": {"template_id": tid}})
    assert ok.status_code == 201, ok.text
    emp = admin_api.post(url, json={"kind": "email_employee", "settings": {"template_id": tid}})
    assert emp.status_code == 201, emp.text
    both = admin_api.post(url, json={"kind": "email_client", "settings": {"template_id": tid, "subject": "s"}})
    assert "not both" in both.json()["error"]["fields"]["settings"]
    neither = admin_api.post(url, json={"kind": "email_employee", "settings": {}})
    assert "template_id" in neither.json()["error"]["fields"]["settings"]
    unknown = admin_api.post(url, json={"kind": "email_client", "settings": {"template_id": 999999}})
    assert unknown.status_code == 422 and unknown.json()["error"]["fields"] == {
        "settings.template_id": "no email template 999999"}
    mailbox = admin_api.post(url, json={"kind": "email_client", "settings": {"template_id": tid,
                                                                              "send_as": "responsible"}})
    assert mailbox.status_code == 201, mailbox.text  # without a connected mailbox it falls back when it runs
    odd = admin_api.post(url, json={"kind": "email_client", "settings": {"template_id": tid, "send_as": "me"}})
    assert "settings.send_as" in odd.json()["error"]["fields"]
    used = admin_api.delete(f"/api/v1/email-templates/{tid}")
    assert used.status_code == 409 and "Email the client" in used.json()["error"]["message"]


def test_admin_page_adds_and_explains_errors(runtime, client, admin, pipeline):
    login(client, admin.email)
    token = csrf_of(client, "/email-templates")
    bad = client.post("/email-templates", data={"csrf_token": token, "name": "Hi", "subject": "{{ nope }}",
                                                "body_html": "<p>x</p>"})
    assert bad.status_code == 422 and "unknown placeholder" in bad.text
    good = client.post("/email-templates", data={"csrf_token": token, **OFFER}, follow_redirects=True)
    assert good.status_code == 200 and "Template “Offer” saved." in good.text
    with runtime.sessions() as s:
        [row] = s.scalars(select(EmailTemplate)).all()
    form = client.get(f"/automation/stages/{pipeline.stages[0].id}/robots/new?kind=email_client")
    assert f'<option value="{row.id}"' in form.text and "Offer (en)" in form.text

