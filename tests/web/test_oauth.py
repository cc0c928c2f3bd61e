"""Connecting a Google account: start, consent (simulated), callback, stored connection."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from maillon.connectors.testing import FakeServer
from maillon.engine.settings import Settings
from maillon.web.app import create_app
from tests.connectors.google.support import id_token
from tests.support.server import LiveServer
from tests.support.services import Blocking


@pytest.fixture
def served(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, httpx.Client]]:
    app = create_app(make_settings(public_url="https://maillon.example.com"))
    with LiveServer(app) as url:
        _, token = Blocking(app.state.runtime.services).tokens.create("oauth")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            yield url, client


def start(client: httpx.Client, google: FakeServer, **extra: str) -> dict[str, list[str]]:
    r = client.post(
        "/api/oauth/google/start",
        json={
            "name": "backoffice-google",
            "values": {
                "client_id": "cid",
                "client_secret": "cs",
                "token_uri": google.url + "token",
                "authorize_url": google.url + "auth",
                **extra,
            },
        },
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["redirect_uri"] == "https://maillon.example.com/oauth/google/callback"
    consent = urlsplit(answer["authorize_url"])
    assert f"{consent.scheme}://{consent.netloc}{consent.path}" == google.url + "auth"
    return parse_qs(consent.query)


def test_consent_callback_stores_the_refresh_token(
    served: tuple[str, httpx.Client], fake_server: FakeServer
) -> None:
    url, client = served
    fake_server.on(
        "POST",
        "/token",
        (
            200,
            {
                "access_token": "at",
                "refresh_token": "rt-secret",
                "expires_in": 3600,
                "scope": "openid email https://www.googleapis.com/auth/gmail.send",
                "id_token": id_token({"email": "ada@example.com"}),
            },
        ),
    )
    query = start(client, fake_server)
    assert query["access_type"] == ["offline"] and query["code_challenge_method"] == ["S256"]
    assert "https://www.googleapis.com/auth/gmail.send" in query["scope"][0]

    # Google sends the browser back with a code and the state.
    page = httpx.get(
        url + "/oauth/google/callback", params={"code": "c0de", "state": query["state"][0]}
    )
    assert page.status_code == 200, page.text
    assert "ada@example.com is connected" in page.text
    [exchange] = fake_server.received("POST", "/token")
    form = {k: v[0] for k, v in exchange.form().items()}
    assert form["code"] == "c0de" and form["grant_type"] == "authorization_code"
    assert form["redirect_uri"] == "https://maillon.example.com/oauth/google/callback"
    assert form["code_verifier"]

    conn = client.get("/api/connections/backoffice-google").json()
    assert conn["app"] == "google"
    assert set(conn["secrets_set"]) >= {"refresh_token", "client_secret"}
    assert conn["config"]["account_email"] == "ada@example.com"
    assert "rt-secret" not in json.dumps(conn)

    # The state is single-use.
    again = httpx.get(
        url + "/oauth/google/callback", params={"code": "c0de", "state": query["state"][0]}
    )
    assert again.status_code == 400 and "unknown or expired state" in again.text


def test_refusals_are_explained(served: tuple[str, httpx.Client], fake_server: FakeServer) -> None:
    url, client = served
    fake_server.on(
        "POST", "/token", (400, {"error": "invalid_grant", "error_description": "Bad code"})
    )
    state = start(client, fake_server)["state"][0]
    denied = httpx.get(
        url + "/oauth/google/callback", params={"error": "access_denied", "state": state}
    )
    assert denied.status_code == 400 and "access_denied" in denied.text

    state = start(client, fake_server)["state"][0]
    bad = httpx.get(url + "/oauth/google/callback", params={"code": "x", "state": state})
    assert bad.status_code == 400 and "invalid_grant" in bad.text
    assert client.get("/api/connections/backoffice-google").status_code == 404

    forged = httpx.get(url + "/oauth/google/callback", params={"code": "x", "state": "forged"})
    assert forged.status_code == 400
    # The page is in the browser's language (no session is read on this public route).
    french = httpx.get(
        url + "/oauth/google/callback",
        params={"code": "x", "state": "forged"},
        headers={"Accept-Language": "fr-FR,fr;q=0.9"},
    )
    assert "<html lang=fr>" in french.text and "<h1>La connexion a échoué</h1>" in french.text


def test_start_needs_an_oauth_client(served: tuple[str, httpx.Client]) -> None:
    _, client = served
    r = client.post("/api/oauth/google/start", json={"name": "g"})
    assert r.status_code == 400 and "MAILLON_GOOGLE_CLIENT_ID" in r.json()["detail"]
    assert (
        httpx.post(client.base_url.join("/api/oauth/google/start"), json={"name": "g"}).status_code
        == 401
    )


def test_a_consent_started_from_a_page_goes_back_to_it_with_a_message(
    make_settings: Callable[..., Settings], fake_server: FakeServer
) -> None:
    app = create_app(make_settings(public_url="https://maillon.example.com"))
    services = Blocking(app.state.runtime.services)
    values = {
        "client_id": "cid",
        "client_secret": "cs",
        "token_uri": fake_server.url + "token",
        "authorize_url": fake_server.url + "auth",
    }
    granted = {"refresh_token": "rt", "access_token": "a", "id_token": id_token({"email": "a@b.c"})}
    fake_server.on("POST", "/token", (200, granted), (400, {"error": "invalid_grant"}))

    def callback(url: str, page: str) -> httpx.Response:
        consent = services.oauth.start("google", "g", values, return_to=page)
        state = parse_qs(urlsplit(consent.authorize_url).query)["state"][0]
        return httpx.get(url + "/oauth/google/callback", params={"code": "c", "state": state})

    def flash(answer: httpx.Response) -> list[list[str]]:
        return json.loads(base64.urlsafe_b64decode(answer.cookies["maillon_flash"]))

    with LiveServer(app) as url:
        done = callback(url, "/connections/g")
        assert done.status_code == 303 and done.headers["location"] == "/connections/g"
        assert flash(done) == [["success", "a@b.c is connected as “g”."]]

        refused = callback(url, "/flows/f1/edit?step=2")
        assert refused.headers["location"] == "/flows/f1/edit?step=2"
        assert flash(refused) == [
            ["error", "Connecting failed: Google refused to grant access (invalid_grant)."]
        ]
