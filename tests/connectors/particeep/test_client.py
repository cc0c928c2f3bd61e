from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.particeep import ParticeepAuthError, ParticeepClient, ParticeepConnection
from maillon.connectors.particeep.signing import PTPAuth
from maillon.connectors.sdk import PermanentError, TransientError
from maillon.connectors.testing import FakeServer
from tests.connectors.particeep.conftest import API_KEY, API_SECRET

pytestmark = pytest.mark.anyio


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- connection model ----------------------------------------------------------------------


def test_environments_choose_the_base_url() -> None:
    secret = SecretStr("s")
    assert (
        ParticeepConnection(api_key="k", api_secret=secret).api_base_url
        == "https://api.particeep.com/v1"
    )
    assert (
        ParticeepConnection(api_key="k", api_secret=secret, environment="test").api_base_url
        == "https://test-api.particeep.com/v1"
    )
    custom = ParticeepConnection(
        api_key="k", api_secret=secret, environment="custom", base_url="http://127.0.0.1:9/v1/"
    )
    assert custom.api_base_url == "http://127.0.0.1:9/v1"
    with pytest.raises(ValidationError, match="needs a base_url"):
        ParticeepConnection(api_key="k", api_secret=secret, environment="custom")


def test_the_secret_stays_hidden_and_marked() -> None:
    conn = ParticeepConnection(api_key="k", api_secret=SecretStr("top-secret"))
    assert "top-secret" not in repr(conn)
    assert ParticeepConnection.secret_fields() == {"api_secret"}


# -- authentication against the fake API ---------------------------------------------------


async def test_check_connection_ok(client: ParticeepClient) -> None:
    check = await client.check_connection()
    assert check.ok
    assert check.outcome == "ok"


async def test_a_bad_secret_is_refused_by_the_fake(particeep: FakeParticeep) -> None:
    async with ParticeepClient(particeep.url, API_KEY, "wrong-secret") as api:
        with pytest.raises(ParticeepAuthError, match="Particeep refused the API keys") as caught:
            await api.list_webhooks()
        check = await api.check_connection()
    assert isinstance(caught.value, PermanentError)
    assert caught.value.details["status"] == 401
    assert check.outcome == "bad_keys"
    assert check.message.startswith("Particeep refused the API keys: check the key pair")
    assert {c.status for c in particeep.received("GET", "/webhook/all")} == {401}


async def test_an_unreachable_api_is_transient() -> None:
    async with ParticeepClient(f"http://127.0.0.1:{_free_port()}/v1", API_KEY, API_SECRET) as api:
        with pytest.raises(TransientError, match="unreachable"):
            await api.list_webhooks()
        check = await api.check_connection()
    assert check.outcome == "unreachable"


@pytest.mark.parametrize(
    ("skew", "status"), [(timedelta(minutes=4), 200), (timedelta(minutes=-6), 401)]
)
def test_the_fake_rejects_dates_more_than_five_minutes_off(
    particeep: FakeParticeep, skew: timedelta, status: int
) -> None:
    auth = PTPAuth(API_KEY, API_SECRET, clock=lambda: datetime.now(UTC) + skew)
    with httpx.Client(auth=auth) as http:
        assert http.get(particeep.url + "/webhook/all").status_code == status


def test_the_fake_needs_a_signature_except_on_ping(particeep: FakeParticeep) -> None:
    with httpx.Client() as http:
        assert http.get(particeep.url + "/ping").status_code == 200
        refused = http.get(particeep.url + "/webhook/all")
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["technicalCode"] == "error.api.unauthorized"


# -- webhooks ------------------------------------------------------------------------------


async def test_create_list_edit_delete_webhooks(
    client: ParticeepClient, particeep: FakeParticeep
) -> None:
    created = await client.create_webhook("user_created", "https://m.example/hooks/u")
    assert created.name == "user_created"
    assert created.id
    put = particeep.received("PUT", "/webhook")[0]
    assert put.body == {"name": "user_created", "url": "https://m.example/hooks/u"}

    assert await client.list_webhooks() == [created]

    edited = await client.edit_webhook(created.id, "user_updated", "https://m.example/hooks/v")
    assert (edited.id, edited.name, edited.url) == (
        created.id,
        "user_updated",
        "https://m.example/hooks/v",
    )
    assert particeep.webhooks()[0]["name"] == "user_updated"

    await client.delete_webhook(created.id)
    assert particeep.webhooks() == []
    assert await client.list_webhooks() == []


