"""Email received over IMAP from a real Dovecot: stored once, on the contact's deals, email.received raised,
and the UIDVALIDITY/UID high-water mark survives restarts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from kanban import inbox
from kanban.domain_events import DomainEvent
from kanban.events import Actor
from kanban.models import TimelineEntry
from kanban.services.deals import create_deal
from tests.conftest import service_missing
from tests.private_imap import DOVECOT, PrivateDovecot


@pytest.fixture
def dovecot() -> Iterator[PrivateDovecot]:
    """A private Dovecot (skipped locally, failed on CI, when it is not installed)."""
    if not shutil.which(DOVECOT):
        service_missing("dovecot (apt-get install dovecot-imapd)")
    server = PrivateDovecot()
    server.start()
    yield server
    server.stop()


def _message(n: int, sender: str = "carla@client.example", to: str = "sales@crm.example") -> bytes:
    return (f"From: Carla <{sender}>\r\nTo: {to}\r\nSubject: Question {n}\r\nMessage-ID: <q{n}@client.example>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nHello, question {n}.\r\n").encode()


def _deal(runtime: Any, admin: Any, pipeline: Any, email: str | None) -> int:
    contact = {"name": "Carla", "email": email} if email else None
    with runtime.sessions() as s, s.begin():
        return create_deal(s, title="Acme", pipeline_id=pipeline.id, actor=Actor.user(admin.id), contact=contact).id


def test_polling_stores_each_message_once_on_its_deals(runtime, dovecot, admin, pipeline):
    mine = _deal(runtime, admin, pipeline, "Carla@Client.example")
    also = _deal(runtime, admin, pipeline, "carla@client.example")
    other = _deal(runtime, admin, pipeline, "someone@else.example")
    dovecot.append(_message(1))
    dovecot.append(_message(2, sender="stranger@nowhere.example", to="carla@client.example"))
    assert inbox.poll(runtime, dovecot.url) == 2
    assert inbox.poll(runtime, dovecot.url) == 0  # a restart reads the mark: nothing fetched again
    dovecot.append(_message(1))  # the same Message-ID delivered twice
    dovecot.append(_message(3, sender="nobody@nowhere.example"))
    assert inbox.poll(runtime, dovecot.url) == 2
    with runtime.sessions() as s:
        emails = list(s.scalars(select(inbox.InboundEmail).order_by(inbox.InboundEmail.id)))
        events = list(s.scalars(select(DomainEvent).where(DomainEvent.type == "email.received")))
        notes = list(s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "email")))
        state = s.scalars(select(inbox.MailboxState)).one()
    assert [e.subject for e in emails] == ["Question 1", "Question 2", "Question 3"]
    assert emails[0].deal_ids == [mine, also] and emails[2].deal_ids == []
    assert sorted((e.deal_id, e.entity_id) for e in events) == sorted(
        [(mine, emails[0].id), (also, emails[0].id), (mine, emails[1].id), (also, emails[1].id)])
    assert {e.entity_type for e in events} == {"email"} and other not in {n.deal_id for n in notes}
    assert len(notes) == 4 and notes[0].text == "Email received: Question 1"
    assert (state.last_uid, state.uidvalidity > 0) == (4, True)


def test_a_changed_uidvalidity_reads_the_folder_again_without_duplicates(runtime, dovecot, admin, pipeline):
    _deal(runtime, admin, pipeline, "carla@client.example")
    dovecot.append(_message(1))
    assert inbox.poll(runtime, dovecot.url) == 1
    with runtime.sessions() as s, s.begin():
        s.scalars(select(inbox.MailboxState)).one().uidvalidity = 1  # as if the server renumbered the folder
    assert inbox.poll(runtime, dovecot.url) == 1
    with runtime.sessions() as s:
        assert len(list(s.scalars(select(inbox.InboundEmail)))) == 1


def test_email_received_fires_an_automation(runtime, dovecot, admin, pipeline, test_kinds, run_all):
    from robots import automations
    from robots.models import RobotRun

    deal_id = _deal(runtime, admin, pipeline, "carla@client.example")
    with runtime.sessions() as s, s.begin():
        auto = automations.create_automation(s, {"name": "Mail", "event": "email.received"}, owner_id=admin.id)
        automations.add_action(s, auto.id, {"kind": "test_echo", "settings": {"text": "{{ event.new.subject }}"}})
    dovecot.append(_message(7))
    inbox.poll(runtime, dovecot.url)
    run_all()
    with runtime.sessions() as s:
        runs = list(s.scalars(select(RobotRun).where(RobotRun.execution_id.is_not(None)).order_by(RobotRun.id)))
    assert [(r.deal_id, r.status, r.outputs["text"]) for r in runs] == [(deal_id, "done", "Question 7")]


def test_bad_urls_are_refused():
    with pytest.raises(ValueError):
        inbox.parse_url("http://host/INBOX")
    box = inbox.parse_url("imaps://me%40corp:p%3Ass@mail.example/Sales")
    assert (box.ssl, box.port, box.user, box.password, box.folder) == (True, 993, "me@corp", "p:ss", "Sales")


def test_received_email_is_linked_to_its_persons_with_or_without_deals(runtime, admin, pipeline, test_kinds,
                                                                         run_all):
    # No IMAP server needed: receive() is what polling calls for each fetched message.
    from kanban.services import persons
    from robots import automations
    from robots.models import RobotRun

    deal_id = _deal(runtime, admin, pipeline, "carla@client.example")
    with runtime.sessions() as s, s.begin():
        lonely = persons.create_person(s, {"name": "Lone", "email": "lone@client.example"},
                                       actor=Actor.user(admin.id)).id
        auto = automations.create_automation(s, {"name": "Mail", "event": "email.received"}, owner_id=admin.id)
        automations.add_action(s, auto.id, {"kind": "test_echo", "settings": {"text": "{{ event.new.subject }}"}})
    with runtime.sessions() as s, s.begin():
        stored = inbox.receive(s, _message(8, to="lone@client.example"))
        assert stored is not None and inbox.receive(s, _message(8)) is None  # once per Message-ID
        events = s.scalars(select(DomainEvent).where(DomainEvent.type == "email.received")
                           .order_by(DomainEvent.id)).all()
        assert [(e.deal_id, e.data.get("person_id")) for e in events] == [(deal_id, None), (None, lonely)]
    run_all()
    with runtime.sessions() as s:
        runs = list(s.scalars(select(RobotRun).where(RobotRun.execution_id.is_not(None))))
        from kanban.models import Deal

        carla_id = s.get(Deal, deal_id).person_id
        assert [m.subject for m in inbox.emails_of_persons(s, [lonely])] == ["Question 8"]
        assert [m.subject for m in inbox.emails_of_persons(s, [carla_id])] == ["Question 8"]
    # Carla's deal, and Lone (no deal) as the subject
    assert [(r.deal_id, r.status, r.outputs["text"]) for r in runs] == [(deal_id, "done", "Question 8"),
                                                                         (None, "done", "Question 8")]
