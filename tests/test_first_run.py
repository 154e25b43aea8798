"""First run: the demo has history made by its own robots, the README names every demo login, and the
README's test command never touches the demo's virtualenv."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from kanban.demo import PEOPLE, REP_PASSWORD, play_history, seed_demo
from kanban.models import ChatMessage, EmailMessage, FeedPost, Invoice, Notification, SmsMessage, TimelineEntry
from robots.models import RobotRun
from tests.test_cli import cli  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parent.parent


def _count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_demo_history_is_made_by_running_its_robots(runtime):
    with runtime.sessions() as s, s.begin():
        assert seed_demo(s) is True
    play_history(runtime)
    with runtime.sessions() as s:
        runs = list(s.scalars(select(RobotRun)))
        assert runs and {r.status for r in runs} <= {"done", "scheduled"}, [(r.robot_key, r.error) for r in runs]
        # Stage robots: 3 Paid + 4 Invoice + 1 Proposal + 2 Qualified (the demo's automations run beside them).
        assert _count(s, RobotRun, RobotRun.status == "done", RobotRun.stage_entry_id.is_not(None)) == 10
        # The proposal and the invoice (stage robots), and the "Quote sent" automation's email.
        assert _count(s, EmailMessage, EmailMessage.kind == "client") == 3
        assert _count(s, Invoice) == 1 and _count(s, SmsMessage) == 1 and _count(s, FeedPost) == 1
        assert _count(s, TimelineEntry, TimelineEntry.kind == "comment") >= 1
        texts = [m.text for m in s.scalars(select(ChatMessage).order_by(ChatMessage.id))]
        assert len(texts) == 2 and "@admin@demo.local" in texts[1]  # the robot's kick-off, then a reply
        notes = [n.text for n in s.scalars(select(Notification))]
        assert any("mentioned you" in t for t in notes) and any("was paid for" in t for t in notes)


def test_cli_demo_plays_the_history(cli, runtime):  # noqa: F811
    assert cli("demo").exit_code == 0
    with runtime.sessions() as s:
        assert _count(s, RobotRun, RobotRun.status == "done", RobotRun.stage_entry_id.is_not(None)) == 10
        assert _count(s, RobotRun, RobotRun.status == "failed") == 0


def test_readme_lists_every_demo_login():
    readme = (ROOT / "README.md").read_text()
    for email, *_ in PEOPLE:
        assert f"`{email}`" in readme
    assert f"`{REP_PASSWORD}`" in readme


def test_test_script_uses_its_own_virtualenv():
    script = (ROOT / "scripts" / "test").read_text()
    venv = re.search(r"^VENV=\$\{KANBAN_TEST_VENV:-([^}]+)\}$", script, re.MULTILINE)
    assert venv and venv.group(1) == ".venv-test"  # never the demo's .venv
    assert "pip install -q -e" in script
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()
