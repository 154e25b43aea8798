"""The `kanban` command: serve, worker, migrate, create-user, token, import, demo."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from kanban.config import load_settings
from kanban.errors import KanbanError


def _runtime():  # type: ignore[no-untyped-def]
    from kanban.bootstrap import bootstrap

    return bootstrap(load_settings())


@contextmanager
def _command_runtime() -> Iterator[Any]:
    """A runtime built for this command (embedded SQLite is migrated first), disposed at the end."""
    settings = load_settings()
    if settings.is_sqlite:
        from kanban.migrate import upgrade

        # Embedded mode needs no separate `kanban migrate`, whichever command runs first.
        upgrade(settings.db_url)
    runtime = _runtime()
    try:
        yield runtime
    except (OperationalError, ProgrammingError) as exc:
        click.echo(f"error: database unavailable or not migrated (run `kanban migrate`): {exc.orig}", err=True)
        sys.exit(1)
    finally:
        runtime.engine.dispose()


@contextmanager
def _transaction() -> Iterator[Session]:
    """A session in one transaction on a runtime built for this command."""
    with _command_runtime() as runtime, runtime.sessions() as session, session.begin():
        yield session


def _fail(exc: KanbanError) -> None:
    details = "".join(f"\n  {k}: {v}" for k, v in exc.fields.items())
    click.echo(f"error: {exc.message}{details}", err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """Kanban CRM with per-stage robots and triggers."""


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    from kanban.migrate import upgrade

    settings = load_settings()
    upgrade(settings.db_url)
    click.echo("database is up to date")


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", default="rep", show_default=True, help="admin, supervisor or rep")
@click.option("--password", default=None)
@click.option("--phone", default=None)
@click.option("--department", default=None)
def create_user_cmd(email: str, name: str, role: str, password: str | None, phone: str | None,
                    department: str | None) -> None:
    """Create a user; without --password the password is asked for (or read from stdin when piped)."""
    from kanban.services.users import create_user

    password = _password_of(password)
    try:
        with _transaction() as session:
            user = create_user(session, email=email, name=name, role=role, password=password, phone=phone,
                               department=department)
            line = f"created user {user.id} <{user.email}> ({user.role})"
    except KanbanError as exc:
        _fail(exc)
    click.echo(line)


def _password_of(given: str | None) -> str | None:
    """--password (with a warning: it shows in the process list), else a prompt, else stdin's first line."""
    if given is not None:
        click.echo("warning: --password is visible to other users in the process list; omit it to be asked "
                   "for the password, or pipe it on standard input", err=True)
        return given
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))
    line = sys.stdin.readline().rstrip("\r\n")
    return line or None


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--email", required=True)
@click.option("--name", default="cli")
@click.option("--expires-days", type=int, default=None, help="days until the token stops working (default: never)")
def token_create(email: str, name: str, expires_days: int | None) -> None:
    """Create an API token for a user and print it (one line)."""
    from kanban.services.users import create_token

    try:
        with _transaction() as session:
            token_value = create_token(session, email, name, expires_days)
    except KanbanError as exc:
        _fail(exc)
    # Printed only after the commit, so a printed token always works.
    click.echo(token_value)


@token.command("revoke")
@click.argument("token_id", type=click.IntRange(1, 2**31 - 1))
def token_revoke(token_id: int) -> None:
    """Revoke (delete) an API token by its id (see GET /api/v1/tokens)."""
    from kanban.services.users import revoke_token

    try:
        with _transaction() as session:
            revoke_token(session, token_id)
    except KanbanError as exc:
        _fail(exc)
    click.echo(f"revoked token {token_id}")


def proxy_options(trusted: str) -> dict[str, object]:
    """uvicorn's proxy settings: X-Forwarded-For/-Proto are honoured only from KANBAN_TRUSTED_PROXIES (none by
    default, so a client cannot pick its own address past the rate limits)."""
    addresses = [a.strip() for a in trusted.split(",") if a.strip()]
    return {"proxy_headers": bool(addresses), "forwarded_allow_ips": addresses or ""}


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="web processes (PostgreSQL only)")
def serve(host: str, port: int, workers: int) -> None:
    """Run the web app (embedded mode: migrates, runs the worker in-process, seeds demo data)."""
    import uvicorn

    if not os.environ.get("KANBAN_PUBLIC_URL"):
        # Links in emails and pay pages must point at this server unless a public URL is configured.
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        os.environ["KANBAN_PUBLIC_URL"] = f"http://{shown}:{port}"
    settings = load_settings()
    if settings.is_sqlite:
        from kanban.migrate import upgrade

        upgrade(settings.db_url)
        workers = 1
    if settings.demo and _seed_demo():
        click.echo("demo data created: log in as admin@demo.local / demo-admin (reps: demo-rep, see README)")
    click.echo(f"Kanban CRM on http://{host}:{port}/ ({'embedded' if settings.is_sqlite else 'PostgreSQL'})")
    uvicorn.run("kanban.asgi:app", host=host, port=port, workers=workers, factory=False,
                log_level="info", **proxy_options(settings.trusted_proxies))  # type: ignore[arg-type]


