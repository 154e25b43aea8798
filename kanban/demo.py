"""Demo data: two sales teams, a six-stage pipeline, ~40 deals with persons, organizations, notes, activities and
won / lost outcomes, with real histories (idempotent)."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import clock, company
from kanban.chats import post_message
from kanban.events import Actor
from kanban.i18n import N_, _, company_language, localized, normalize, use_language
from kanban.models import (
    Chat,
    ChatMember,
    Deal,
    Department,
    Organization,
    Person,
    Pipeline,
    StageEntry,
    TimelineEntry,
    User,
)
from kanban.services.activities import create_activity, update_activity
from kanban.services.deals import create_deal, move_deal
from kanban.services.notes import add_note
from kanban.services.outcomes import create_lost_reason
from kanban.services.pipelines import create_pipeline
from kanban.services.users import create_user

ADMIN_EMAIL = "admin@demo.local"
ADMIN_PASSWORD = "demo-admin"
REP_PASSWORD = "demo-rep"
PIPELINE_NAME = N_("Sales")

# Called with the session after the core demo data exists (same transaction); the composition root
# appends seeders here, e.g. robots and triggers for the demo pipeline.
EXTRA_SEEDS: list[Callable[[Session], None]] = []
# Called with the runtime after each step of play_history: run in this process whatever automation is due
# (robots registers its engine here), so the history is made by the demo's real robots.
SETTLERS: list[Callable[[Any], None]] = []
# play_history's moves, last stage first so no deal moves twice: the newest deal of each stage moves on.
HISTORY_MOVES = [(N_("Invoice"), N_("Paid")), (N_("Proposal"), N_("Invoice")), (N_("Qualified"), N_("Proposal")),
                 (N_("New lead"), N_("Qualified"))]

# (email, name, role, department, phone, heads its department)
PEOPLE = [
    (ADMIN_EMAIL, "Avery Admin", "admin", "Sales East", "+1 555 0100", True),
    ("sam@demo.local", "Sam Rivera", "rep", "Sales East", "+1 555 0101", False),
    ("priya@demo.local", "Priya Shah", "rep", "Sales East", "+1 555 0102", False),
    ("morgan@demo.local", "Morgan Lee", "rep", "Sales West", "+1 555 0200", True),
    ("jules@demo.local", "Jules Martin", "rep", "Sales West", "+1 555 0201", False),
    ("kim@demo.local", "Kim Novak", "rep", "Sales West", "+1 555 0202", False),
]
STAGES = [
    {"name": N_("New lead")}, {"name": N_("Qualified")}, {"name": N_("Proposal")}, {"name": N_("Invoice")},
    {"name": N_("Paid"), "kind": "won"}, {"name": N_("Lost"), "kind": "lost"},
]
# (probability %, rotting days) of the open stages, in order.
STAGE_SETTINGS = [(10, 7), (25, 7), (50, 10), (80, 14)]
LOST_REASONS = [N_("Price too high"), N_("Chose a competitor"), N_("No budget this year"), N_("No response")]
NOTES = [
    N_("Spoke with {person}: they want a demo for the whole team. @{colleague} can you join?"),
    N_("Budget confirmed for Q3. Decision committee meets next week."),
    N_("Sent the updated proposal, see https://docs.example/proposal-{number}"),
    N_("{person} asked about SSO and data residency.\nFollowing up with the technical sheet."),
]
ACTIVITY_SUBJECTS = [("call", N_("Follow-up call with {person}")), ("meeting", N_("Demo for {company}")),
                     ("email", N_("Send the proposal to {person}")), ("task", N_("Prepare the quote")),
                     ("deadline", N_("Decision deadline for {company}"))]
COMPANIES = [
    ("Acme Corp", "Wile Coyote"), ("Globex", "Hank Scorpio"), ("Initech", "Bill Lumbergh"),
    ("Umbrella Health", "Alice Abernathy"), ("Stark Industries", "Pepper Potts"), ("Wayne Logistics", "Lucius Fox"),
    ("Hooli", "Gavin Belson"), ("Pied Piper", "Monica Hall"), ("Soylent Foods", "Sol Roth"),
    ("Vandelay Imports", "Art Vandelay"), ("Cyberdyne Systems", "Miles Dyson"), ("Tyrell Corp", "Rachael Rosen"),
    ("Wonka Confections", "Charlie Bucket"), ("Dunder Mifflin", "Pam Beesly"), ("Oscorp", "Harry Osborn"),
    ("Massive Dynamic", "Nina Sharp"), ("Bluth Company", "Michael Bluth"), ("Prestige Worldwide", "Dale Doback"),
    ("Gringotts Bank", "Griphook Gold"), ("Monarch Airlines", "Amelia Park"),
]
PRODUCTS = [
    (N_("CRM rollout"), 4_800_000), (N_("Annual licence renewal"), 1_200_000),
    (N_("Onboarding package"), 350_000),
    (N_("Support upgrade"), 600_000), (N_("Data migration"), 900_000), (N_("Team training"), 240_000),
    (N_("API integration"), 1_500_000), (N_("Pilot project"), 500_000),
]
TAGS = ["inbound", "referral", "enterprise", "smb", "renewal", "upsell", "hot", "event"]
SOURCES = [N_("website"), N_("referral"), N_("trade fair"), N_("cold call"), N_("partner")]
# How many of the 40 deals end in each stage (index into STAGES).
SPREAD = [9, 9, 8, 5, 6, 3]


def demo_language() -> str:
    """The language of the demo's texts: KANBAN_DEMO_LANGUAGE (en, fr, it), else the company's."""
    return normalize(os.environ.get("KANBAN_DEMO_LANGUAGE")) or company_language()


def seed_demo(session: Session) -> bool:
    """Create the demo data unless it exists (its texts in demo_language()); True when something was created."""
    with use_language(demo_language()):
        return _seed_demo(session)


def _seed_demo(session: Session) -> bool:
    if session.scalars(select(User.id).where(User.email == ADMIN_EMAIL)).first() is not None:
        return False
    _company(session)
    users = _people(session)
    pipeline = create_pipeline(session, str(PIPELINE_NAME), localized(STAGES))
    stage_ids = [s.id for s in pipeline.stages]
    for stage, (probability, rotting) in zip(pipeline.stages, STAGE_SETTINGS, strict=False):
        stage.probability, stage.rotting_days = probability, rotting
    for name in LOST_REASONS:
        create_lost_reason(session, str(name))
    rng = random.Random(2026)
    owners = [u for u in users if u.role == "rep"] + [users[0]]
    number = 0
    for target, count in enumerate(SPREAD):
        for _i in range(count):
            deal_id = _deal(session, rng, pipeline, stage_ids, target, owners[number % len(owners)], number)
            _records(session, rng, deal_id, users, number)
            number += 1
    for seed in EXTRA_SEEDS:
        seed(session)
    if os.environ.get("KANBAN_DEMO_LANGUAGE"):  # people the extra seeders added read the demo's language too
        for user in session.scalars(select(User).where(User.role != "system", User.language.is_(None))):
            user.language = demo_language()
    session.flush()
    return True


def play_history(runtime: Any) -> None:
    """Give a freshly seeded demo recent history made by its own automation: a few deals move one stage on
    (their robots really run: emails, a payment link, SMS, a deal chat, a feed post, notifications), then
    the responsible replies in the new deal chat, @mentioning the admin."""
    with use_language(demo_language()):
        _play_history(runtime)


def _play_history(runtime: Any) -> None:
    with runtime.sessions() as session, session.begin():
        pipeline = demo_pipeline(session)
        if pipeline is None:
            return
        stages = {stage.name: stage.id for stage in pipeline.stages}
        for source, target in HISTORY_MOVES:
            deal = session.scalars(select(Deal).where(Deal.stage_id == stages[str(source)])
                                   .order_by(Deal.id.desc())).first()
            if deal is not None:
                move_deal(session, deal.id, stages[str(target)], actor=Actor.user(deal.responsible_id or 0))
    _settle(runtime)
    with runtime.sessions() as session, session.begin():
        chat = session.scalars(select(Chat).where(Chat.deal_id.is_not(None)).order_by(Chat.id.desc())).first()
        member = chat and session.scalars(select(User).join(ChatMember, ChatMember.user_id == User.id).where(
            ChatMember.chat_id == chat.id, User.role == "rep").order_by(User.id)).first()
        if chat is not None and member is not None:
            post_message(session, member, chat.id,
                         _("Thanks! @%(admin)s can we offer them a 5%% discount?", admin=ADMIN_EMAIL))
    _settle(runtime)


def _settle(runtime: Any) -> None:
    for settle in SETTLERS:
        settle(runtime)


def add_settler(settle: Callable[[Any], None]) -> None:
    """Run this after each step of play_history; adding the same one again changes nothing."""
    if settle not in SETTLERS:
        SETTLERS.append(settle)


def demo_pipeline(session: Session) -> Pipeline | None:
    """The demo's sales pipeline, for extra seeders."""
    with use_language(demo_language()):
        names = {str.__str__(PIPELINE_NAME), str(PIPELINE_NAME)}  # English, or the demo's language
    return session.scalars(select(Pipeline).where(Pipeline.name.in_(names)).order_by(Pipeline.id)).first()


