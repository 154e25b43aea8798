"""Browser fixtures: a live uvicorn server on a free port (SQLite temp DB) and headless Debian Chromium."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kanban.bootstrap import Runtime, bootstrap
from kanban.config import load_settings
from kanban.db import make_engine
from tests.conftest import CI, _truncate

CHROMIUM = os.environ.get("KANBAN_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (skipped locally when missing; a failure on CI)."""
    if not Path(CHROMIUM).exists():
        if CI:
            pytest.fail(f"{CHROMIUM} is missing (CI must run the browser tests)")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def live_runtime(sqlite_database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on the (emptied) session SQLite database."""
    settings = load_settings(DATABASE_URL=sqlite_database_url, KANBAN_SECRET_KEY="browser-secret",
                             KANBAN_DATA_DIR=str(tmp_path), KANBAN_PUBLIC_URL="http://127.0.0.1",
                             KANBAN_PAYMENT_PROVIDER="demo")
    engine = make_engine(sqlite_database_url)
    _truncate(engine)
    runtime = bootstrap(settings, engine=engine)
    yield runtime
    engine.dispose()


@pytest.fixture
def live_server(live_runtime: Runtime) -> Iterator[str]:
    """The app served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    from kanban.web.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(live_runtime), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    live_runtime.extras["live"].close_all()  # open SSE streams would otherwise delay the shutdown
    server.should_exit = True
    thread.join(timeout=10)


def browser_login(page: Any, base: str, email: str, password: str = "password123") -> None:
    """Log a Playwright page in through the login form."""
    page.goto(f"{base}/login?next=/board")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/board*")


def drag(page: Any, source: str, target: str) -> None:
    """Drag with real mouse events in small steps (SortableJS fallback mode follows the pointer)."""
    box = page.locator(source).bounding_box()
    dest = page.locator(target).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 12)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 10, box["y"] + 20, steps=5)
    page.mouse.move(dest["x"] + dest["width"] / 2, dest["y"] + 20, steps=15)
    page.mouse.move(dest["x"] + dest["width"] / 2, dest["y"] + 24, steps=3)
    page.mouse.up()