async def test_the_five_webhooks_limit_is_a_permanent_error_with_particeeps_message(
    client: ParticeepClient,
) -> None:
    for i in range(5):
        await client.create_webhook("transaction_created", f"https://crm.example/{i}")
    with pytest.raises(PermanentError) as caught:
        await client.create_webhook("transaction_created", "https://m.example/hooks/t")
    error = caught.value
    assert not isinstance(error, TransientError)
    assert error.message == (
        "Particeep refused to register a webhook for transaction_created: The event "
        "transaction_created already has 5 webhooks: at most 5 are allowed per event"
    )
    assert error.details["status"] == 400
    assert error.details["technical_code"] == "error.webhook.limit_reached"


async def test_other_4xx_carry_particeeps_message(client: ParticeepClient) -> None:
    with pytest.raises(PermanentError, match="A webhook needs a name and a url"):
        await client.create_webhook("", "https://m.example/hooks/t")


async def test_404_is_permanent_and_names_the_missing_thing(client: ParticeepClient) -> None:
    with pytest.raises(PermanentError, match="Particeep has no webhook nope") as caught:
        await client.delete_webhook("nope")
    assert caught.value.details["status"] == 404
    assert not isinstance(caught.value, ParticeepAuthError)


async def test_ids_cannot_change_the_route(
    client: ParticeepClient, particeep: FakeParticeep
) -> None:
    with pytest.raises(PermanentError, match="no user"):
        await client.get_user("../webhook/all")
    [call] = particeep.calls
    assert (call.path, call.status) == ("/v1/user/..%2Fwebhook%2Fall", 404)


# -- transient failures and odd answers (scripted with the generic fake server) -------------


@pytest.mark.parametrize(
    ("answer", "retry_after"),
    [
        ((503, "down for maintenance", {"Retry-After": "7"}), 7.0),
        (
            (
                429,
                {"errors": [{"technicalCode": "rate", "message": "slow down"}]},
                {"Retry-After": "0"},
            ),
            0.0,
        ),
        ((500, {"hasError": True, "errors": []}), None),
        ((502, "<html>Bad gateway</html>"), None),
    ],
)
async def test_429_and_5xx_are_transient_with_retry_after(
    fake_server: FakeServer, answer: tuple[Any, ...], retry_after: float | None
) -> None:
    fake_server.on("GET", "/v1/webhook/all", answer)
    async with ParticeepClient(fake_server.url + "v1", API_KEY, API_SECRET) as api:
        with pytest.raises(TransientError) as caught:
            await api.list_webhooks()
        check = await api.check_connection()
    assert caught.value.retry_after == retry_after
    assert caught.value.details["status"] == answer[0]
    assert check.outcome == "error"
    assert str(answer[0]) in check.message


async def test_a_timeout_is_transient(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/v1/user/u1", (200, {"id": "u1"}))
    fake_server.delay = 0.5
    async with ParticeepClient(fake_server.url + "v1", API_KEY, API_SECRET, timeout=0.1) as api:
        with pytest.raises(TransientError, match="did not answer in time"):
            await api.get_user("u1")


async def test_a_paginated_webhook_list_is_read_too(fake_server: FakeServer) -> None:
    webhook = {"id": "w1", "name": "user_created", "url": "https://m.example/h", "extra": 1}
    fake_server.on("GET", "/v1/webhook/all", (200, {"data": [webhook], "total_size": 1}))
    async with ParticeepClient(fake_server.url + "v1", API_KEY, API_SECRET) as api:
        [listed] = await api.list_webhooks()
    assert (listed.id, listed.name, listed.url) == ("w1", "user_created", "https://m.example/h")


async def test_an_unreadable_success_is_permanent(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/v1/transaction/t1", (200, "<html>login</html>"))
    fake_server.on("GET", "/v1/user/u1", (200, {"email": "no id"}))
    async with ParticeepClient(fake_server.url + "v1", API_KEY, API_SECRET) as api:
        with pytest.raises(PermanentError, match="not JSON"):
            await api.get_transaction("t1")
        with pytest.raises(PermanentError, match="user that Maillon cannot read"):
            await api.get_user("u1")
