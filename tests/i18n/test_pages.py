"""The UI speaks the reader's language: a user's own language, else the company's, and Accept-Language before
login; <html lang> says which; the API and notifications follow the same rule."""

from __future__ import annotations

import re

from sqlalchemy import select

from kanban.models import User
from tests.conftest import csrf_of, login
from tests.web.conftest import add_deal


def set_language(runtime, email, language):
    with runtime.sessions() as s, s.begin():
        s.scalars(select(User).where(User.email == email)).one().language = language


def html_lang(page) -> str:
    return re.search(r'<html lang="([^"]+)"', page.text).group(1)


def test_a_french_user_sees_the_board_and_deal_page_in_french(client, runtime, rep, pipeline):
    deal = add_deal(runtime, pipeline, rep, "Acme renouvellement", amount=875000, currency="EUR",
                    responsible_id=rep.id)
    set_language(runtime, rep.email, "fr")
    login(client, rep.email)
    board = client.get(f"/board?pipeline_id={pipeline.id}")
    assert board.status_code == 200 and html_lang(board) == "fr"
    for text in ("Tableau", "Filtres", "Responsable", "Appliquer", "Déplacer vers", "Marquer gagnée",
                 "Se déconnecter", "Aller au contenu"):
        assert text in board.text, text
    for english in (">Filters<", ">Apply<", ">Log out<", ">Mark won<"):
        assert english not in board.text
    page = client.get(f"/deals/{deal.id}")
    assert page.status_code == 200 and html_lang(page) == "fr"
    for text in ("Détails", "Montant", "Devise", "Étiquettes", "Enregistrer", "Planifier l'activité"):
        assert text in page.text, text
    assert ">Details<" not in page.text and ">Save<" not in page.text


def test_an_italian_user_and_a_user_without_language(client, runtime, rep, admin, pipeline):
    set_language(runtime, admin.email, "it")
    login(client, admin.email)
    page = client.get("/automation")
    assert html_lang(page) == "it" and "Automazione" in page.text and "Bacheca" in page.text
    client.cookies.clear()
    login(client, rep.email)  # no language of their own: the company's (English here)
    board = client.get("/board")
    assert html_lang(board) == "en" and "Board" in board.text


def test_the_company_default_applies_to_users_without_a_language(client, runtime, rep, pipeline, monkeypatch):
    monkeypatch.setenv("KANBAN_LANGUAGE", "it")
    login(client, rep.email)
    board = client.get("/board")
    assert html_lang(board) == "it" and "Filtri" in board.text
    set_language(runtime, rep.email, "fr")  # their own choice wins
    assert html_lang(client.get("/board")) == "fr"


def test_accept_language_before_login(client):
    page = client.get("/login", headers={"Accept-Language": "it-IT,it;q=0.9,en;q=0.8"})
    assert html_lang(page) == "it" and "Accedi" in page.text and "Password" in page.text
    page = client.get("/login", headers={"Accept-Language": "fr-CH, fr;q=0.9"})
    assert html_lang(page) == "fr" and "Se connecter" in page.text
    page = client.get("/login", headers={"Accept-Language": "de-DE"})
    assert html_lang(page) == "en" and "Log in" in page.text
    wrong = client.post("/login", data={"email": "x@example.com", "password": "nope",
                                        "csrf_token": csrf_of(client, "/login")},
                        headers={"Accept-Language": "fr"})
    assert "E-mail ou mot de passe incorrect." in wrong.text


def test_choosing_a_language_on_the_account_page(client, runtime, rep, pipeline):
    login(client, rep.email)
    page = client.get("/account/sessions")
    assert 'name="language"' in page.text and 'lang="it"' in page.text
    token = csrf_of(client, "/account/sessions")
    done = client.post("/account/language", data={"language": "it", "csrf_token": token})
    assert done.status_code == 200 and html_lang(done) == "it" and "Lingua salvata." in done.text
    assert html_lang(client.get("/board")) == "it"
    bad = client.post("/account/language", data={"language": "xx", "csrf_token": token})
    assert bad.status_code == 422 and "Scegli una delle lingue elencate." in bad.text
    back = client.post("/account/language", data={"language": "", "csrf_token": token})
    assert html_lang(back) == "en"
    with runtime.sessions() as s:
        assert s.scalars(select(User.language).where(User.email == rep.email)).one() is None


