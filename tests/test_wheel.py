"""`pip install .` ships what the app needs: the wheel holds templates, migrations and static files, and works."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from this checkout with the project's build backend."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)], cwd=ROOT,
                   check=True, capture_output=True, timeout=120)
    [built] = out.glob("kanban_crm-*.whl")
    return built


def test_wheel_contains_resources_and_entry_point(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "kanban/_data/templates/base.html",
        "kanban/_data/templates/login.html",
        "kanban/_data/migrations/env.py",
        "kanban/_data/migrations/script.py.mako",
        "kanban/_data/migrations/versions/0001_initial.py",
        "kanban/web/static/app.js",
        "kanban/web/static/app.css",
        "kanban/cli.py",
        "robots/registry.py",
        "triggers/models.py",
        "kanban/locale/fr/LC_MESSAGES/messages.po",
        "kanban/locale/it/LC_MESSAGES/messages.po",
    }
    assert expected <= names
    for folder in ("templates", "migrations/versions"):
        source = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).glob("*") if p.is_file()
                  and "__pycache__" not in p.parts and p.suffix != ".pyc"}
        assert {f"kanban/_data/{s}" for s in source} <= names
    static = {p.relative_to(ROOT).as_posix() for p in (ROOT / "kanban/web/static").rglob("*") if p.is_file()}
    assert static <= names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "kanban = kanban.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.mark.slow
def test_unpacked_wheel_runs_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PYTHONPATH")}
    env.update(PYTHONPATH=str(site), KANBAN_DATA_DIR=str(work), KANBAN_SECRET_KEY="k")

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, *args], cwd=work, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = run("-c", "import kanban.paths as p; print(p.resource('templates')); print(p.resource('migrations'));"
                      "print(p.STATIC_DIR)").split()
    assert all(Path(w).is_relative_to(site) and Path(w).is_dir() for w in where)
    assert "up to date" in run("-m", "kanban.cli", "migrate")
    run("-m", "kanban.cli", "create-user", "--email", "w@example.com", "--name", "W", "--role", "admin")
    token = run("-m", "kanban.cli", "token", "create", "--email", "w@example.com")
    assert token.startswith("kb_") and token.count("\n") == 1
    page = run("-c", "from starlette.testclient import TestClient\n"
                     "from kanban.asgi import app\n"
                     "c = TestClient(app)\n"
                     "print(c.get('/login').status_code, c.get('/static/app.js').status_code,"
                     " c.get('/api/v1/me', headers={'Authorization': 'Bearer " + token.strip() + "'}).status_code)")
    assert page.split() == ["200", "200", "200"]
