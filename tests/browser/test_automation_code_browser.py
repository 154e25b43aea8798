"""Automation as code in real Chromium: export → edit → import dry-run diff → apply; restore an old version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kanban.services.pipelines import create_pipeline
from robots import config
from robots.models import Robot
from tests.browser.conftest import browser_login
from tests.conftest import make_user

pytestmark = pytest.mark.browser


def _text(runtime: Any, robot_id: int) -> str:
    with runtime.sessions() as s:
        return s.get(Robot, robot_id).settings["text"]


def test_export_edit_import_apply_and_restore(browser: Any, live_server: str, live_runtime: Any,
                                              tmp_path: Path) -> None:
    make_user(live_runtime, "admin@example.com", "admin", "Ada Admin")
    with live_runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Sales", [{"name": "New"}, {"name": "Quote"}, {"name": "Won", "kind": "won"}])
        pipeline_id = pipeline.id
        robot = config.create_robot(s, pipeline.stages[1].id, {"kind": "add_comment", "key": "hello",
                                                               "settings": {"text": "Quote sent"}}).robot.id
    page = browser.new_page()
    browser_login(page, live_server, "admin@example.com")
    page.goto(f"{live_server}/automation?pipeline_id={pipeline_id}")
    with page.expect_navigation():
        page.click("a.automation-code-link")
    with page.expect_download() as download:
        page.click("text=Download YAML")
    doc = yaml.safe_load(Path(download.value.path()).read_text())
    assert doc["stages"][1]["robots"][0]["settings"]["text"] == "Quote sent"
    doc["stages"][1]["robots"][0]["settings"]["text"] = "Quote sent to {{ deal.title }}"
    edited = tmp_path / "sales.yaml"
    edited.write_text(yaml.safe_dump(doc))
    page.set_input_files("input[name=file]", str(edited))
    with page.expect_navigation():
        page.click(".code-upload button")
    diff = page.inner_text(".code-diff")
    assert "Changed" in diff and "hello" in diff and "settings.text" in diff, diff
    assert "Quote sent to {{ deal.title }}" in diff
    assert _text(live_runtime, robot) == "Quote sent"  # the dry run changed nothing
    with page.expect_navigation():
        page.click("text=Apply these changes")
    assert "Applied" in page.inner_text(".flash")
    assert _text(live_runtime, robot) == "Quote sent to {{ deal.title }}"
    rows = page.locator("tr[data-version]")
    assert rows.count() == 3  # baseline (empty), the robot added, the import
    assert "ui import" in rows.nth(0).inner_text()
    with page.expect_navigation():
        page.click("tr[data-version='2'] a")
    assert "Added" in page.inner_text(".code-diff")
    with page.expect_navigation():
        page.click("text=Restore this version")
    assert "Version 2 restored" in page.inner_text(".flash")
    assert _text(live_runtime, robot) == "Quote sent"
    assert "restore of v2" in page.locator("tr[data-version]").nth(0).inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "code-390.png"), full_page=True)
