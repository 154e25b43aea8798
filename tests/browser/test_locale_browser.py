"""Company settings in real Chromium: an admin sets French, Europe/Paris and EUR, enters a USD rate; the board then
shows French money and a converted column total; a rep in Europe/Rome picks their zone; the robot delay form."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kanban.events import Actor
from kanban.services.deals import create_deal
from kanban.services.pipelines import create_pipeline
from tests.browser.conftest import browser_login
from tests.conftest import make_user

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("KANBAN_SCREENSHOTS")  # a directory: also save screenshots there (for looking at the UI)


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def crm(live_runtime: Any) -> dict[str, Any]:
    rep = make_user(live_runtime, "rep@example.com", "rep", "Rex Rep")
    admin = make_user(live_runtime, "admin@example.com", "admin", "Ada Admin")
    with live_runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Sales", [{"name": "New"}, {"name": "Qualified"}])
        for title, amount, currency in (("Paris offices", 875000, "EUR"), ("Boston pilot", 1000000, "USD"),
                                        ("Osaka kiosk", 300000, "JPY")):
            create_deal(s, title=title, pipeline_id=pipeline.id, actor=Actor.user(rep.id), amount=amount,
                        currency=currency, responsible_id=rep.id)
    return {"rep": rep, "admin": admin, "pipeline": pipeline.id}


@pytest.mark.parametrize("width", [1440, 390])
def test_admin_sets_french_paris_euro_and_rates(browser: Any, live_server: str, crm: dict[str, Any],
                                                width: int) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    browser_login(page, live_server, "admin@example.com")
    page.goto(f"{live_server}/admin/settings")
    page.select_option("select[name=language]", "fr")
    page.fill("input[name=time_zone]", "Europe/Paris")
    page.fill("form[action='/admin/settings'] input[name=currency]", "EUR")
    page.uncheck("input[name=business_days][value='5']")
    page.click("text=Save settings")
    page.wait_for_selector("text=Settings saved.")  # said in the language of the request that saved it
    assert page.get_attribute("html", "lang") == "fr"  # the company now speaks French, so does its admin
    assert page.input_value("input[name=time_zone]") == "Europe/Paris"
    assert not page.is_checked("input[name=business_days][value='5']")
    page.fill("form[action='/admin/exchange-rates'] input[name=currency]", "USD")
    page.fill("form[action='/admin/exchange-rates'] input[name=rate]", "0.92")
    page.click("text=Enregistrer le taux")
    page.wait_for_selector("text=1 USD = 0.92 EUR")
    _shot(page, f"settings-{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll

    page.goto(f"{live_server}/board?pipeline_id={crm['pipeline']}")
    column = page.locator(".column").first
    sums = column.locator(".sums").inner_text()
    assert "8\u202f750,00\u00a0€" in sums and "10\u202f000,00\u00a0$US" in sums and "300\u202f000\u00a0JPY" in sums
    # 8 750 € + 10 000 $ × 0.92 = 17 950 €; JPY has no rate.
    converted = column.locator(".converted").inner_text()
    assert "17\u202f950,00\u00a0€" in converted and "JPY" in converted
    _shot(page, f"board-{width}")
    page.close()


def test_rep_picks_their_zone_and_admin_sees_the_delay_form(browser: Any, live_server: str,
                                                            crm: dict[str, Any]) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    browser_login(page, live_server, "rep@example.com")
    page.goto(f"{live_server}/account/sessions")
    page.select_option("select[name=time_zone]", "Europe/Rome")
    page.click("form[action='/account/time-zone'] button")
    page.wait_for_selector("text=Time zone saved.")
    assert page.input_value("select[name=time_zone]") == "Europe/Rome"
    page.close()

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    browser_login(page, live_server, "admin@example.com")
    page.goto(f"{live_server}/automation?pipeline_id={crm['pipeline']}")
    href = page.locator("a.add-robot").first.get_attribute("href")
    page.goto(f"{live_server}{href}?kind=email_client")
    page.select_option("select[name=delay_type]", "business_days")
    assert page.is_visible("input[name=delay_days]") and page.is_visible("input[name=delay_time_zone]")
    assert "UTC" not in page.locator("fieldset.delay").inner_text()
    _shot(page, "robot-delay-1440")
    page.select_option("select[name=delay_type]", "now")
    assert not page.is_visible("input[name=delay_days]")
    page.close()