def add_seed(seed: Callable[[Session], None]) -> None:
    """Run a seeder after the core demo data exists; adding the same seeder again changes nothing."""
    if seed not in EXTRA_SEEDS:
        EXTRA_SEEDS.append(seed)


def seed_stages(session: Session, items: Iterable[tuple[str, dict[str, Any]]],
                create: Callable[[Session, int, dict[str, Any]], object]) -> None:
    """create(session, stage id, a copy of data) for each (stage name, data) the demo pipeline has a stage for."""
    pipeline = demo_pipeline(session)
    if pipeline is None:
        return
    stages = {stage.name: stage.id for stage in pipeline.stages}
    for stage_name, data in items:
        if str(stage_name) in stages:
            create(session, stages[str(stage_name)], localized(dict(data)))


DEMO_ZONES = {"fr": "Europe/Paris", "it": "Europe/Rome"}


def _company(session: Session) -> None:
    """A French or Italian demo is a company of that country (its language, zone and the euro); every demo gets
    an exchange rate for the other currency its deals use, so each column shows one converted total."""
    language = normalize(os.environ.get("KANBAN_DEMO_LANGUAGE"))
    if language in DEMO_ZONES:
        company.update(session, {"language": language, "time_zone": DEMO_ZONES[language], "currency": "EUR"})
    if company.settings(session).currency == "EUR":
        company.set_rate(session, "USD", "0.93")
    else:
        company.set_rate(session, "EUR", "1.08")


