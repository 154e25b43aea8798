"""The `kanban` command: serve, worker, migrate, create-user, token, demo."""

from __future__ import annotations

import sys

import click

from kanban.config import load_settings
from kanban.errors import KanbanError


def _runtime():  # type: ignore[no-untyped-def]
    from kanban.bootstrap import bootstrap

    return bootstrap(load_settings())


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
@click.option("--role", type=click.Choice(["admin", "rep"]), default="rep", show_default=True)
@click.option("--password", default=None)
@click.option("--phone", default=None)
@click.option("--department", default=None)
def create_user_cmd(email: str, name: str, role: str, password: str | None, phone: str | None,
                    department: str | None) -> None:
    """Create a user."""
    from kanban.services.users import create_user

    runtime = _runtime()
    try:
        with runtime.sessions() as session, session.begin():
            user = create_user(session, email=email, name=name, role=role, password=password, phone=phone,
                               department=department)
            click.echo(f"created user {user.id} <{user.email}> ({user.role})")
    except KanbanError as exc:
        _fail(exc)


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--email", required=True)
@click.option("--name", default="cli")
def token_create(email: str, name: str) -> None:
    """Create an API token for a user and print it (one line)."""
    from kanban.services.users import create_token

    runtime = _runtime()
    try:
        with runtime.sessions() as session, session.begin():
            click.echo(create_token(session, email, name))
    except KanbanError as exc:
        _fail(exc)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="web processes (PostgreSQL only)")
def serve(host: str, port: int, workers: int) -> None:
    """Run the web app (embedded mode: migrates, runs the worker in-process, seeds demo data)."""
    import uvicorn

    settings = load_settings()
    if settings.is_sqlite:
        from kanban.migrate import upgrade

        upgrade(settings.db_url)
        workers = 1
    if settings.demo:
        from kanban.demo import seed_demo

        runtime = _runtime()
        with runtime.sessions() as session, session.begin():
            created = seed_demo(session)
        if created:
            click.echo("demo data created: log in as admin@demo.local / demo-admin")
        runtime.engine.dispose()
    click.echo(f"Kanban CRM on http://{host}:{port}/ ({'embedded' if settings.is_sqlite else 'PostgreSQL'})")
    uvicorn.run("kanban.asgi:app", host=host, port=port, workers=workers, factory=False,
                log_level="info", proxy_headers=True)


@main.command()
def demo() -> None:
    """Seed demo data (idempotent)."""
    from kanban.demo import seed_demo

    runtime = _runtime()
    with runtime.sessions() as session, session.begin():
        created = seed_demo(session)
    click.echo("demo data created" if created else "demo data already present")


if __name__ == "__main__":
    main()