@main.command()
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64), help="worker processes")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="threads per process")
@click.option("--requeue-after", default=30.0, show_default=True, type=click.FloatRange(0.5),
              help="seconds before a due robot run whose message was lost is sent again")
def worker(processes: int, threads: int, requeue_after: float) -> None:
    """Run Dramatiq workers and the robot dispatcher against REDIS_URL until SIGTERM."""
    from kanban.worker import run

    sys.exit(run(load_settings(), processes=processes, threads=threads, requeue_after=requeue_after))


@main.command("import")
@click.argument("entity", type=click.Choice(["persons", "organizations", "deals"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--pipeline", default=None, help="pipeline name (deals)")
@click.option("--mapping", default=None, help='JSON {"CSV column": "field"} (default: columns named like fields)')
@click.option("--dry-run", is_flag=True, help="check every row and report; import nothing")
def import_cmd(entity: str, file: str, pipeline: str | None, mapping: str | None, dry_run: bool) -> None:
    """Import a CSV of persons, organizations or deals (no robots, triggers or automations fire)."""
    import json

    from kanban.imports import import_csv, pipeline_named

    try:
        columns = json.loads(mapping) if mapping else None
    except json.JSONDecodeError as exc:
        click.echo(f"error: --mapping is not JSON: {exc}", err=True)
        sys.exit(2)
    try:
        with _transaction() as session, open(file, encoding="utf-8-sig", newline="") as lines:
            pipeline_id = pipeline_named(session, pipeline) if pipeline else None
            result = import_csv(session, entity, lines, mapping=columns, pipeline_id=pipeline_id, dry_run=dry_run)
    except KanbanError as exc:
        _fail(exc)
    verb = "would import" if dry_run else "imported"
    click.echo(f"{verb}: {result.created} created, {result.updated} updated, {result.skipped} skipped")
    for error in result.errors:
        click.echo(f"  row {error['row']}, {error['field']}: {error['message']}")
    if result.errors:
        sys.exit(1)


@main.group()
def automation() -> None:
    """A pipeline's robots, triggers and automations as a YAML/JSON document."""


@automation.command("export")
@click.argument("pipeline")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default=None,
              help="default: from the file name (.json), else yaml")
def automation_export(pipeline: str, file: str, fmt: str | None) -> None:
    """Write PIPELINE's (id or name) automation to FILE (- for standard output)."""
    from kanban import automation_code

    fmt = fmt or ("json" if file.endswith(".json") else "yaml")
    try:
        with _transaction() as session:
            text = automation_code.dump(automation_code.export_document(
                session, automation_code.pipeline_id_of(session, pipeline)), fmt)
    except KanbanError as exc:
        _fail(exc)
    with click.open_file(file, "w", encoding="utf-8") as out:
        out.write(text)


@automation.command("import")
@click.argument("pipeline")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="only print what would change")
def automation_import(pipeline: str, file: str, dry_run: bool) -> None:
    """Make PIPELINE's automation what FILE (YAML or JSON, - for standard input) says, in one transaction."""
    from kanban import automation_code

    with click.open_file(file, "r", encoding="utf-8") as src:
        text = src.read()
    try:
        with _transaction() as session:
            session.info["via"] = "cli"
            changes = automation_code.import_document(session, automation_code.pipeline_id_of(session, pipeline),
                                                      automation_code.parse(text), dry_run=dry_run,
                                                      source="cli import")
    except KanbanError as exc:
        _fail(exc)
    for line in automation_code.summary(changes).split("; "):
        click.echo(line)
    click.echo("dry run: nothing was changed" if dry_run else "applied")


@main.command()
def demo() -> None:
    """Seed demo data (idempotent)."""
    # The demo's history runs its payment-link robots: this command is demo mode (the built-in pay page).
    os.environ.setdefault("KANBAN_DEMO", "1")
    click.echo("demo data created: log in as admin@demo.local / demo-admin (reps: demo-rep, see README)"
               if _seed_demo() else "demo data already present")


def _seed_demo() -> bool:
    """Seed the demo data, then give it history by running its robots; True when it was created now."""
    from kanban.demo import play_history, seed_demo

    with _command_runtime() as runtime:
        with runtime.sessions() as session, session.begin():
            created = seed_demo(session)
        if created:
            play_history(runtime)
    return created


if __name__ == "__main__":
    main()
