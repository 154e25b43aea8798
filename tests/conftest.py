"""Fixtures: real SQLite and PostgreSQL databases built by the migrations, a runtime, clients, users."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

import kanban.inbox  # noqa: F401  (its tables are emptied too)
from kanban.bootstrap import Runtime, bootstrap
from kanban.config import load_settings
from kanban.db import make_engine
from kanban.migrate import upgrade
from kanban.models import Base
from kanban.security import use_cheap_hashing

# Thousands of test users: hash their passwords cheaply (login and verification code paths stay the same).
use_cheap_hashing()

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("KANBAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("KANBAN_TEST_REDIS", "redis://127.0.0.1:6379/15")
BACKENDS = [b for b in os.environ.get("KANBAN_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


@pytest.fixture(autouse=True)
def _fresh_language() -> Iterator[None]:
    """Each test starts with no request language and no company settings copied from an earlier test."""
    from kanban import company, i18n

    i18n._current.set(None)
    company.forget()
    yield
    i18n._current.set(None)
    company.forget()


def service_missing(what: str, exc: BaseException | None = None) -> None:
    """Skip locally when a service is absent; on CI a missing service is a failure."""
    message = f"{what} is not reachable: {exc}"
    if CI:
        pytest.fail(message + " (CI must not skip service tests)")
    pytest.skip(message)


def _pg_server() -> Engine | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return engine
    except Exception as exc:  # noqa: BLE001 - any connection failure means "absent"
        service_missing("PostgreSQL", exc)
    return None


@pytest.fixture(scope="session")
def postgresql_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, built by the migrations."""
    server = _pg_server()
    assert server is not None
    name = f"kanban_test_{uuid.uuid4().hex[:10]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file for this test session, built by the migrations."""
    path = tmp_path_factory.mktemp("db") / "kanban.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file built by the migrations once per test process; each test gets a copy of it."""
    path = tmp_path_factory.mktemp("template") / "kanban.db"
    upgrade(f"sqlite:///{path}")
    return path


def _sqlite_copy(template: Path, target: Path) -> str:
    """A private copy of the migrated SQLite database (the backup API: consistent whatever the journal mode).
    A test's leftover thread or connection can then never hold the next test's database locked."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source, copy = sqlite3.connect(template), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return f"sqlite:///{target}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database-backed test runs on SQLite (its own copy of a migrated file) and on PostgreSQL."""
    if request.param == "sqlite":
        return _sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path / "sqlite-db" / "kanban.db")
    return request.getfixturevalue(f"{request.param}_database_url")


def _truncate(engine: Engine) -> None:
    tables = [t.name for t in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            for t in reversed(tables):
                conn.execute(text(f'DELETE FROM "{t}"'))
            conn.execute(text("DELETE FROM sqlite_sequence")) if _has_sequence(conn) else None


def _has_sequence(conn: Any) -> bool:
    return bool(conn.execute(text("select 1 from sqlite_master where name='sqlite_sequence'")).first())


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    """Override to change settings for one test module (e.g. SMTP URL)."""
    return {}


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Iterator[Runtime]:
    """A runtime on a clean database (tables emptied before each test)."""
    overrides: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "KANBAN_SECRET_KEY": "test-secret-key",
        "KANBAN_DATA_DIR": str(tmp_path),
        "KANBAN_PUBLIC_URL": "http://testserver",
        # The suite runs with the built-in demo pay page unless a module configures another provider.
        "KANBAN_PAYMENT_PROVIDER": "demo",
    }
    overrides.update(settings_overrides)
    settings = load_settings(**overrides)
    engine = make_engine(database_url)
    _truncate(engine)
    rt = bootstrap(settings, engine=engine)
    yield rt
    for fn in reversed(rt.shutdown):
        fn()
    engine.dispose()


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Any]:
    """A session for arranging and asserting (commit explicitly)."""
    with runtime.sessions() as s:
        yield s


def make_user(runtime: Runtime, email: str, role: str = "rep", name: str | None = None,
              password: str = "password123", department: str | None = None, phone: str | None = None) -> Any:
    """Create a user in its own transaction."""
    from kanban.services.users import create_user

    with runtime.sessions() as s, s.begin():
        return create_user(s, email=email, name=name or email.split("@")[0].title(), role=role,
                           password=password, department=department, phone=phone)


@pytest.fixture
def admin(runtime: Runtime) -> Any:
    return make_user(runtime, "admin@example.com", "admin", "Ada Admin", department="Sales")


@pytest.fixture
def rep(runtime: Runtime) -> Any:
    return make_user(runtime, "rep@example.com", "rep", "Rex Rep", department="Sales", phone="+15550001")


def token_for(runtime: Runtime, email: str) -> str:
    from kanban.services.users import create_token

    with runtime.sessions() as s, s.begin():
        return create_token(s, email)


@pytest.fixture
def app(runtime: Runtime) -> Any:
    from kanban.web.app import create_app

    return create_app(runtime)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    """An HTTP client against the app (lifespan runs: embedded worker on)."""
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def admin_api(client: Any, runtime: Runtime, admin: Any) -> Any:
    """The client with an admin's bearer token."""
    client.headers["Authorization"] = f"Bearer {token_for(runtime, admin.email)}"
    return client


@pytest.fixture
def rep_api(client: Any, runtime: Runtime, rep: Any) -> Any:
    """The client with a rep's bearer token."""
    client.headers["Authorization"] = f"Bearer {token_for(runtime, rep.email)}"
    return client


def login(client: Any, email: str, password: str = "password123") -> None:
    """Log a TestClient in through the real login form."""
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token,
                                           "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text


def csrf_of(client: Any, path: str = "/board") -> str:
    """The CSRF token of the client's session (read from a page's meta tag)."""
    page = client.get(path)
    return page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


@pytest.fixture
def pipeline(runtime: Runtime) -> Any:
    """A sales pipeline: New, Qualified, Proposal, Invoice, Won, Lost."""
    from kanban.services.pipelines import create_pipeline

    with runtime.sessions() as s, s.begin():
        p = create_pipeline(s, "Sales", [
            {"name": "New"}, {"name": "Qualified"}, {"name": "Proposal"}, {"name": "Invoice"},
            {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"},
        ])
        _ = [st.id for st in p.stages]
        return p


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Any]:
    """A private redis-server (skipped locally, failed on CI, when the binary is missing)."""
    import subprocess

    from tests.private_redis import PrivateRedis

    try:
        subprocess.run(["redis-server", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        service_missing("redis-server binary", exc)
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()
