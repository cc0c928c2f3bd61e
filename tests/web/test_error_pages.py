"""Errors shown to a browser as pages, in its reader's language, wherever they happen; JSON for
the API, the hooks and every caller that does not ask for HTML."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import text

from tests.support.web import UIServer, csrf_field, sign_in_client

#: What a browser sends when it opens an address.
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_an_unknown_address_is_a_page_in_the_readers_language_with_the_layout(
    ui_server: UIServer,
) -> None:
    owner = ui_server.set_up_owner()
    accounts = ui_server.runtime.services.accounts
    ui_server.call(accounts.set_preferences(owner, "fr", ""))
    with sign_in_client(ui_server.url) as client:
        client.headers.update({**BROWSER, "Accept-Language": "en-GB"})
        for path in ("/nope", "/flows/a/b/c"):
            answer = client.get(path)
            assert answer.status_code == 404
            assert answer.headers["content-type"].startswith("text/html")
            # The account's language (French), its navigation, its name.
            assert '<html lang="fr">' in answer.text
            assert "<h1>Page introuvable</h1>" in answer.text
            assert "Cette adresse n’est pas une adresse que Maillon comprend" in answer.text
            assert 'href="/flows"' in answer.text and "Olivia Owner" in answer.text
        # Its sign-out form works: it carries the browser's CSRF token.
        out = client.post("/sign-out", data={"_csrf_token": csrf_field(answer.text)})
        assert out.status_code == 303

    # A stranger gets the page too, in the browser's language, and no navigation.
    stranger = httpx.get(ui_server.url + "/nope", headers={**BROWSER, "Accept-Language": "fr"})
    assert stranger.status_code == 404
    assert "<h1>Page introuvable</h1>" in stranger.text
    assert 'href="/flows"' not in stranger.text


def test_the_api_the_hooks_and_other_callers_keep_their_json(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    with sign_in_client(ui_server.url) as client:
        for path, headers in [
            ("/api/nope", BROWSER),
            ("/api/flows/nope", BROWSER),
            ("/hooks/nope", BROWSER),
            ("/nope", {"Accept": "*/*"}),
            ("/nope", {"Accept": "application/json"}),
            ("/nope", {"Accept": "text/html;q=0, application/json"}),
        ]:
            answer = client.get(path, headers=headers)
            assert answer.status_code == 404, path
            assert answer.headers["content-type"].startswith("application/json"), (path, headers)


def test_a_server_error_on_a_page_is_a_page_that_gives_the_request_id(
    ui_server: UIServer, caplog: pytest.LogCaptureFixture
) -> None:
    ui_server.set_up_owner()
    with ui_server.runtime.db.begin() as conn:
        conn.execute(text("DROP TABLE steps"))
        conn.execute(text("DROP TABLE runs"))
    with sign_in_client(ui_server.url) as client, caplog.at_level(logging.ERROR):
        page = client.get("/runs", headers={**BROWSER, "Accept-Language": "fr"})
        api = client.get("/api/runs", headers=BROWSER)
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Cela n’a pas fonctionné</h1>" in page.text
    assert f"sous l’identifiant de requête {page.headers['x-request-id']}" in page.text
    assert "runs" not in page.text.split("<main", 1)[1].split("</main>")[0].lower()
    assert api.status_code == 500
    assert api.json()["request_id"] == api.headers["x-request-id"]
    # Both are logged with their traceback, as any error nobody expected.
    failures = [r for r in caplog.records if r.name == "maillon.web.edge"]
    assert len(failures) == 2 and all(r.exc_info for r in failures)


def test_a_value_error_nobody_meant_for_the_caller_is_a_server_error(
    ui_server: UIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Input that cannot be accepted is raised as ``Invalid`` (400, with its reasons); any
    other ``ValueError`` is a bug or a broken install (secrets sealed with another key): a 500
    whose text stays in the log, not a 400 that blames the caller and shows them the text."""
    ui_server.set_up_owner()

    async def broken() -> None:
        raise ValueError("cannot decrypt connection secrets: wrong MAILLON_SECRET_KEY?")

    monkeypatch.setattr(ui_server.runtime.services.flows, "all", broken)
    with sign_in_client(ui_server.url) as client, caplog.at_level(logging.ERROR):
        api = client.get("/api/flows", headers={"Accept": "application/json"})
    assert api.status_code == 500
    assert "MAILLON_SECRET_KEY" not in api.text
    assert any("MAILLON_SECRET_KEY" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
