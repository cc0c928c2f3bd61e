"""The outbound policy, through the HTTP action and its real aiohttp session: refused hosts
are never connected to, whether named in the step, reached through DNS or a redirect; files
that actions download (uploads from a URL, email attachments) are held to the same rules."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from maillon.connectors.http import HttpConnection, SendRequest, aclose_clients
from maillon.connectors.outbound import (
    DEFAULT_DENY,
    OutboundPolicy,
    OutboundRefused,
    configure_outbound,
)
from maillon.connectors.sdk import ActionContext, FileInput, open_file
from maillon.connectors.smtp import SendEmail, SmtpConnection
from maillon.connectors.testing import FakeServer
from tests.support.smtp import StartServer


def send(**fields: Any) -> Any:
    async def go() -> Any:
        try:
            ctx = ActionContext(idempotency_key="r1:s1", attempt=1, timeout=5)
            return await SendRequest().run(ctx, HttpConnection(), SendRequest.Input(**fields))
        finally:
            await aclose_clients()

    return asyncio.run(go())


@pytest.fixture
def policy() -> Iterator[Any]:
    """Set the process's policy for one test; the default comes back after."""
    yield configure_outbound
    configure_outbound(OutboundPolicy())


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://100.100.100.200/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
def test_cloud_metadata_is_refused_by_default(url: str) -> None:
    # Refused before any connection: the offline guard would fail differently otherwise.
    with pytest.raises(OutboundRefused, match="refused by the outbound policy") as caught:
        send(url=url)
    assert caught.value.details["error"] == "outbound_refused"


def test_internal_services_stay_allowed_by_default(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/internal", (200, {"ok": True}))
    assert send(url=fake_server.url + "internal").body == {"ok": True}
    assert "127.0.0.0/8" not in DEFAULT_DENY


def test_a_name_is_checked_after_dns_resolution(fake_server: FakeServer, policy: Any) -> None:
    policy(OutboundPolicy(deny=("127.0.0.0/8", "::1")))
    port = fake_server.url.rsplit(":", 1)[1].rstrip("/")
    with pytest.raises(OutboundRefused, match=r"localhost .*its address is on the deny-list"):
        send(url=f"http://localhost:{port}/x")
    assert fake_server.received() == []


def test_every_redirect_is_checked(fake_server: FakeServer, policy: Any) -> None:
    policy(OutboundPolicy(deny=("127.0.0.2",)))
    port = fake_server.url.rsplit(":", 1)[1].rstrip("/")
    fake_server.on("GET", "/start", (302, "", {"Location": f"http://127.0.0.2:{port}/secret"}))
    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.2"):
        send(url=fake_server.url + "start")
    assert [r.path for r in fake_server.received()] == ["/start"]


def test_with_an_allow_list_only_listed_hosts_are_called(
    fake_server: FakeServer, policy: Any
) -> None:
    fake_server.on("GET", "/ok", (200, {"ok": True}))
    port = fake_server.url.rsplit(":", 1)[1].rstrip("/")
    policy(OutboundPolicy(allow=("10.0.0.0/8", "api.example.com")))
    with pytest.raises(OutboundRefused, match="allow-list"):
        send(url=fake_server.url + "ok")
    with pytest.raises(OutboundRefused, match="allow-list"):
        send(url=f"http://localhost:{port}/ok")  # resolved, and not in an allowed network
    policy(OutboundPolicy(allow=("127.0.0.1/32",)))
    assert send(url=fake_server.url + "ok").body == {"ok": True}
    policy(OutboundPolicy(allow=("localhost",), deny=("::1",)))
    assert send(url=f"http://localhost:{port}/ok").body == {"ok": True}  # allowed by name


def test_a_host_let_through_is_remembered_and_a_refused_one_refused_every_time() -> None:
    policy = OutboundPolicy()
    for _ in range(2):
        with pytest.raises(OutboundRefused, match="deny-list"):
            policy.check_url_host("169.254.169.254")
        with pytest.raises(OutboundRefused, match="deny-list"):
            policy.check_url_host("metadata.google.internal")
        policy.check_url_host("127.0.0.1")
        policy.check_url_host("api.example.com")
    # What one policy remembers is its own: another with other rules judges afresh.
    strict = OutboundPolicy(deny=("127.0.0.0/8",))
    with pytest.raises(OutboundRefused):
        strict.check_url_host("127.0.0.1")
    assert policy == OutboundPolicy() and hash(policy) == hash(OutboundPolicy())


def test_files_downloaded_by_actions_are_held_to_the_policy(
    fake_server: FakeServer, smtp_server: StartServer, policy: Any
) -> None:
    # 127.0.0.2 stands for the metadata address: an address written in the URL, which no
    # resolver sees, is refused before any connection (none listens there: a connection
    # would fail otherwise, and differently).
    policy(OutboundPolicy(deny=("127.0.0.2",)))
    port = fake_server.url.rsplit(":", 1)[1].rstrip("/")
    stolen = f"http://127.0.0.2:{port}/latest/meta-data/"
    fake_server.on("GET", "/file", (302, "", {"Location": stolen}))
    ctx = ActionContext(idempotency_key="r1:s1", attempt=1, timeout=5)

    async def download(url: str) -> None:
        try:
            async with open_file(FileInput(url=url), max_bytes=1000, timeout=5):
                pass
        finally:
            await aclose_clients()

    server = smtp_server("none")
    connection = SmtpConnection(host="127.0.0.1", port=server.port, from_address="a@b.example")

    async def mail(url: str) -> None:
        data = SendEmail.Input(to="a@b.example", subject="s", text="x", attachments=[{"url": url}])
        try:
            await SendEmail().run(ctx, connection, data)
        finally:
            await aclose_clients()

    for load in (download, mail):
        for url in (stolen, fake_server.url + "file"):
            with pytest.raises(OutboundRefused, match=r"127\.0\.0\.2"):
                asyncio.run(load(url))
    assert server.handler.messages == []
