"""The language of each page: the account's, else the browser's, else the install's default.

Over real HTTP, on SQLite and PostgreSQL; the browser tests (tests/web/ui/test_french.py) drive
the main path in French.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from maillon.engine.flows import FlowDocument
from maillon.engine.i18n import format_when, use_locale
from maillon.engine.services.accounts import User
from maillon.engine.services.base import COMMAND_LINE
from maillon.engine.settings import Settings
from maillon.web.app import create_app
from maillon.web.auth import request_locale
from tests.support.server import LiveServer
from tests.support.wait import wait_for
from tests.support.web import UIServer, csrf_field, sign_in_client

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


def _user(locale: str | None) -> User:
    return User(
        id="u",
        email="ada@example.com",
        name="Ada",
        role="owner",
        locale=locale,
        time_zone=None,
        created_at=0.0,
        last_sign_in_at=None,
        has_password=True,
    )


def test_the_account_language_comes_first_then_the_browser_then_the_install() -> None:
    assert request_locale(_user("fr"), "en-US,en", "en") == "fr"
    assert request_locale(_user(None), "fr-CH, en;q=0.5", "en") == "fr"
    assert request_locale(_user("xx"), "de", "fr") == "fr"  # unknown everywhere: the default
    assert request_locale(None, None, "en") == "en"


def test_pages_speak_the_browser_language(ui_server: UIServer) -> None:
    with httpx.Client(base_url=ui_server.url, timeout=10) as client:
        french = client.get("/setup", headers=FRENCH)
        assert '<html lang="fr">' in french.text
        assert "<h1>Installer Maillon</h1>" in french.text
        assert "Créer le compte propriétaire" in french.text

        english = client.get("/setup", headers={"Accept-Language": "en-GB"})
        assert '<html lang="en">' in english.text
        assert "<h1>Set up Maillon</h1>" in english.text


def test_messages_and_error_pages_are_translated_too(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    with sign_in_client(ui_server.url) as client:
        client.headers.update(FRENCH)
        page = client.get("/settings")
        assert "Jetons d’API" in page.text
        created = client.post(
            "/settings/tokens", data={"name": "déploiement", "_csrf_token": csrf_field(page.text)}
        )
        # French typography: a no-break space before the colon, inside the quotes.
        assert "Jeton «\u00a0déploiement\u00a0» créé. Copiez-le maintenant\u00a0:" in created.text
        # The same word agreed with what it is said of: un jeton créé, not une exécution créée.
        assert '<th scope="col">Créé</th>' in created.text

        # Litestar's CSRF refusal, shown as the UI's error page.
        refused = client.post("/settings/tokens", data={"name": "x"})
        assert refused.status_code == 403
        assert "ce formulaire a expiré" in refused.text.lower()

        missing = client.get("/runs/no-such-run")
        assert missing.status_code == 404
        assert "Page introuvable" in missing.text

        out = client.post("/sign-out", data={"_csrf_token": csrf_field(page.text)})
        assert out.status_code == 303
        assert "Vous êtes déconnecté." in client.get(out.headers["location"]).text


def test_each_person_chooses_their_language_and_time_zone(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    _flow_id, token = ui_server.http_flow("Paused", "http://127.0.0.1:9/", enabled=False)
    [run_id] = ui_server.deliver(token)
    with sign_in_client(ui_server.url) as client:
        client.headers.update({"Accept-Language": "en-US"})
        page = client.get("/settings")
        saved = client.post(
            "/settings/preferences",
            data={
                "locale": "fr",
                "time_zone": "Europe/Paris",
                "_csrf_token": csrf_field(page.text),
            },
        )
        assert saved.status_code == 303
        # The account's language wins over the browser's, from the very next page on.
        settings = client.get("/settings")
        assert "Votre langue et votre fuseau horaire sont enregistrés." in settings.text
        assert '<option value="fr" lang="fr" selected>Français</option>' in settings.text
        assert '<option value="Europe/Paris" selected>Europe/Paris</option>' in settings.text
        # Times in the chosen zone, written the French way.
        run = client.get(f"/runs/{run_id}")
        created = ui_server.call(ui_server.runtime.services.runs.history(run_id))[0].created_at
        with use_locale("fr", "Europe/Paris"):
            assert format_when(created, full=True, seconds=True) in run.text
        assert "Retenue" in run.text
        assert "Du (Europe/Paris)" in client.get("/runs").text

        refused = client.post(
            "/settings/preferences",
            data={"locale": "de", "time_zone": "", "_csrf_token": csrf_field(page.text)},
        )
        assert "Choisissez une langue que Maillon parle\u00a0: en, fr." in refused.text

        # Back to the browser's language: the page and what it says are in English.
        back = client.post(
            "/settings/preferences",
            data={"locale": "", "time_zone": "", "_csrf_token": csrf_field(page.text)},
            follow_redirects=True,
        )
        assert '<html lang="en">' in back.text
        assert "Your language and time zone are saved." in back.text

        # An old name of a zone, no longer listed, stays chosen until changed.
        client.post(
            "/settings/preferences",
            data={
                "locale": "fr",
                "time_zone": "Asia/Calcutta",
                "_csrf_token": csrf_field(page.text),
            },
        )
        listed = client.get("/settings").text
        assert '<option value="Asia/Calcutta" selected>Asia/Calcutta</option>' in listed
        assert listed.count("Asia/Calcutta") == 2 and ">Asia/Kolkata</option>" in listed


def test_the_install_default_serves_browsers_that_ask_for_nothing_spoken(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings(default_locale="fr"), workers=False)
    with LiveServer(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        assert "<h1>Installer Maillon</h1>" in client.get("/setup").text
        asked = client.get("/setup", headers={"Accept-Language": "de, en;q=0.5"})
        assert "<h1>Set up Maillon</h1>" in asked.text


def test_the_engine_reasons_shown_on_a_page_are_translated(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    with httpx.Client(base_url=ui_server.url, timeout=10, headers=FRENCH) as client:
        page = client.get("/sign-in")
        refused = client.post(
            "/sign-in",
            data={
                "email": "nobody@example.com",
                "password": "x",
                "_csrf_token": csrf_field(page.text),
            },
        )
        assert "Adresse e-mail ou mot de passe incorrect." in refused.text


def test_the_flow_editor_says_what_is_wrong_in_the_readers_language(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    flow_id, _ = ui_server.http_flow("Paused", "http://127.0.0.1:9/", enabled=False)
    with sign_in_client(ui_server.url) as client:
        client.headers.update(FRENCH)
        page = client.get(f"/flows/{flow_id}")
        assert "Envoyer une requête HTTP" in page.text  # the connector's own French
        step = {
            "name": "Paused",
            "trigger_type": "webhook",
            "steps-0-action": "http.send_request",
            "steps-0-key": "notify",
            "_csrf_token": csrf_field(page.text),
        }
        refused = client.post(
            f"/flows/{flow_id}/save",
            data={
                **step,
                "steps-0-input-url": "http://127.0.0.1:9/{{ event.nowhere }}",
                "steps-0-connection": "ghost",
            },
        )
        assert "Non enregistré\u00a0:" in refused.text
        assert "Aucune connexion nommée &#39;ghost&#39;" in refused.text
        broken = client.post(
            f"/flows/{flow_id}/save",
            data={**step, "steps-0-input-url": "http://127.0.0.1:9/{{ event.id "},
        )
        assert "erreur de syntaxe du modèle\u00a0:" in broken.text


def test_litestars_own_refusals_are_reworded(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    with httpx.Client(base_url=ui_server.url, timeout=10) as client:
        too_long = {"next": "/" + "x" * 3000}  # longer than the sign-in page reads
        french = client.get("/sign-in", params=too_long, headers=FRENCH)
        assert french.status_code == 400
        assert "Cette adresse n’est pas une adresse que Maillon comprend" in french.text
        english = client.get("/sign-in", params=too_long)
        assert "This address is not one Maillon understands" in english.text
        assert "Validation failed" not in english.text
    with sign_in_client(ui_server.url) as client:
        page = client.get("/settings", headers=FRENCH)
        too_large = client.post(
            "/settings/tokens",
            data={"name": "x" * (1024 * 1024), "_csrf_token": csrf_field(page.text)},
            headers=FRENCH,
        )
    assert too_large.status_code == 413
    assert "dépasse ce que Maillon accepte\u00a0: envoyez moins" in too_large.text


def test_an_app_event_is_told_by_its_title_in_the_readers_language(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    services = ui_server.runtime.services
    values = {"api_key": "k", "api_secret": "s", "environment": "custom"}
    values["base_url"] = "http://127.0.0.1:9/"
    ui_server.call(services.connections.create("particeep", "particeep-prod", values))
    trigger = {
        "type": "particeep.event",
        "connection": "particeep-prod",
        "event": "transaction_created",
    }
    doc = FlowDocument.model_validate({"name": "Tx", "enabled": False, "trigger": trigger})
    ui_server.call(services.flows.save(doc))
    doc = FlowDocument.model_validate(
        {"name": "Other", "enabled": False, "trigger": {**trigger, "event": "deal_signed"}}
    )
    ui_server.call(services.flows.save(doc))
    with sign_in_client(ui_server.url) as client:
        english = client.get("/flows").text
        french = client.get("/flows", headers=FRENCH).text
    assert "Particeep: Transaction created" in english
    assert "Particeep\u00a0: Transaction créée" in french
    # An event the app's catalogue does not list is named as it is written.
    assert "Particeep: <code>deal_signed</code>" in english
    assert "Particeep\u00a0: <code>deal_signed</code>" in french


def test_a_paused_flow_is_told_with_its_count_in_each_language(
    working_ui_server: UIServer,
) -> None:
    server = working_ui_server
    server.set_up_owner()
    paused = {}
    for name, failures in (("Once", 1), ("Twice", 2)):
        flow_id, token = server.http_flow(
            name, "http://127.0.0.1:9/", attempts=1, pause_after=failures
        )
        server.wait_finished(server.deliver(token, failures))
        paused[failures] = flow_id
    flows = server.runtime.services.flows

    def all_paused() -> bool:
        return all(server.call(flows.get(f)).state == "paused" for f in paused.values())

    wait_for(all_paused, what="the pauses")
    with sign_in_client(server.url) as client:
        english = client.get("/").text
        assert "after 1 failed run in a row" in english
        assert "after 2 failed runs in a row" in english
        assert "after 1 failed run in a row." in client.get(f"/flows/{paused[1]}").text
        assert "after 2 failed runs in a row." in client.get(f"/flows/{paused[2]}").text

        client.headers.update(FRENCH)
        french = client.get("/")
        assert french.status_code == 200
        assert "après 1 exécution échouée d’affilée" in french.text
        assert "après 2 exécutions échouées d’affilée" in french.text
        once = client.get(f"/flows/{paused[1]}")
        assert once.status_code == 200
        assert "après 1 exécution échouée d’affilée." in once.text
        assert "après 2 exécutions échouées d’affilée." in client.get(f"/flows/{paused[2]}").text


def test_the_history_names_both_sides_of_a_comparison_the_french_way(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    flow_id, _ = ui_server.http_flow("Versioned", "http://127.0.0.1:9/v1", enabled=False)
    ui_server.http_flow("Versioned", "http://127.0.0.1:9/v2", enabled=False, flow_id=flow_id)
    ui_server.call(ui_server.runtime.services.flows.restore(flow_id, 1))  # the draft
    history = f"/flows/{flow_id}/history"
    with sign_in_client(ui_server.url) as client:
        english = client.get(history, params={"before": "2"}).text
        assert "Changes from version 2 to the draft" in english
        client.headers.update(FRENCH)
        french = {
            (before, after): client.get(history, params={"before": before, "after": after}).text
            for before, after in [("2", ""), ("draft", "1"), ("1", "2")]
        }
    assert "Modifications de la version 2 au brouillon" in french["2", ""]
    assert "Modifications du brouillon à la version 1" in french["draft", "1"]
    assert "Modifications de la version 1 à la version 2" in french["1", "2"]


def test_the_command_line_is_named_in_the_readers_words_as_an_author(
    ui_server: UIServer,
) -> None:
    ui_server.set_up_owner()
    flow_id, _ = ui_server.http_flow("Versioned", "http://127.0.0.1:9/v1", enabled=False)
    ui_server.http_flow("Versioned", "http://127.0.0.1:9/v2", enabled=False, flow_id=flow_id)
    ui_server.call(ui_server.runtime.services.flows.restore(flow_id, 1, author=COMMAND_LINE))
    with sign_in_client(ui_server.url) as client:
        english = " ".join(client.get(f"/flows/{flow_id}/history").text.split())
        client.headers.update(FRENCH)
        french = " ".join(client.get(f"/flows/{flow_id}").text.split())
    assert "<td>the command line</td>" in english and "<td>cli</td>" not in english
    assert "par la ligne de commande" in french