def _people(session: Session) -> list[User]:
    users = []
    for email, name, role, dept, phone, head in PEOPLE:
        password = ADMIN_PASSWORD if role == "admin" else REP_PASSWORD
        user = create_user(session, email=email, name=name, role=role, password=password, phone=phone,
                           department=dept)
        if os.environ.get("KANBAN_DEMO_LANGUAGE"):
            user.language = demo_language()  # the demo team reads the UI in the demo's language
        if head:
            department = session.get(Department, user.department_id)
            assert department is not None
            department.head_id = user.id
        users.append(user)
    session.flush()
    return users


def _deal(session: Session, rng: random.Random, pipeline: Pipeline, stage_ids: list[int], target: int,
          owner: User, number: int) -> int:
    company, person = COMPANIES[number % len(COMPANIES)]
    product, base = localized(PRODUCTS[rng.randrange(len(PRODUCTS))])
    first, last = person.split(" ", 1)
    domain = company.lower().replace(" ", "") + ".example"
    opened = clock.now() - timedelta(days=rng.randint(5, 45), hours=rng.randint(0, 23))
    deal = create_deal(
        session, title=f"{company} — {product}", pipeline_id=pipeline.id, actor=Actor.user(owner.id),
        amount=int(base * rng.choice([0.5, 0.8, 1, 1, 1.25, 2])), currency=rng.choice(["USD"] * 4 + ["EUR"]),
        responsible_id=owner.id,
        contact={"name": person, "email": f"{first.lower()}.{last.lower().replace(' ', '')}@{domain}",
                 "phone": f"+1 555 {1000 + number:04d}", "company": company},
        fields={"source": str(rng.choice(SOURCES)),
                "expected_close": (opened + timedelta(days=rng.randint(20, 60))).date().isoformat()},
        tags=rng.sample(TAGS, rng.randint(0, 3)),
    )
    path = stage_ids[1 : target + 1] if target < 5 else [*stage_ids[1 : rng.randint(1, 4)], stage_ids[5]]
    for stage_id in path:
        move_deal(session, deal.id, stage_id, actor=Actor.user(owner.id))
    _backdate(session, deal.id, _times(rng, opened, len(path) + 1))
    if deal.status == "lost":
        deal.lost_reason = str(rng.choice(LOST_REASONS))
    organization = session.get(Organization, deal.organization_id) if deal.organization_id else None
    if organization is not None and not organization.address:
        organization.address = _("%(number)s Market Street, Springfield", number=10 + number)
    return deal.id


