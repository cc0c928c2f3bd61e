"""The engine's OAuth 2.0: consent for any connector that declares it, and token refresh."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from maillon.connectors.errors import PermanentError, TransientError
from maillon.connectors.registry import Registry
from maillon.connectors.testing import FakeServer
from maillon.engine.errors import Conflict, Invalid
from maillon.engine.flows import FlowDocument
from maillon.engine.models import RunStatus
from maillon.engine.oauth import _read
from maillon.engine.redaction import MASK
from maillon.engine.runtime import Runtime
from maillon.engine.services.oauth import ConsentFailed
from maillon.engine.settings import Settings
from tests.support.db import run_until
from tests.support.flows import deliver, wait_status
from tests.support.oauthapp import acme
from tests.support.probe import probe
from tests.support.services import Blocking

TOKEN_PATH = "/t1/token"


@pytest.fixture
def acme_runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    rt = Runtime(
        make_settings(public_url="https://maillon.example.com"),
        registry=Registry([probe, acme, dataclasses.replace(acme, key="other")]),
    )
    rt.open()
    yield rt
    rt.close()


def _consent(services: Blocking, server: FakeServer, **values: str) -> dict[str, str]:
    consent = services.oauth.start(
        "acme",
        "acme-1",
        {"server": server.url, "tenant": "t1", "client_id": "cid", "client_secret": "cs", **values},
    )
    assert consent.redirect_uri == "https://maillon.example.com/oauth/acme/callback"
    parts = urlsplit(consent.authorize_url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == server.url + "t1/authorize"
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_consent_fills_the_account_urls_and_stores_the_tokens(
    acme_runtime: Runtime, fake_server: FakeServer
) -> None:
    services = Blocking(acme_runtime.services)
    query = _consent(services, fake_server)
    assert query["scope"] == "read write"
    assert query["client_id"] == "cid" and query["code_challenge_method"] == "S256"
    fake_server.on(
        "POST",
        TOKEN_PATH,
        (200, {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600}),
    )

    done = services.oauth.finish("acme", query["state"], "c0de")

    assert done.connection.row.name == "acme-1"
    assert done.connection.config["tenant"] == "t1"
    assert set(done.connection.secrets_set) == {"access_token", "refresh_token", "client_secret"}
    [exchange] = fake_server.received("POST", TOKEN_PATH)
    form = {k: v[0] for k, v in exchange.form().items()}
    # The client authenticates with HTTP Basic, as declared: its secret is not in the form.
    assert exchange.headers["authorization"] == "Basic " + base64.b64encode(b"cid:cs").decode()
    assert "client_secret" not in form
    assert form["grant_type"] == "authorization_code" and form["code"] == "c0de"
    assert form["redirect_uri"] == "https://maillon.example.com/oauth/acme/callback"
    verifier = form["code_verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert query["code_challenge"] == challenge.rstrip(b"=").decode()
    values = services.connections.values("acme-1")
    assert values["access_token"] == "at-1" and values["expires_at"] > time.time() + 3000

    with pytest.raises(Invalid, match="unknown or expired state"):
        services.oauth.finish("acme", query["state"], "c0de")


def test_consent_refusals(acme_runtime: Runtime, fake_server: FakeServer) -> None:
    services = Blocking(acme_runtime.services)
    with pytest.raises(Invalid, match="tenant is needed"):
        services.oauth.start("acme", "a", {"server": fake_server.url, "client_id": "c"})
    with pytest.raises(Invalid, match="no OAuth client for acme"):
        services.oauth.start("acme", "a", {"server": fake_server.url, "tenant": "t1"})
    with pytest.raises(Invalid, match="do not connect with OAuth"):
        services.oauth.start("probe", "p", {})

    state = _consent(services, fake_server)["state"]
    with pytest.raises(Invalid, match="Acme said: access_denied"):
        services.oauth.finish("acme", state, None, "access_denied")

    fake_server.on("POST", TOKEN_PATH, (400, {"error": "invalid_grant"}), (503, {}))
    with pytest.raises(PermanentError, match="invalid_grant"):
        services.oauth.finish("acme", _consent(services, fake_server)["state"], "c")
    with pytest.raises(TransientError, match="HTTP 503"):
        services.oauth.finish("acme", _consent(services, fake_server)["state"], "c")
    fake_server.on("POST", TOKEN_PATH, (200, {"access_token": "at"}))
    with pytest.raises(PermanentError, match="no refresh token"):
        services.oauth.finish("acme", _consent(services, fake_server)["state"], "c")
    # A state is bound to its app.
    state = _consent(services, fake_server)["state"]
    with pytest.raises(Invalid, match="unknown or expired state"):
        services.oauth.finish("other", state, "c")
    assert services.connections.all() == []


def _flow_with_expired_token(
    services: Blocking,
    server: FakeServer,
    *,
    expires_at: float | None = None,
    action: str = "who_am_i",
) -> str:
    services.connections.create(
        "acme",
        "acme-1",
        {
            "server": server.url,
            "tenant": "t1",
            "client_id": "cid",
            "client_secret": "cs",
            "access_token": "old",
            "refresh_token": "rt-1",
            "expires_at": time.time() - 1 if expires_at is None else expires_at,
        },
    )
    doc = FlowDocument.model_validate(
        {
            "name": "who",
            "steps": [{"key": "who", "action": f"acme.{action}", "connection": "acme-1"}],
        }
    )
    return services.flows.save(doc).row.hook_token


def test_an_expired_access_token_is_refreshed_before_the_step(
    acme_runtime: Runtime, fake_server: FakeServer
) -> None:
    services = Blocking(acme_runtime.services)
    token = _flow_with_expired_token(services, fake_server)
    # The app rotates refresh tokens: the new one must be kept.
    fake_server.on(
        "POST",
        TOKEN_PATH,
        (200, {"access_token": "at-fresh", "refresh_token": "rt-2", "expires_in": 3600}),
    )

    first = deliver(acme_runtime, token, {}).run_ids[0]
    second = deliver(acme_runtime, token, {}).run_ids[0]
    _, steps = wait_status(acme_runtime, services, first, RunStatus.SUCCEEDED)
    _, steps2 = wait_status(acme_runtime, services, second, RunStatus.SUCCEEDED)

    # The token the step used is the fresh one: a secret in play, masked in what is recorded.
    assert (
        steps[0].output
        == steps2[0].output
        == json.dumps({"token": MASK}, ensure_ascii=False, separators=(",", ":"))
    )
    [refresh] = fake_server.received("POST", TOKEN_PATH)  # once, for both runs
    form = {k: v[0] for k, v in refresh.form().items()}
    assert form == {"grant_type": "refresh_token", "refresh_token": "rt-1"}
    assert services.connections.values("acme-1")["refresh_token"] == "rt-2"


def test_a_revoked_refresh_token_fails_the_step_with_the_reason(
    acme_runtime: Runtime, fake_server: FakeServer
) -> None:
    services = Blocking(acme_runtime.services)
    token = _flow_with_expired_token(services, fake_server)
    fake_server.on("POST", TOKEN_PATH, (400, {"error": "invalid_grant"}))

    run_id = deliver(acme_runtime, token, {}).run_ids[0]
    run, steps = wait_status(acme_runtime, services, run_id, RunStatus.FAILED)

    assert "Acme refused to grant access (invalid_grant)" in (run.error or "")
    assert steps[0].details is not None and "invalid_grant" in steps[0].details


def test_a_consent_started_from_a_page_comes_back_to_it(
    acme_runtime: Runtime, fake_server: FakeServer
) -> None:
    services = Blocking(acme_runtime.services)
    values = {"server": fake_server.url, "tenant": "t1", "client_id": "cid", "client_secret": "cs"}
    granted = (200, {"access_token": "a", "refresh_token": "r"})
    fake_server.on("POST", TOKEN_PATH, granted, granted, (400, {}))

    def state_of(consent_url: str) -> str:
        return parse_qs(urlsplit(consent_url).query)["state"][0]

    consent = services.oauth.start("acme", "acme-1", values, new=True, return_to="/connections")
    done = services.oauth.finish("acme", state_of(consent.authorize_url), "c0de")
    assert done.return_to == "/connections"
    # The API's and the command line's consents name no page.
    again = services.oauth.start("acme", "acme-1", {})
    assert services.oauth.finish("acme", state_of(again.authorize_url), "c").return_to is None

    # A failure, once the state is known, comes back to the page too, with the reason.
    back = services.oauth.start("acme", "acme-1", {}, return_to="/connections/x?y=1")
    with pytest.raises(ConsentFailed) as failed:
        services.oauth.finish("acme", state_of(back.authorize_url), None, "access_denied")
    assert failed.value.return_to == "/connections/x?y=1"
    assert failed.value.message == "Acme said: access_denied"
    assert isinstance(failed.value.__cause__, Invalid)
    back = services.oauth.start("acme", "acme-1", {}, return_to="/connections/x")
    with pytest.raises(ConsentFailed, match=r"Acme refused to grant access \(HTTP 400\)"):
        services.oauth.finish("acme", state_of(back.authorize_url), "c")
    # An unknown state has no page to go back to.
    with pytest.raises(Invalid, match="unknown or expired state"):
        services.oauth.finish("acme", "forged", "c")


def test_where_a_consent_may_come_back_to_and_under_which_name(
    acme_runtime: Runtime, fake_server: FakeServer
) -> None:
    services = Blocking(acme_runtime.services)
    values = {"server": fake_server.url, "tenant": "t1", "client_id": "cid", "client_secret": "cs"}
    for elsewhere in ("https://evil.example/", "//evil.example", "/\\evil.example", "/\t/evil"):
        with pytest.raises(Invalid, match="return_to: not a path on this site"):
            services.oauth.start("acme", "acme-1", values, return_to=elsewhere)
    with pytest.raises(Invalid) as unnamed:
        services.oauth.start("acme", " ", values)
    assert list(unnamed.value.fields) == ["name"]

    services.connections.create("probe", "taken", {})
    with pytest.raises(Conflict, match="connection 'taken' is for probe, not acme"):
        services.oauth.start("acme", "taken", values)
    services.connections.create("acme", "acme-1", {"server": fake_server.url, "tenant": "t1"})
    with pytest.raises(Conflict, match="a connection named 'acme-1' exists"):
        services.oauth.start("acme", "acme-1", values, new=True)

    # Created meanwhile under the same name: the new connection is refused, not overwritten.
    consent = services.oauth.start("acme", "acme-2", values, new=True, return_to="/c")
    services.connections.create("acme", "acme-2", {"server": "s", "tenant": "t"})
    fake_server.on("POST", TOKEN_PATH, (200, {"access_token": "a", "refresh_token": "r"}))
    state = parse_qs(urlsplit(consent.authorize_url).query)["state"][0]
    with pytest.raises(ConsentFailed, match="a connection named 'acme-2' exists"):
        services.oauth.finish("acme", state, "c")
    assert services.connections.values("acme-2") == {"server": "s", "tenant": "t"}


def test_the_consent_form_asks_for_a_client_only_when_the_install_has_none(
    make_settings: Callable[..., Settings],
) -> None:
    for configured, fields in ((False, ("client_id", "client_secret")), (True, ())):
        clients = {"acme": {"client_id": "id", "client_secret": "s"}} if configured else {}
        rt = Runtime(
            make_settings(public_url="https://m.example.com", oauth_clients=clients),
            registry=Registry([acme]),
        )
        form = rt.services.oauth.form("acme")
        assert form.fields == ("server", "tenant", *fields)
        assert form.required == fields and form.client_configured is configured
        assert form.redirect_uri == "https://m.example.com/oauth/acme/callback"
        assert (form.provider, form.advanced) == ("Acme", ())
        rt.db.dispose()


def test_a_refused_access_token_is_refreshed_once_and_the_step_tried_again(
    acme_runtime: Runtime, fake_server: FakeServer
) -> None:
    services = Blocking(acme_runtime.services)
    # Valid for an hour by its expiry, but the app ended the session early.
    token = _flow_with_expired_token(
        services, fake_server, expires_at=time.time() + 3600, action="call_api"
    )
    fake_server.on("GET", "/t1/me", (401, {"error": "invalid_token"}), (200, {}))
    fake_server.on("POST", TOKEN_PATH, (200, {"access_token": "at-fresh", "expires_in": 3600}))

    run_id = deliver(acme_runtime, token, {}).run_ids[0]
    _, steps = wait_status(acme_runtime, services, run_id, RunStatus.SUCCEEDED)

    assert (
        steps[0].output == json.dumps({"token": MASK}, ensure_ascii=False, separators=(",", ":"))
        and steps[0].attempts == 1
    )
    first, second = fake_server.received("GET", "/t1/me")
    assert first.headers["authorization"] == "Bearer old"
    assert second.headers["authorization"] == "Bearer at-fresh"
    [refresh] = fake_server.received("POST", TOKEN_PATH)
    assert {k: v[0] for k, v in refresh.form().items()}["grant_type"] == "refresh_token"
    values = services.connections.values("acme-1")
    assert values["access_token"] == "at-fresh" and values["refresh_token"] == "rt-1"


def test_a_token_refused_again_after_the_refresh_says_reconnect(
    acme_runtime: Runtime, fake_server: FakeServer
) -> None:
    services = Blocking(acme_runtime.services)
    token = _flow_with_expired_token(
        services, fake_server, expires_at=time.time() + 3600, action="call_api"
    )
    fake_server.on("GET", "/t1/me", (401, {"error": "invalid_token"}))
    fake_server.on("POST", TOKEN_PATH, (200, {"access_token": "at-fresh", "expires_in": 3600}))

    run_id = deliver(acme_runtime, token, {}).run_ids[0]
    run, _ = wait_status(acme_runtime, services, run_id, RunStatus.FAILED)

    assert "Acme refused the access token (also with a freshly refreshed token)" in (
        run.error or ""
    )
    assert "reconnect this account (connection 'acme-1')" in (run.error or "")
    assert len(fake_server.received("GET", "/t1/me")) == 2  # once, then once more: no loop
    assert len(fake_server.received("POST", TOKEN_PATH)) == 1


def test_a_connection_test_renews_an_expired_access_token_first(
    acme_runtime: Runtime, fake_server: FakeServer
) -> None:
    services = Blocking(acme_runtime.services)
    _flow_with_expired_token(services, fake_server)
    fake_server.on("POST", TOKEN_PATH, (200, {"access_token": "at-fresh", "expires_in": 3600}))
    check = services.connections.test("acme-1")
    # The app's message echoed the token: it is kept masked.
    assert (check.ok, check.message) == (True, f"reached with token {MASK}")
    assert services.connections.values("acme-1")["access_token"] == "at-fresh"


def test_a_slow_token_endpoint_fails_the_step_at_its_timeout_and_holds_nothing(
    make_settings: Callable[..., Settings], fake_server: FakeServer
) -> None:
    """The refresh is part of the step: it ends at the step's timeout, to be tried again, and
    the connection's refresh lock is given back (the retry refreshes at once)."""
    runtime = Runtime(
        make_settings(public_url="https://maillon.example.com", step_timeout=1),
        registry=Registry([acme]),
    )
    runtime.open()
    try:
        services = Blocking(runtime.services)
        token = _flow_with_expired_token(services, fake_server)
        fake_server.on("POST", TOKEN_PATH, (200, {"access_token": "at-2", "expires_in": 3600}))
        fake_server.delay = 4
        run_id = deliver(runtime, token, {}).run_ids[0]
        run_until(runtime, lambda: bool(services.runs.history(run_id)[1]))
        [step] = services.runs.history(run_id)[1]
        assert (step.status, step.error) == (
            "retrying",
            "the access token could not be renewed within 1s",
        )
        fake_server.delay = 0
        wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
    finally:
        runtime.close()


def test_a_refresh_given_up_while_it_waits_for_another_leaves_the_lock_free(
    acme_runtime: Runtime, fake_server: FakeServer
) -> None:
    services = acme_runtime.services
    _flow_with_expired_token(Blocking(services), fake_server)
    connector = acme_runtime.registry.get("acme")
    assert connector is not None
    conn = acme_runtime.connections.resolve("acme-1", connector)
    lock = services.oauth._refreshing["acme-1"]  # another task's refresh of the connection

    async def give_up_waiting() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await services.oauth.fresh("acme-1", connector, conn)
        lock.release()  # the other refresh ends
        await asyncio.sleep(0.3)

    lock.acquire()
    asyncio.run(give_up_waiting())
    assert not lock.locked()


@pytest.mark.parametrize("lifetime", ["soon", None, [], "inf"])
def test_a_token_whose_lifetime_is_no_number_is_kept_without_one(lifetime: object) -> None:
    tokens = _read(200, {"access_token": "a", "expires_in": lifetime}, "Acme")
    assert (tokens.access_token, tokens.expires_at) == ("a", None)
