"""http.send_request through the real aiohttp.ClientSession against a local recording server."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from maillon.connectors.http import HttpConnection, SendRequest, aclose_clients, connector
from maillon.connectors.http._client import _env_proxies, _ssl_context, client_for
from maillon.connectors.registry import Registry
from maillon.connectors.sdk import ActionContext, PermanentError, TransientError
from maillon.connectors.testing import FakeServer
from tests.support.server import free_port
from tests.support.tls import Cert

NO_CONN = HttpConnection()


def send(conn: HttpConnection = NO_CONN, **fields: Any) -> Any:
    """Run the action once in a fresh event loop, closing its pools before the loop ends."""

    async def go() -> Any:
        try:
            ctx = ActionContext(idempotency_key="r1:s1", attempt=1, timeout=5)
            return await SendRequest().run(ctx, conn, SendRequest.Input(**fields))
        finally:
            await aclose_clients()

    return asyncio.run(go())


# --- the connector -------------------------------------------------------------------------


def test_connector_needs_no_connection() -> None:
    _, action = Registry([connector]).resolve("http.send_request")
    assert action is SendRequest
    assert not connector.needs_connection
    assert HttpConnection.secret_fields() == {"bearer_token", "basic_password", "api_key"}


def test_connections_with_headers_are_hashable() -> None:
    a = HttpConnection(headers={"A": "1", "B": "2"}, bearer_token=SecretStr("t"))
    b = HttpConnection(headers={"B": "2", "A": "1"}, bearer_token=SecretStr("t"))
    assert a == b
    assert hash(a) == hash(b)
    assert a != HttpConnection(headers={"A": "1", "B": "2"}, bearer_token=SecretStr("other"))


def test_one_pooled_client_per_connection_and_loop() -> None:
    async def clients() -> tuple[object, object, object]:
        try:
            conn = HttpConnection(headers={"A": "1"})
            return (
                client_for(conn),
                client_for(HttpConnection(headers={"A": "1"})),
                client_for(NO_CONN),
            )
        finally:
            await aclose_clients()

    first, same, other = asyncio.run(clients())
    assert first is same
    assert first is not other
    again, _, _ = asyncio.run(clients())
    assert again is not first  # a new loop gets its own pool


def test_the_connector_closes_its_pools_when_workers_stop() -> None:
    async def pooled_then_closed() -> tuple[bool, bool]:
        try:
            client = client_for(HttpConnection(headers={"A": "1"}))
            assert connector.close is not None
            await connector.close()
            return client.closed, client_for(HttpConnection(headers={"A": "1"})) is client
        finally:
            await aclose_clients()

    closed, reused = asyncio.run(pooled_then_closed())
    assert closed and not reused


def test_least_recently_used_pool_is_closed_beyond_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("maillon.connectors.http._client._MAX_CLIENTS_PER_LOOP", 1)

    async def evict() -> bool:
        try:
            old = client_for(HttpConnection(headers={"n": "1"}))
            client_for(HttpConnection(headers={"n": "2"}))
            await asyncio.sleep(0)  # let the close task run
            return old.closed
        finally:
            await aclose_clients()

    assert asyncio.run(evict())


def test_importing_the_connector_does_not_load_aiohttp() -> None:
    # The registry imports every connector to list them; aiohttp waits for the first request.
    code = (
        "import sys, maillon.connectors.http; assert 'aiohttp' not in sys.modules, 'aiohttp loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3])


# --- requests on the wire --------------------------------------------------------------------


def test_get_with_query_returns_parsed_json(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/items", (200, {"items": [1, 2]}, {"X-Total": "2"}))

    out = send(url=fake_server.url + "items?page=1", query={"tag": ["a", "b"], "n": 3})

    assert out.status == 200
    assert out.body == {"items": [1, 2]}
    assert out.headers["x-total"] == "2"
    assert out.url.startswith(fake_server.url + "items?")
    assert out.elapsed_ms >= 0
    assert out.truncated is False
    (req,) = fake_server.received("GET", "/items")
    assert req.query == {"page": ["1"], "tag": ["a", "b"], "n": ["3"]}
    assert "idempotency-key" not in req.headers  # GET is safe: no key


def test_post_json_sends_body_and_idempotency_key(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/investors", (201, {"id": 42}))

    out = send(method="post", url=fake_server.url + "investors", json_body={"name": "Ada", "n": 1})

    assert (out.status, out.body) == (201, {"id": 42})
    (req,) = fake_server.received("POST", "/investors")
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {"name": "Ada", "n": 1}
    assert req.headers["idempotency-key"] == "r1:s1"


def test_user_idempotency_key_wins(fake_server: FakeServer) -> None:
    fake_server.on("PUT", "/x", (200, {}))
    send(method="PUT", url=fake_server.url + "x", json_body=[], headers={"idempotency-KEY": "mine"})
    assert fake_server.received("PUT", "/x")[0].headers["idempotency-key"] == "mine"


def test_form_body(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/form", (200, "thanks"))

    out = send(method="POST", url=fake_server.url + "form", form={"name": "Ada", "amount": 100})

    assert out.body == "thanks"
    (req,) = fake_server.received("POST", "/form")
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert req.form() == {"name": ["Ada"], "amount": ["100"]}


def test_raw_content_body(fake_server: FakeServer) -> None:
    fake_server.on("PATCH", "/raw", (204, b""))

    out = send(
        method="PATCH",
        url=fake_server.url + "raw",
        content="<ping/>",
        headers={"Content-Type": "application/xml"},
    )

    assert (out.status, out.body) == (204, None)
    (req,) = fake_server.received("PATCH", "/raw")
    assert (req.body, req.headers["content-type"]) == (b"<ping/>", "application/xml")


def test_raw_body_without_content_type_and_post_without_body(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/raw", (200, {}))

    send(method="POST", url=fake_server.url + "raw", content="ping")
    send(method="POST", url=fake_server.url + "raw")

    with_body, without_body = fake_server.received("POST", "/raw")
    assert with_body.body == b"ping"
    assert "content-type" not in with_body.headers
    assert without_body.headers["content-length"] == "0"
    assert "content-type" not in without_body.headers


def test_bearer_auth_in_step(fake_server: FakeServer) -> None:
    fake_server.on("DELETE", "/x", (200, {}))
    send(method="DELETE", url=fake_server.url + "x", bearer_token="s3cret")
    assert fake_server.received()[0].headers["authorization"] == "Bearer s3cret"


def test_basic_auth_in_step(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/x", (200, {}))
    send(url=fake_server.url + "x", basic_username="ada", basic_password="pw:1")
    expected = "Basic " + base64.b64encode(b"ada:pw:1").decode()
    assert fake_server.received()[0].headers["authorization"] == expected


def test_connection_base_url_headers_and_auth(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/v1/investors/7", (200, {"id": 7}))
    conn = HttpConnection(
        base_url=fake_server.url + "v1/",
        headers={"Accept": "application/json", "X-Team": "ops"},
        bearer_token=SecretStr("conn-token"),
        api_key=SecretStr("k-123"),
    )

    out = send(conn, url="investors/7", headers={"X-Team": "sales"})

    assert out.body == {"id": 7}
    headers = fake_server.received("GET", "/v1/investors/7")[0].headers
    assert headers["authorization"] == "Bearer conn-token"
    assert headers["x-api-key"] == "k-123"
    assert headers["accept"] == "application/json"
    assert headers["x-team"] == "sales"  # the step's header overrides the connection's


def test_paths_are_appended_to_the_base_url(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/v1/items", (200, {}))
    conn = HttpConnection(base_url=fake_server.url + "v1")  # no trailing slash

    send(conn, url="/items?page=2", query={"n": 1})

    (req,) = fake_server.received("GET", "/v1/items")
    assert req.query == {"page": ["2"], "n": ["1"]}


def test_query_replaces_a_key_given_in_the_url(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/items", (200, {}))
    send(url=fake_server.url + "items?page=1&sort=id", query={"page": 2, "active": True})
    (req,) = fake_server.received("GET", "/items")
    assert req.query == {"page": ["2"], "sort": ["id"], "active": ["true"]}


def test_credentials_in_the_url_are_sent_as_basic_auth(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/x", (200, {}))

    out = send(url=fake_server.url.replace("http://", "http://ada:pw@") + "x")

    expected = "Basic " + base64.b64encode(b"ada:pw").decode()
    assert fake_server.received()[0].headers["authorization"] == expected
    assert "pw" not in out.url


def test_step_auth_replaces_connection_auth(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/x", (200, {}))
    conn = HttpConnection(
        base_url=fake_server.url, basic_username="u", basic_password=SecretStr("p")
    )
    send(conn, url="x", bearer_token="step-token")
    assert fake_server.received()[0].headers["authorization"] == "Bearer step-token"


def test_credentials_never_leave_the_base_url_origin(fake_server: FakeServer) -> None:
    conn = HttpConnection(base_url=fake_server.url, bearer_token=SecretStr("t"))
    with pytest.raises(PermanentError, match="outside the connection's base URL"):
        send(conn, url=f"http://127.0.0.1:{free_port()}/steal")
    assert fake_server.received() == []


def test_relative_url_without_base_url_is_permanent() -> None:
    with pytest.raises(PermanentError, match="has no scheme"):
        send(url="api.example.com/x")


def test_redirects_are_followed(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/old", (302, "", {"Location": "/new"}))
    fake_server.on("GET", "/new", (200, {"moved": True}))
    out = send(url=fake_server.url + "old")
    assert (out.status, out.body, out.url) == (200, {"moved": True}, fake_server.url + "new")


@pytest.mark.parametrize(("redirects", "followed"), [(20, True), (21, False)])
def test_at_most_twenty_redirects_are_followed(
    fake_server: FakeServer, redirects: int, followed: bool
) -> None:
    for hop in range(redirects):
        fake_server.on("GET", f"/r{hop}", (302, "", {"Location": f"/r{hop + 1}"}))
    fake_server.on("GET", f"/r{redirects}", (200, {"hops": redirects}))

    if followed:
        assert send(url=fake_server.url + "r0").body == {"hops": redirects}
    else:
        with pytest.raises(PermanentError, match="too many redirects"):
            send(url=fake_server.url + "r0")


def test_redirects_are_not_followed_when_off(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/old", (302, "", {"Location": "/new"}))
    out = send(url=fake_server.url + "old", follow_redirects=False, raise_for_status=False)
    assert (out.status, out.headers["location"]) == (302, "/new")
    assert fake_server.received("GET", "/new") == []


def test_redirect_to_another_scheme_is_permanent(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/old", (302, "", {"Location": "ftp://127.0.0.1/file"}))
    with pytest.raises(PermanentError, match="cannot be sent"):
        send(url=fake_server.url + "old")


def test_proxy_named_by_the_environment(
    fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fake server plays the proxy: it gets the absolute URL as the request target.
    monkeypatch.setenv("HTTP_PROXY", fake_server.url)
    monkeypatch.setenv("NO_PROXY", "direct.example")
    _env_proxies.cache_clear()
    fake_server.on("GET", "/x", (200, {"via": "proxy"}))
    try:
        assert send(url="http://api.example/x").body == {"via": "proxy"}
        assert fake_server.received()[0].raw_path == "http://api.example/x"
        with pytest.raises(TransientError, match=r"ConnectError: the host name direct\.example"):
            send(url="http://direct.example/x")  # direct: offline here
    finally:
        _env_proxies.cache_clear()


def test_cookies_are_not_carried_between_requests(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/login", (200, {}, {"Set-Cookie": "session=abc; Path=/"}))
    fake_server.on("GET", "/me", (200, {}))

    async def twice() -> None:
        ctx = ActionContext(idempotency_key="r1:s1", attempt=1, timeout=5)
        try:
            for path in ("login", "me"):
                await SendRequest().run(ctx, NO_CONN, SendRequest.Input(url=fake_server.url + path))
        finally:
            await aclose_clients()

    asyncio.run(twice())
    assert "cookie" not in fake_server.received("GET", "/me")[0].headers


# --- answers ---------------------------------------------------------------------------------


def test_non_json_body_is_text(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET", "/page", (200, "<h1>héllo</h1>", {"Content-Type": "text/html; charset=utf-8"})
    )
    out = send(url=fake_server.url + "page")
    assert out.body == "<h1>héllo</h1>"


def test_text_is_decoded_with_the_declared_charset(fake_server: FakeServer) -> None:
    latin = "café".encode("latin-1")
    fake_server.on("GET", "/t", (200, latin, {"Content-Type": "text/plain; charset=latin-1"}))
    assert send(url=fake_server.url + "t").body == "café"


def test_repeated_answer_headers_are_joined(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/h", (200, {}, {"X-Tag": "a", "x-tag": "b"}))
    assert send(url=fake_server.url + "h").headers["x-tag"] == "a, b"


def test_json_suffix_types_are_parsed(fake_server: FakeServer) -> None:
    problem = '{"title": "gone"}'
    fake_server.on("GET", "/p", (200, problem, {"Content-Type": "application/problem+json"}))
    assert send(url=fake_server.url + "p").body == {"title": "gone"}


def test_body_over_the_limit_is_cut_and_flagged(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/big", (200, {"data": "x" * 5000}))

    out = send(url=fake_server.url + "big", max_body_bytes=1000)

    assert out.truncated is True
    assert isinstance(out.body, str)  # cut JSON cannot be parsed: the text is given
    assert len(out.body) == 1000


def test_limit_cannot_exceed_ten_mib() -> None:
    with pytest.raises(ValidationError, match="max_body_bytes"):
        SendRequest.Input(url="https://example.com", max_body_bytes=11 * 1024 * 1024)


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_are_transient(fake_server: FakeServer, status: int) -> None:
    fake_server.on("POST", "/x", (status, {"error": "busy"}))
    with pytest.raises(TransientError, match=f"answered {status}") as info:
        send(method="POST", url=fake_server.url + "x", json_body={})
    assert info.value.details["status"] == status


def test_rate_limit_is_transient_with_retry_after(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/x", (429, {"error": "slow down"}, {"Retry-After": "12"}))
    with pytest.raises(TransientError) as info:
        send(url=fake_server.url + "x")
    assert info.value.retry_after == 12.0


def test_retry_after_as_http_date(fake_server: FakeServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    fake_server.on("GET", "/x", (503, "maintenance", {"Retry-After": when}))
    with pytest.raises(TransientError) as info:
        send(url=fake_server.url + "x")
    assert info.value.retry_after is not None
    assert 50 < info.value.retry_after <= 60


def test_client_errors_are_permanent_without_leaking_the_query(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/missing", (404, {"error": "no such investor"}))

    with pytest.raises(PermanentError, match="answered 404 Not Found") as info:
        send(url=fake_server.url + "missing?api_key=SECRET")

    assert "SECRET" not in info.value.message
    assert info.value.details["status"] == 404
    assert "no such investor" in str(info.value.details["body"])


def test_accepted_status_is_returned(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/missing", (404, {"error": "nope"}))
    out = send(url=fake_server.url + "missing", accept_statuses=[404])
    assert (out.status, out.body) == (404, {"error": "nope"})


def test_raise_for_status_off_returns_any_answer(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/down", (500, "down"))
    out = send(url=fake_server.url + "down", raise_for_status=False)
    assert (out.status, out.body) == (500, "down")


# --- network failures ------------------------------------------------------------------------


def test_timeout_is_transient(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/slow", (200, {}))
    fake_server.delay = 0.5
    with pytest.raises(TransientError, match=r"timed out after 0\.1s"):
        send(url=fake_server.url + "slow", timeout=0.1)


def test_connection_refused_is_transient_and_said_plainly() -> None:
    port = free_port()
    with pytest.raises(TransientError) as caught:
        send(url=f"http://127.0.0.1:{port}/x")
    assert str(caught.value) == (
        f"GET http://127.0.0.1:{port}/x failed: ConnectError: 127.0.0.1:{port} refused the "
        "connection (nothing listens there?)"
    )


def test_certificates_are_checked_against_the_trust_store(
    cert: Cert, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeServer(tls=cert.server_context()).start()
    server.on("GET", "/x", (200, {"tls": True}))
    try:
        with pytest.raises(TransientError, match="ConnectError: the TLS certificate of"):
            send(url=server.url + "x")  # self-signed: untrusted
        # SSL_CERT_FILE replaces the CA bundle, as for the project's other HTTP clients.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert_file))
        _ssl_context.cache_clear()
        assert send(url=server.url + "x").body == {"tls": True}
    finally:
        _ssl_context.cache_clear()
        server.stop()


def test_undecodable_answer_is_permanent(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/gz", (200, b"not gzip at all", {"Content-Encoding": "gzip"}))
    with pytest.raises(PermanentError, match="could not be decoded"):
        send(url=fake_server.url + "gz")


# --- input validation ------------------------------------------------------------------------


def test_at_most_one_body() -> None:
    with pytest.raises(ValidationError, match="json_body and form are both set"):
        SendRequest.Input(url="https://example.com", json_body={"a": 1}, form={"b": "2"})


def test_only_http_urls() -> None:
    with pytest.raises(ValidationError, match="only http"):
        SendRequest.Input(url="file:///etc/passwd")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com:abc/", "port"),
        ("http://[::1/", "IPv6"),
        ("http://exa\x00mple.com/", "control character"),
        ("http://example.com/a\nHost: other", "control character"),
    ],
)
def test_malformed_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(ValidationError, match=f"not a valid URL: .*{why}"):
        SendRequest.Input(url=url)


def test_input_fields_are_named_as_in_flows() -> None:
    # Flows name inputs by field name; no aliases to keep in sync.
    assert {"method", "url", "headers", "query", "json_body", "form", "content"} <= set(
        SendRequest.Input.model_fields
    )
    assert all(f.alias is None for f in SendRequest.Input.model_fields.values())


def test_unencodable_header_is_permanent(fake_server: FakeServer) -> None:
    with pytest.raises(PermanentError, match="cannot be built"):
        send(url=fake_server.url + "x", headers={"X-Name": "Zoë"})
    assert fake_server.received() == []


def test_header_injection_is_permanent(fake_server: FakeServer) -> None:
    with pytest.raises(PermanentError, match="cannot be built"):
        send(url=fake_server.url + "x", headers={"X-Name": "a\r\nX-Admin: yes"})
    assert fake_server.received() == []


def test_the_connection_headers_are_not_sent_to_another_origin_on_redirect(
    fake_server: FakeServer,
) -> None:
    other = FakeServer().start()
    try:
        other.on("GET", "/elsewhere", (200, {}))
        fake_server.on("GET", "/api/x", (302, "", {"Location": other.url + "elsewhere"}))
        fake_server.on("GET", "/api/y", (302, "", {"Location": fake_server.url + "api/z"}))
        fake_server.on("GET", "/api/z", (200, {}))
        conn = HttpConnection(
            base_url=fake_server.url + "api",
            api_key=SecretStr("k-secret"),
            api_key_header="X-Key",
            headers={"X-Tenant": "t-secret"},
        )
        assert send(conn, url="x").status == 200
        assert not {"k-secret", "t-secret"} & set(other.requests[0].headers.values())
        # Within the origin, they follow.
        assert send(conn, url="y").status == 200
        assert fake_server.requests[-1].headers.get("x-key") == "k-secret"
        assert fake_server.requests[-1].headers.get("x-tenant") == "t-secret"
    finally:
        other.stop()
