"""Who may call what, over real HTTP: sessions, bearer tokens and CSRF, for the UI and the API."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from litestar.middleware.csrf import generate_csrf_token

from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.web.app import create_app
from tests.support.server import LiveServer
from tests.support.web import UIServer, csrf_field, sign_in_client


def token_for(server: UIServer) -> str:
    return server.call(server.runtime.services.tokens.create("tests"))[1]


def test_a_new_install_sends_every_page_to_set_up(ui_server: UIServer) -> None:
    for path in ("/", "/settings", "/sign-in"):
        answer = httpx.get(ui_server.url + path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/setup")
    assert httpx.get(ui_server.url + "/setup").status_code == 200


def test_strangers_are_sent_to_sign_in_and_brought_back(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    answer = httpx.get(ui_server.url + "/settings?tab=tokens")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2Fsettings%3Ftab%3Dtokens"
    # A form posted without a session cannot come back to itself: plain sign-in.
    posted = httpx.post(ui_server.url + "/settings/tokens", data={"name": "x"})
    assert (posted.status_code, posted.headers["location"]) == (303, "/sign-in")
    # The set-up page is gone.
    assert httpx.get(ui_server.url + "/setup").status_code == 404
    with sign_in_client(ui_server.url) as client:
        page = client.get("/sign-in?next=%2Fsettings%3Ftab%3Dtokens")
        assert page.headers["location"] == "/settings?tab=tokens"  # signed in already


def test_an_htmx_request_is_asked_to_navigate_to_sign_in(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    answer = httpx.post(ui_server.url + "/settings/tokens", headers={"HX-Request": "true"})
    assert answer.status_code == 401
    assert answer.headers["hx-redirect"] == "/sign-in"


def test_sign_in_goes_back_only_to_this_site(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    with httpx.Client(base_url=ui_server.url) as client:
        field = csrf_field(client.get("/sign-in").text)
        for target, expected in [("/settings", "/settings"), ("//evil.example/", "/")]:
            answer = client.post(
                "/sign-in",
                data={
                    "email": "owner@example.com",
                    "password": "correct horse battery",
                    "next": target,
                    "_csrf_token": field,
                },
            )
            assert answer.headers["location"] == expected


def test_the_api_answers_401_json_to_strangers(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    answer = httpx.get(ui_server.url + "/api/flows")
    assert answer.status_code == 401
    assert answer.json()["detail"].startswith("sign in, or send an API token")
    assert answer.headers["www-authenticate"] == "Bearer"


def test_a_session_authenticates_the_api_with_csrf_on_unsafe_methods(
    ui_server: UIServer,
) -> None:
    ui_server.set_up_owner()
    with sign_in_client(ui_server.url) as client:
        assert client.get("/api/flows").status_code == 200
        refused = client.delete("/api/flows/nope")
        assert refused.status_code == 403
        csrf = {"x-csrftoken": client.cookies["csrftoken"]}
        assert client.delete("/api/flows/nope", headers=csrf).status_code == 404


def test_a_bearer_token_needs_no_csrf_and_never_falls_back_to_the_cookie(
    ui_server: UIServer,
) -> None:
    ui_server.set_up_owner()
    bearer = {"Authorization": f"Bearer {token_for(ui_server)}"}
    assert httpx.delete(ui_server.url + "/api/flows/nope", headers=bearer).status_code == 404
    with sign_in_client(ui_server.url) as client:
        wrong = client.get("/api/flows", headers={"Authorization": "Bearer mlt_wrong"})
        assert wrong.status_code == 401


def test_ui_pages_take_the_session_only(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    bearer = {"Authorization": f"Bearer {token_for(ui_server)}"}
    answer = httpx.get(ui_server.url + "/settings", headers=bearer)
    assert (answer.status_code, answer.headers["location"]) == (303, "/sign-in?next=%2Fsettings")


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    ui_server: UIServer,
) -> None:
    owner = ui_server.set_up_owner()
    with sign_in_client(ui_server.url) as client:
        refused = client.post("/settings/tokens", data={"name": "forged"})
        assert refused.status_code == 403
        assert "reload it and try again" in refused.text
        wrong = client.post("/settings/tokens", data={"name": "forged", "_csrf_token": "x" * 128})
        assert wrong.status_code == 403
    assert ui_server.call(ui_server.runtime.services.tokens.list(owner)) == []


def test_anonymous_forms_are_checked_too(ui_server: UIServer) -> None:
    # Sign-in itself: a site must not sign a visitor in to an account of its choosing.
    ui_server.set_up_owner()
    answer = httpx.post(
        ui_server.url + "/sign-in",
        data={"email": "owner@example.com", "password": "correct horse battery"},
    )
    assert answer.status_code == 403


def test_sign_out_ends_the_session_for_its_cookie_everywhere(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    with sign_in_client(ui_server.url) as client:
        stolen = client.cookies["maillon_session"]
        field = csrf_field(client.get("/").text)
        assert client.post("/sign-out", data={"_csrf_token": field}).status_code == 303
        assert "maillon_session" not in client.cookies
    replay = httpx.get(ui_server.url + "/api/flows", cookies={"maillon_session": stolen})
    assert replay.status_code == 401


@pytest.mark.parametrize(
    ("public_url", "secure"), [(None, False), ("https://maillon.example.com", True)]
)
def test_session_cookies_are_http_only_lax_and_secure_behind_https(
    make_settings: Callable[..., Settings], public_url: str | None, secure: bool
) -> None:
    runtime = Runtime(make_settings(public_url=public_url))
    with (
        LiveServer(create_app(runtime=runtime, workers=False)) as url,
        httpx.Client(base_url=url) as client,
    ):
        UIServer(url, runtime).set_up_owner()
        field = csrf_field(client.get("/sign-in").text)
        answer = client.post(
            "/sign-in",
            data={
                "email": "owner@example.com",
                "password": "correct horse battery",
                "_csrf_token": field,
            },
            # Over plain HTTP the client keeps a Secure cookie to itself: send it by hand.
            headers={"Cookie": f"csrftoken={field}"},
        )
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("maillon_session=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert ("secure" in cookie.split("; ")) is secure


def test_hooks_never_meet_the_authentication(ui_server: UIServer) -> None:
    # Credentials on a hook call are ignored rather than checked: an unknown hook is a 404.
    answer = httpx.post(
        ui_server.url + "/hooks/nope",
        json={},
        headers={"Authorization": "Bearer mlt_wrong"},
        cookies={"maillon_session": "stale"},
    )
    assert answer.status_code == 404


@pytest.mark.parametrize("path", ["/static/maillon.css", "/static/vendor/htmx-2.0.11.min.js"])
def test_static_files_are_public_and_cached(ui_server: UIServer, path: str) -> None:
    answer = httpx.get(ui_server.url + path)
    assert answer.status_code == 200
    assert "max-age=31536000" in answer.headers["cache-control"]
    page = httpx.get(ui_server.url + "/setup").text
    assert f'"{path}?v=' in page


def test_a_csrf_cookie_from_before_a_key_change_is_replaced(ui_server: UIServer) -> None:
    # Signed with another secret, as every cookie is after a key rotation and a restart.
    ui_server.set_up_owner()
    with httpx.Client(base_url=ui_server.url) as client:
        stale = generate_csrf_token("the secret before")
        client.cookies.set("csrftoken", stale, domain="127.0.0.1")
        page = client.get("/sign-in")
        assert page.cookies["csrftoken"] != stale  # a new one, which the form's token matches
        answer = client.post(
            "/sign-in",
            data={
                "email": "owner@example.com",
                "password": "correct horse battery",
                "_csrf_token": csrf_field(page.text),
            },
        )
        assert answer.status_code == 303, answer.text


def test_a_member_locked_out_signs_in_with_the_password_of_a_new_link(
    ui_server: UIServer,
) -> None:
    owner = ui_server.set_up_owner()
    accounts = ui_server.runtime.services.accounts
    first = ui_server.call(accounts.add_member(owner, "marc@example.com", "Marc Member"))
    ui_server.call(accounts.set_password_with_link(first.token, "forgotten password"))
    with httpx.Client(base_url=ui_server.url, timeout=10) as client:
        token = csrf_field(client.get("/sign-in").text)
        for _ in range(6):
            tried = client.post(
                "/sign-in",
                data={"email": "marc@example.com", "password": "a guess", "_csrf_token": token},
            )
        assert tried.status_code == 429
        assert "Too many failed sign-ins" in tried.text

        # The owner gives a new link; Marc chooses a password through it.
        link = ui_server.call(accounts.issue_password_link(owner, first.user.id))
        page = client.get(f"/set-password/{link.token}")
        chosen = client.post(
            f"/set-password/{link.token}",
            data={"password": "marc's new password", "_csrf_token": csrf_field(page.text)},
        )
        assert chosen.status_code == 303
    with sign_in_client(ui_server.url, "marc@example.com", "marc's new password") as client:
        assert "Marc Member" in client.get("/").text
