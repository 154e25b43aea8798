"""A French-speaking rep and an Italian-speaking admin in real Chromium: the login page follows the browser's
language, then each works in their own language (board, deal page, automation view, robot form)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kanban.events import Actor
from kanban.models import Deal, User
from kanban.services.deals import create_deal
from kanban.services.pipelines import create_pipeline
from robots.models import Robot
from tests.conftest import make_user

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("KANBAN_TEST_SCREENSHOTS")  # a folder: keep screenshots there for a human to look at


@pytest.fixture
def team(live_runtime: Any) -> dict[str, Any]:
    """A French rep, an Italian admin, a pipeline with French stage names and one deal."""
    rep = make_user(live_runtime, "rep@example.com", "rep", "Rémi Commercial")
    admin = make_user(live_runtime, "admin@example.com", "admin", "Ada Amministratrice")
    with live_runtime.sessions() as s, s.begin():
        s.get(User, rep.id).language = "fr"
        s.get(User, admin.id).language = "it"
        pipeline = create_pipeline(s, "Ventes", [{"name": "Nouveau"}, {"name": "Qualifié"}, {"name": "Proposition"}])
        deal = create_deal(s, title="Acme renouvellement", pipeline_id=pipeline.id, actor=Actor.user(rep.id),
                           amount=875_000, currency="EUR", responsible_id=rep.id,
                           contact={"name": "Alice Moreau", "company": "Acme"}).id
    return {"deal": deal, "stages": [st.id for st in pipeline.stages], "pipeline": pipeline.id}


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=False)


def login(page: Any, base: str, email: str, button: str) -> None:
    page.goto(f"{base}/login?next=/board")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "password123")
    page.click(f"button:text-is('{button}')")
    page.wait_for_url(f"{base}/board*")


@pytest.mark.parametrize("width", [1440, 390])
def test_a_french_rep_works_in_french(browser, live_server, live_runtime, team, width):
    context = browser.new_context(locale="fr-FR", viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    assert page.get_attribute("html", "lang") == "fr"  # before login: the browser's Accept-Language
    assert page.locator("button[type=submit]").inner_text().strip() == "Se connecter"
    login(page, live_server, "rep@example.com", "Se connecter")
    assert page.get_attribute("html", "lang") == "fr"
    card = page.locator(f"#deal-{team['deal']}")
    assert "Acme renouvellement" in card.inner_text()
    assert "aucune activité" in card.inner_text()
    shot(page, f"board-fr-{width}")
    main = page.inner_text("main")
    assert "Rechercher" in main and "Search" not in main and "Apply" not in main
    if width > 600:
        page.click(f"#move-{team['deal']}")
        page.click(f"#deal-{team['deal']} button:text-is('Marquer gagnée')")
        page.locator(f"#deal-{team['deal']} .status-badge").wait_for()
        assert page.locator(f"#deal-{team['deal']} .status-badge").inner_text().strip() == "Gagnée"
        with live_runtime.sessions() as s:
            assert s.scalars(select(Deal.status).where(Deal.id == team["deal"])).one() == "won"
    page.goto(f"{live_server}/deals/{team['deal']}")
    main = page.inner_text("main")
    for text in ("Détails", "Valeur", "Étiquettes", "Responsable"):
        assert text in main, text
    for english in ("Details", "Value", "Tags"):
        assert english not in main, english
    shot(page, f"deal-fr-{width}")
    context.close()


def test_an_italian_admin_configures_a_robot_in_italian(browser, live_server, live_runtime, team):
    context = browser.new_context(locale="it-IT", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    login(page, live_server, "admin@example.com", "Accedi")
    assert page.get_attribute("html", "lang") == "it"
    page.goto(f"{live_server}/automation?pipeline_id={team['pipeline']}")
    shot(page, "automation-it-1440")
    assert "Aggiungi robot" in page.inner_text("main")
    stage = team["stages"][0]
    page.click(f"#stage-{stage} a.add-robot")
    page.wait_for_selector("a.kind-choice")  # the picker page has loaded
    picker = page.inner_text("main")
    assert "Aggiungi tag" in picker and "Add tags" not in picker
    page.click("a.kind-choice:text-is('Aggiungi tag')")
    page.wait_for_selector("input[name='s.tags']")  # the robot form has loaded
    form = page.inner_text("main")
    assert "Tag da aggiungere" in form and "Tags to add" not in form
    shot(page, "robot-form-it-1440")
    page.fill("input[name=name]", "Etichetta i nuovi")
    page.fill("input[name='s.tags']", "nuovo")
    with page.expect_navigation():
        page.click("button:text-is('Salva il robot')")
    assert "Robot salvato." in page.inner_text("main"), page.inner_text("main")
    with live_runtime.sessions() as s:
        [robot] = s.scalars(select(Robot).where(Robot.stage_id == stage))
    assert robot.kind == "add_tag" and robot.name == "Etichetta i nuovi"
    context.close()
