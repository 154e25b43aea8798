"""Email opened / link clicked: the pixel, tracked links, machine opens, forged tokens, open redirects."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from kanban.models import EmailMessage
from kanban.tracking import click_token
from tests.triggers.conftest import (
    add_comment_robot,
    add_trigger,
    entries,
    events,
    make_deal,
    make_email,
    robots_done,
    settled,
    stage_of,
    timeline_texts,
    wait_for,
)
from triggers.web import GIF

SECRET = "test-secret-key"


def test_open_pixel_moves_deal_and_runs_robots(admin_api, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    make_email(runtime, deal, "tok-open", [])
    add_trigger(runtime, stages["Qualified"], "email_opened", name="Opened")
    robot = add_comment_robot(admin_api, stages["Qualified"])
    response = admin_api.get("/t/o/tok-open.gif")
    assert response.status_code == 200 and response.content == GIF
    assert response.headers["content-type"] == "image/gif"
    [event] = settled(runtime, provider="pixel")
    assert event.status == "processed" and stage_of(runtime, deal) == stages["Qualified"]
    wait_for(lambda: robots_done(runtime, deal, robot), what="the Qualified stage's robot")
    with runtime.sessions() as s:
        message = s.query(EmailMessage).one()
        assert message.open_count == 1 and message.opened_at is not None


def test_unknown_pixel_is_the_same_gif_and_writes_nothing(client, runtime, pipeline):
    for path in ("/t/o/nope.gif", "/t/o/" + "x" * 500 + ".gif", "/t/o/%00.gif"):
        response = client.get(path)
        assert response.status_code == 200 and response.content == GIF
    assert events(runtime) == []


def test_repeat_opens_counted_but_fire_once(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    make_email(runtime, deal, "tok-many", [])
    add_trigger(runtime, stages["Qualified"], "email_opened")
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda _: client.get("/t/o/tok-many.gif"), range(10)))
    [event] = settled(runtime, provider="pixel")
    assert event.status == "processed" and entries(runtime, deal) == 2
    with runtime.sessions() as s:
        assert s.query(EmailMessage).one().open_count == 10


def test_machine_open_does_not_fire_by_default(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    make_email(runtime, deal, "tok-scan", [], age_seconds=1)
    add_trigger(runtime, stages["Qualified"], "email_opened")
    client.get("/t/o/tok-scan.gif")
    [event] = settled(runtime, provider="pixel")
    assert event.event_id == "tok-scan:machine" and event.status == "ignored"
    assert stage_of(runtime, deal) == stages["New"]
    assert any("machine open" in t for t in timeline_texts(runtime, deal))
    with runtime.sessions() as s:
        assert s.query(EmailMessage).one().opened_at is None


def test_machine_open_fires_when_the_trigger_asks(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    make_email(runtime, deal, "tok-scan2", [], age_seconds=1)
    add_trigger(runtime, stages["Qualified"], "email_opened", settings={"include_machine_opens": True})
    client.get("/t/o/tok-scan2.gif")
    settled(runtime, provider="pixel")
    assert stage_of(runtime, deal) == stages["Qualified"]


def test_open_after_deal_moved_past_is_recorded_not_moved_back(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Won"])
    make_email(runtime, deal, "tok-late", [])
    add_trigger(runtime, stages["Proposal"], "email_opened")
    client.get("/t/o/tok-late.gif")
    [event] = settled(runtime, provider="pixel")
    assert event.status == "ignored"
    assert "email opened — no trigger applies: deal already past “Proposal”" in timeline_texts(runtime, deal)
    assert stage_of(runtime, deal) == stages["Won"]


def test_click_redirects_to_original_and_fires(admin_api, runtime, pipeline, stages):
    client = admin_api
    deal = make_deal(runtime, pipeline, stages["New"])
    robot = add_comment_robot(admin_api, stages["Proposal"])
    links = ["https://example.com/offer?a=1&b=2", "https://example.com/other"]
    make_email(runtime, deal, "tok-click", links)
    add_trigger(runtime, stages["Proposal"], "link_clicked", settings={"url": "https://example.com/offer?a=1&b=2"})
    other = client.get(f"/t/c/{click_token(SECRET, 'tok-click', 1)}", follow_redirects=False)
    assert other.status_code == 302 and other.headers["location"] == links[1]
    settled(runtime, provider="click")
    assert stage_of(runtime, deal) == stages["New"]  # clicks on another URL do not match
    offer = client.get(f"/t/c/{click_token(SECRET, 'tok-click', 0)}", follow_redirects=False)
    assert offer.status_code == 302 and offer.headers["location"] == links[0]
    wait_for(lambda: stage_of(runtime, deal) == stages["Proposal"], what="the click to move the deal")
    wait_for(lambda: robots_done(runtime, deal, robot), what="the Proposal stage's robot")
    with runtime.sessions() as s:
        assert s.query(EmailMessage).one().clicked_at is not None


def test_forged_and_unknown_click_tokens_404_and_write_nothing(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    make_email(runtime, deal, "tok-safe", ["https://example.com/"])
    forged = [
        click_token("attacker-secret", "tok-safe", 0),  # signed with the wrong key
        click_token(SECRET, "tok-safe", 0)[:-2] + "xx",  # tampered signature
        click_token(SECRET, "tok-safe", 5),  # index out of range: no redirect target
        click_token(SECRET, "tok-unknown", 0),  # no such email
        "https:%2F%2Fevil.example",
        "not-a-token",
    ]
    for token in forged:
        response = client.get(f"/t/c/{token}", follow_redirects=False)
        assert response.status_code == 404, token
        assert "location" not in response.headers
    assert events(runtime) == []
    with runtime.sessions() as s:
        assert s.query(EmailMessage).one().clicked_at is None


def test_expired_tracking_tokens_write_nothing(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    add_trigger(runtime, stages["Qualified"], "email_opened")
    make_email(runtime, deal, "tok-old", ["https://example.com/"], age_seconds=181 * 24 * 3600)
    pixel = client.get("/t/o/tok-old.gif")
    assert pixel.status_code == 200 and pixel.content == GIF
    assert client.get(f"/t/c/{click_token(SECRET, 'tok-old', 0)}", follow_redirects=False).status_code == 404
    assert events(runtime) == []
    with runtime.sessions() as s:
        message = s.query(EmailMessage).one()
        assert message.open_count == 0 and message.clicked_at is None


def test_no_redirect_to_a_non_http_stored_link(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    make_email(runtime, deal, "tok-js", ["javascript:alert(1)", "//evil.example/"])
    for index in (0, 1):
        response = client.get(f"/t/c/{click_token(SECRET, 'tok-js', index)}", follow_redirects=False)
        assert response.status_code == 404
    assert events(runtime) == []


def test_link_clicked_settings_validation(admin_api, stages):
    bad = admin_api.post(f"/api/v1/stages/{stages['Won']}/triggers",
                         json={"kind": "link_clicked", "settings": {"url": "javascript:alert(1)"}})
    assert bad.status_code == 422 and "settings.url" in bad.json()["error"]["fields"]