def _records(session: Session, rng: random.Random, deal_id: int, users: list[User], number: int) -> None:
    """Notes (some mentioning a colleague), a past call, and for open deals a next activity: overdue, today,
    upcoming or none (so the board shows every state)."""
    deal = session.get(Deal, deal_id)
    assert deal is not None
    owner = session.get(User, deal.responsible_id) if deal.responsible_id else users[0]
    assert owner is not None
    person = session.get(Person, deal.person_id) if deal.person_id else None
    org = session.get(Organization, deal.organization_id) if deal.organization_id else None
    words = {"person": person.name if person else _("the client"), "company": org.name if org else _("the client"),
             "colleague": users[(number + 1) % len(users)].email, "number": number}
    actor = Actor.user(owner.id)
    if number % 3 != 2:
        add_note(session, deal.id, str(NOTES[number % len(NOTES)]).format(**words), actor=actor)
    today = clock.now().date()
    past = create_activity(session, {"type": "call", "subject": str(ACTIVITY_SUBJECTS[0][1]).format(**words),
                                     "due_date": today - timedelta(days=rng.randint(3, 20)), "deal_id": deal.id,
                                     "assignee_id": owner.id}, actor=actor)
    update_activity(session, past.id, {"done": True}, actor=actor)
    offset = [-3, -1, 0, 2, 5, None][number % 6]
    if deal.status == "open" and offset is not None:
        kind, subject = ACTIVITY_SUBJECTS[number % len(ACTIVITY_SUBJECTS)]
        create_activity(session, {"type": kind, "subject": str(subject).format(**words),
                                  "due_date": today + timedelta(days=offset),
                                  "due_time": "10:30" if number % 2 else None, "deal_id": deal.id,
                                  "assignee_id": owner.id}, actor=actor)
    # Deals idle since their last move: some open ones rot on the board.
    deal.last_activity_at = deal.stage_entered_at if number % 4 == 0 else clock.now() - timedelta(hours=number)


def _times(rng: random.Random, start: datetime, count: int) -> list[datetime]:
    """Increasing moments from start to (at the latest) a few hours ago."""
    span = (clock.now() - timedelta(hours=2)) - start
    cuts = sorted(rng.uniform(0.05, 1.0) for _ in range(count - 1))
    return [start, *(start + span * c for c in cuts)]


def _backdate(session: Session, deal_id: int, times: list[datetime]) -> None:
    """Spread a freshly made history (created, then each move) over the given moments."""
    entries = list(session.scalars(select(StageEntry).where(StageEntry.deal_id == deal_id).order_by(StageEntry.id)))
    rows = list(session.scalars(select(TimelineEntry).where(
        TimelineEntry.deal_id == deal_id, TimelineEntry.kind.in_(("created", "stage_changed"))
    ).order_by(TimelineEntry.id)))
    assert len(entries) == len(rows) == len(times)
    for i, (entry, row) in enumerate(zip(entries, rows, strict=True)):
        entry.entered_at = row.at = times[i]
        entry.left_at = times[i + 1] if i + 1 < len(times) else None
    deal = session.get(Deal, deal_id)
    assert deal is not None
    deal.created_at, deal.stage_entered_at, deal.updated_at = times[0], times[-1], times[-1]
    session.flush()
