from __future__ import annotations

import pytest

from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.particeep import (
    ParticeepClient,
    Webhook,
    ensure_registered,
    ensure_unregistered,
    hook_url,
    plan_drift,
    repair_drift,
)
from maillon.connectors.sdk import PermanentError
from maillon.connectors.testing import FakeServer
from tests.connectors.particeep.conftest import API_KEY, API_SECRET

PREFIX = "https://maillon.example/hooks/particeep/tok1/"
anyio = pytest.mark.anyio


def wh(id: str, name: str, url: str) -> Webhook:
    return Webhook(id=id, name=name, url=url)


def test_hook_url_joins_prefix_and_event() -> None:
    assert hook_url(PREFIX, "user_created") == PREFIX + "user_created"
    assert hook_url(PREFIX.rstrip("/"), "user_created") == PREFIX + "user_created"


# -- ensure_registered / ensure_unregistered -----------------------------------------------


@anyio
async def test_ensure_registered_never_creates_twice(
    client: ParticeepClient, particeep: FakeParticeep
) -> None:
    url = hook_url(PREFIX, "transaction_created")
    first = await ensure_registered(client, "transaction_created", url)
    again = await ensure_registered(client, "transaction_created", url)
    assert again == first
    assert len(particeep.received("PUT", "/webhook")) == 1
    assert [(w["name"], w["url"]) for w in particeep.webhooks()] == [("transaction_created", url)]


@anyio
async def test_ensure_registered_reuses_a_webhook_made_in_the_back_office(
    client: ParticeepClient, particeep: FakeParticeep
) -> None:
    url = hook_url(PREFIX, "user_created")
    existing = particeep.add_webhook("user_created", url)
    webhook = await ensure_registered(client, "user_created", url)
    assert webhook.id == existing["id"]
    assert particeep.received("PUT", "/webhook") == []


@anyio
async def test_the_limit_is_explained_after_particeeps_message(
    client: ParticeepClient, particeep: FakeParticeep
) -> None:
    for i in range(5):
        particeep.add_webhook("user_created", f"https://crm.example/hook/{i}")
    with pytest.raises(PermanentError) as caught:
        await ensure_registered(client, "user_created", hook_url(PREFIX, "user_created"))
    message = caught.value.message
    assert "The event user_created already has 5 webhooks" in message  # Particeep's words
    assert "remove one in Particeep's back office" in message
    assert caught.value.details["webhooks_for_event"] == 5
    assert caught.value.details["status"] == 400
    assert len(particeep.webhooks()) == 5


@anyio
async def test_ensure_unregistered_removes_only_that_pair(
    client: ParticeepClient, particeep: FakeParticeep
) -> None:
    url = hook_url(PREFIX, "user_created")
    particeep.add_webhook("user_created", url)
    particeep.add_webhook("user_created", url)  # a duplicate left by a race
    kept = [
        particeep.add_webhook("user_created", "https://crm.example/hook"),
        particeep.add_webhook("user_updated", url),
    ]
    removed = await ensure_unregistered(client, "user_created", url)
    assert len(removed) == 2
    assert particeep.webhooks() == kept
    assert await ensure_unregistered(client, "user_created", url) == []


@anyio
async def test_ensure_unregistered_takes_a_404_as_already_gone(fake_server: FakeServer) -> None:
    url = hook_url(PREFIX, "user_created")
    listed = {"id": "w1", "name": "user_created", "url": url}
    fake_server.on("GET", "/v1/webhook/all", (200, [listed]))
    fake_server.on("DELETE", "/v1/webhook/w1", (404, {"errors": [{"message": "gone"}]}))
    async with ParticeepClient(fake_server.url + "v1", API_KEY, API_SECRET) as api:
        removed = await ensure_unregistered(api, "user_created", url)
    assert [w.id for w in removed] == ["w1"]


# -- drift ---------------------------------------------------------------------------------


def test_plan_drift_creates_missing_and_deletes_unwanted_under_the_prefix() -> None:
    existing = [
        wh("1", "user_created", PREFIX + "user_created"),  # wanted, present
        wh("2", "user_deleted", PREFIX + "user_deleted"),  # no flow any more
        wh("3", "user_created", PREFIX + "user_created"),  # duplicate
        wh("4", "user_deleted", "https://crm.example/particeep"),  # the customer's own
        wh("5", "user_created", "https://maillon.example/hooks/particeep/tok10/user_created"),
        wh("6", "user_updated", PREFIX + "user_created"),  # our URL, wrong event
    ]
    wanted = {
        ("user_created", PREFIX + "user_created"),
        ("transaction_created", PREFIX + "transaction_created"),
    }
    to_create, to_delete = plan_drift(existing, wanted, PREFIX)
    assert to_create == [("transaction_created", PREFIX + "transaction_created")]
    assert [w.id for w in to_delete] == ["2", "3", "6"]


def test_plan_drift_with_nothing_wanted_clears_only_this_install() -> None:
    existing = [wh("1", "user_created", PREFIX + "user_created"), wh("2", "x_y", "https://o/")]
    plan = plan_drift(existing, set(), PREFIX)
    assert plan.to_create == []
    assert [w.id for w in plan.to_delete] == ["1"]


def test_plan_drift_refuses_wanted_urls_outside_the_prefix() -> None:
    with pytest.raises(ValueError, match="outside the prefix"):
        plan_drift([], {("user_created", "https://elsewhere.example/h")}, PREFIX)


@anyio
async def test_repair_drift_converges_and_reports_refusals(
    client: ParticeepClient, particeep: FakeParticeep
) -> None:
    for i in range(5):
        particeep.add_webhook("user_updated", f"https://crm.example/{i}")
    stale = particeep.add_webhook("user_deleted", PREFIX + "user_deleted")
    wanted = {(e, hook_url(PREFIX, e)) for e in ("user_created", "user_updated")}

    report = await repair_drift(client, wanted, PREFIX)

    assert [w.id for w in report.deleted] == [stale["id"]]
    assert [(w.name, w.url) for w in report.created] == [("user_created", PREFIX + "user_created")]
    [(event, url, message)] = report.failed
    assert (event, url) == ("user_updated", PREFIX + "user_updated")
    assert "already has 5 webhooks" in message
    again = await repair_drift(client, {("user_created", PREFIX + "user_created")}, PREFIX)
    assert (again.created, again.deleted, again.failed) == ([], [], [])