def test_language_in_the_users_api(client, runtime, admin, rep):
    from tests.conftest import token_for

    rep_h = {"Authorization": f"Bearer {token_for(runtime, rep.email)}"}
    admin_h = {"Authorization": f"Bearer {token_for(runtime, admin.email)}"}
    assert client.get("/api/v1/me", headers=rep_h).json()["language"] is None
    me = client.patch("/api/v1/me", json={"language": "fr"}, headers=rep_h)
    assert me.status_code == 200 and me.json()["language"] == "fr"
    refused = client.patch("/api/v1/me", json={"language": "de"}, headers=rep_h)
    assert refused.status_code == 422 and refused.json()["error"]["fields"]["language"]
    # Human-readable API messages follow the caller's language.
    missing = client.get("/api/v1/deals/999999", headers=rep_h).json()["error"]["message"]
    assert "introuvable" in missing
    other = client.patch("/api/v1/me", json={"role": "admin"}, headers=rep_h)
    assert other.status_code == 422 and "role" in other.json()["error"]["fields"]
    changed = client.patch(f"/api/v1/users/{rep.id}", json={"language": "it"}, headers=admin_h)
    assert changed.status_code == 200 and changed.json()["language"] == "it"
    assert client.patch(f"/api/v1/users/{rep.id}", json={"language": "xx"}, headers=admin_h).status_code == 422
    reset = client.patch("/api/v1/me", json={"language": None}, headers=rep_h)
    assert reset.json()["language"] is None


def test_assignment_notification_in_the_recipients_language(runtime, admin, rep, pipeline):
    from kanban.events import Actor
    from kanban.models import EmailMessage, Notification
    from kanban.notifications import save_settings
    from kanban.services.deals import create_deal, update_deal

    set_language(runtime, rep.email, "it")
    with runtime.sessions() as s, s.begin():
        deal = create_deal(s, title="Globex pilota", pipeline_id=pipeline.id, actor=Actor.user(admin.id),
                           responsible_id=admin.id)
        save_settings(s, rep.id, {"channels": {"assignment": ["in_app", "email"]}})
        update_deal(s, deal.id, {"responsible_id": rep.id}, actor=Actor.user(admin.id))
    with runtime.sessions() as s:
        [text] = s.scalars(select(Notification.text).where(Notification.user_id == rep.id))
        [subject] = s.scalars(select(EmailMessage.subject).where(EmailMessage.kind == "notification"))
    assert text == "L'opportunità «Globex pilota» è stata assegnata a te"
    assert subject == "Notifica: L'opportunità «Globex pilota» è stata assegnata a te"


def test_the_demo_starts_in_french(runtime, monkeypatch):
    from kanban.crm_models import LostReason
    from kanban.demo import demo_pipeline, seed_demo
    from kanban.models import Pipeline
    from robots.models import Robot

    monkeypatch.setenv("KANBAN_DEMO_LANGUAGE", "fr")
    with runtime.sessions() as s, s.begin():
        assert seed_demo(s)
    with runtime.sessions() as s:
        pipeline = s.scalars(select(Pipeline)).one()
        assert pipeline.name == "Ventes" and demo_pipeline(s).id == pipeline.id
        assert [st.name for st in pipeline.stages][:4] == ["Nouveau prospect", "Qualifiée", "Proposition", "Facture"]
        assert "Prix trop élevé" in set(s.scalars(select(LostReason.name)))
        names = set(s.scalars(select(Robot.name)))
        assert "Prévenir le responsable" in names and "Tell the responsible" not in names
        assert set(s.scalars(select(User.language).where(User.role != "system"))) == {"fr"}
        from kanban import company

        firm = company.settings(s)
        assert (firm.language, firm.time_zone, firm.currency) == ("fr", "Europe/Paris", "EUR")
        assert {r.currency: r.rate for r in company.rate_rows(s)} == {"USD": "0.93"}


def test_the_scripts_texts_come_with_the_page_in_its_language(client):
    """The browser scripts' messages (kanban.i18n.JS_MESSAGES) are handed over translated in a meta tag."""
    import json
    from html import unescape

    from kanban.i18n import JS_MESSAGES

    def texts(language: str) -> dict[str, str]:
        page = client.get("/login", headers={"Accept-Language": language})
        found = re.search(r"<meta name=\"kanban-i18n\" content='([^']*)'>", page.text)
        assert found, "the page hands the scripts their texts"
        return json.loads(unescape(found.group(1)))

    french, english = texts("fr"), texts("en")
    assert set(french) == set(english) == {str.__str__(m) for m in JS_MESSAGES}
    assert french["Order saved."] == "Ordre enregistré." and english["Order saved."] == "Order saved."
    assert texts("it")["The server refused the subscription (%(status)s)."] == \
        "Il server ha rifiutato l'iscrizione (%(status)s)."
