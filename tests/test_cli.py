"""The `kanban` command: migrate, create-user, token create, demo (and the demo data itself)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from click.testing import CliRunner
from sqlalchemy import func, inspect, select

from kanban.cli import main
from kanban.demo import seed_demo
from kanban.models import ApiToken, Deal, Department, Person, Pipeline, StageEntry, TimelineEntry, User
from kanban.security import verify_password


@pytest.fixture
def cli(runtime, tmp_path):
    """Invoke the CLI against the test database."""
    env = {"DATABASE_URL": runtime.settings.database_url, "KANBAN_SECRET_KEY": "test-secret-key",
           "KANBAN_DATA_DIR": str(tmp_path), "REDIS_URL": None}

    def run(*args: str, extra_env: dict | None = None):
        return CliRunner().invoke(main, list(args), env={**env, **(extra_env or {})}, catch_exceptions=False)

    return run


def test_create_user_and_token(cli, runtime, app):
    from starlette.testclient import TestClient

    result = cli("create-user", "--email", "Nia@Example.com", "--name", "Nia", "--role", "admin",
                 "--password", "long-password", "--phone", "+1555", "--department", "Ops")
    assert result.exit_code == 0, result.output
    assert "nia@example.com" in result.output
    token = cli("token", "create", "--email", "nia@example.com")
    assert token.exit_code == 0
    assert re.fullmatch(r"kb_[A-Za-z0-9_-]{20,}\n", token.stdout)
    with runtime.sessions() as s:
        user = s.scalars(select(User).where(User.email == "nia@example.com")).one()
        assert user.role == "admin" and user.phone == "+1555" and verify_password(user.password_hash, "long-password")
        assert s.get(Department, user.department_id).name == "Ops"
        assert s.scalar(select(func.count()).select_from(ApiToken)) == 1
    me = TestClient(app).get("/api/v1/me", headers={"Authorization": f"Bearer {token.stdout.strip()}"})
    assert me.status_code == 200 and me.json()["email"] == "nia@example.com"


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "boss"], "role: role is admin or rep"),
    (["--password", "short"], "password: password is at least 8 characters"),
    (["--email", "not-an-email"], "email: not a valid email address"),
    (["--name", "n" * 201], "name: name is at most 200 characters"),
    (["--phone", "1" * 41], "phone: phone is at most 40 characters"),
    (["--department", "d" * 201], "department: department is at most 200 characters"),
])
def test_create_user_errors_are_clear(cli, args, message):
    base = {"--email": "x@example.com", "--name": "X"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    result = cli("create-user", *[part for pair in base.items() for part in pair])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""


def test_duplicate_user_and_unknown_token_email_exit_1(cli):
    assert cli("create-user", "--email", "a@example.com", "--name", "A").exit_code == 0
    again = cli("create-user", "--email", "A@example.com", "--name", "A")
    assert again.exit_code == 1 and "a user with this email exists" in again.stderr
    missing = cli("token", "create", "--email", "nobody@example.com")
    assert missing.exit_code == 1 and "no user with email" in missing.stderr and missing.stdout == ""


def test_commands_on_a_fresh_sqlite_file_migrate_first(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {"DATABASE_URL": url, "KANBAN_SECRET_KEY": "k", "KANBAN_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    made = runner.invoke(main, ["create-user", "--email", "a@example.com", "--name", "A"], env=env)
    assert made.exit_code == 0, made.output
    migrated = runner.invoke(main, ["migrate"], env=env)
    assert migrated.exit_code == 0 and "up to date" in migrated.output
    from sqlalchemy import create_engine

    engine = create_engine(url)
    assert {"users", "deals", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_demo_command_is_idempotent(cli, runtime):
    first = cli("demo")
    assert first.exit_code == 0 and "demo data created" in first.output
    second = cli("demo")
    assert second.exit_code == 0 and "already present" in second.output
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Deal)) == 40
        assert s.scalar(select(func.count()).select_from(Pipeline)) == 1


def test_demo_data_is_realistic(runtime):
    with runtime.sessions() as s, s.begin():
        assert seed_demo(s) is True
    with runtime.sessions() as s, s.begin():
        assert seed_demo(s) is False
    with runtime.sessions() as s:
        admin = s.scalars(select(User).where(User.email == "admin@demo.local")).one()
        assert admin.role == "admin" and verify_password(admin.password_hash, "demo-admin")
        reps = s.scalars(select(User).where(User.role == "rep")).all()
        assert len(reps) >= 4 and all(verify_password(u.password_hash, "demo-rep") for u in reps)
        assert all(u.phone for u in [admin, *reps])
        departments = s.scalars(select(Department)).all()
        assert len(departments) == 2 and all(d.head_id for d in departments)
        assert {u.department_id for u in reps} == {d.id for d in departments}
        [pipeline] = s.scalars(select(Pipeline)).all()
        assert [(st.name, st.kind) for st in pipeline.stages] == [
            ("New lead", "open"), ("Qualified", "open"), ("Proposal", "open"), ("Invoice", "open"),
            ("Paid", "won"), ("Lost", "lost")]
        deals = s.scalars(select(Deal)).all()
        assert len(deals) == 40
        per_stage = Counter(d.stage_id for d in deals)
        assert set(per_stage) == {st.id for st in pipeline.stages}
        assert len({d.responsible_id for d in deals}) >= 4
        assert len({d.stage_entered_at.date() for d in deals}) >= 10
        assert any(d.tags for d in deals) and len({d.currency for d in deals}) == 2
        assert all(d.amount > 0 and d.created_at <= d.stage_entered_at for d in deals)
        assert all(c.email and "@" in c.email for c in s.scalars(select(Person)))
        for deal in deals:
            entries = s.scalars(select(StageEntry).where(StageEntry.deal_id == deal.id).order_by(StageEntry.id)).all()
            assert entries[-1].stage_id == deal.stage_id and entries[-1].entered_at == deal.stage_entered_at
            assert [e.entered_at for e in entries] == sorted(e.entered_at for e in entries)
            assert all(e.left_at == n.entered_at for e, n in zip(entries, entries[1:], strict=False))
            kinds = s.scalars(select(TimelineEntry.kind).where(TimelineEntry.deal_id == deal.id)
                              .order_by(TimelineEntry.id)).all()
            assert kinds[0] == "created" and kinds.count("stage_changed") == len(entries) - 1


def test_demo_runs_extra_seeds(runtime, monkeypatch):
    from kanban import demo

    seen = []
    monkeypatch.setattr(demo, "EXTRA_SEEDS", [lambda s: seen.append(demo.demo_pipeline(s).name)])
    with runtime.sessions() as s, s.begin():
        seed_demo(s)
    assert seen == ["Sales"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_serve_with_demo_seeds_on_first_start(tmp_path):
    import os
    import subprocess
    import sys
    import time

    import httpx

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(KANBAN_DATA_DIR=str(tmp_path), KANBAN_DEMO="1", KANBAN_SECRET_KEY="k", PYTHONUNBUFFERED="1")
    server = subprocess.Popen([sys.executable, "-m", "kanban.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        with httpx.Client(base_url=base) as web:
            page = web.get("/login")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            response = web.post("/login", data={"email": "admin@demo.local", "password": "demo-admin",
                                                "csrf_token": token, "next": "/"})
            assert response.status_code == 303
            board = web.get("/board")
            assert board.status_code == 200 and "New lead" in board.text
        # The embedded worker runs the demo robots, and their links point at this server.
        token = subprocess.run([sys.executable, "-m", "kanban.cli", "token", "create", "--email", "admin@demo.local"],
                               env=env, capture_output=True, text=True, check=True).stdout.strip()
        with httpx.Client(base_url=base + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as api:
            stages = {st["name"]: st["id"] for st in api.get("/pipelines").json()["items"][0]["stages"]}
            deal = api.get("/deals", params={"stage_id": stages["Proposal"], "limit": 1}).json()["items"][0]
            assert api.post(f"/deals/{deal['id']}/move", json={"stage_id": stages["Invoice"]}).status_code == 200
            invoices: list = []
            while time.monotonic() < deadline and not invoices:
                invoices = api.get("/invoices", params={"deal_id": deal["id"]}).json()["items"]
                time.sleep(0.2)
            assert invoices and invoices[0]["url"].startswith(base + "/pay/")
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "demo data created" in output
