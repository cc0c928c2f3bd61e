"""A connector with several app triggers: each receives its events, registrations and dedup."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from maillon.connectors.base import AppTrigger, Connection, Connector, TriggerEvent
from maillon.connectors.registry import Registry
from maillon.engine.flows import FlowDocument, FlowValidationError
from maillon.engine.intake import Accepted, UnknownHook
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.probe import probe
from tests.support.services import Blocking

registered: list[tuple[str, str, str]] = []


class MultiConnection(Connection):
    label: str = ""


class _Recording(AppTrigger[MultiConnection]):
    async def subscribe(self, conn: MultiConnection, event: str, url: str) -> None:
        registered.append((self.key, event, url))

    async def unsubscribe(self, conn: MultiConnection, event: str, url: str) -> None:
        registered.remove((self.key, event, url))


class Orders(_Recording):
    key = "orders"
    title = "Orders"
    custom_events = False

    def events(self) -> Sequence[TriggerEvent]:
        return [TriggerEvent("order_created", "An order", {"order_id": "o-1"})]

    def dedup_key(self, event: str, body: Any) -> str | None:
        return str(body.get("order_id"))  # one run per order, whatever else changed


class People(_Recording):
    key = "people"
    title = "People"

    def events(self) -> Sequence[TriggerEvent]:
        return [TriggerEvent("person_created", "A person", {"id": "p-1"})]


multi = Connector(
    key="multi", title="Multi", actions=(), connection=MultiConnection, triggers=(Orders, People)
)


@pytest.fixture
def multi_runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    registered.clear()
    rt = Runtime(make_settings(), registry=Registry([probe, multi]))
    rt.open()
    yield rt
    rt.close()


def _flow(services: Blocking, trigger: str, event: str) -> str:
    doc = FlowDocument.model_validate(
        {
            "name": f"{trigger} {event}",
            "trigger": {"type": trigger, "connection": "m1", "event": event},
            "steps": [
                {"key": "s", "action": "probe.send_echo", "connection": "p", "input": {"text": "x"}}
            ],
        }
    )
    return str(services.flows.save(doc).row.id)


def test_each_trigger_receives_its_events(multi_runtime: Runtime) -> None:
    services = Blocking(multi_runtime.services)
    services.connections.create("probe", "p", {})
    prefix = services.connections.create("multi", "m1", {}).hook_prefix
    token = prefix.rstrip("/").rsplit("/", 1)[1]
    orders = _flow(services, "multi.orders", "order_created")
    people = _flow(services, "multi.people", "person_created")
    custom = _flow(services, "multi.people", "person_archived")  # outside any catalog

    # Each flow's event was registered by the trigger that receives it.
    assert sorted(registered) == [
        ("orders", "order_created", prefix + "order_created"),
        ("people", "person_archived", prefix + "person_archived"),
        ("people", "person_created", prefix + "person_created"),
    ]
    with pytest.raises(FlowValidationError, match=r"multi\.people, not multi\.orders"):
        _flow(services, "multi.orders", "person_created")

    def post(event: str, body: dict[str, Any]) -> Accepted:
        hooks = multi_runtime.services.hooks
        return asyncio.run(hooks.app_event("multi", token, event, body, "{}", {"headers": {}}))

    def flow_of(accepted: Accepted) -> str:
        return str(services.runs.history(accepted.run_ids[0])[0].flow_id)

    first = post("order_created", {"order_id": "o-1", "total": 1})
    assert flow_of(first) == orders
    # The orders trigger's own dedup key: the same order with other content is a duplicate.
    assert post("order_created", {"order_id": "o-1", "total": 2}).duplicate
    assert flow_of(post("person_created", {"id": "p-1"})) == people
    assert flow_of(post("person_archived", {"id": "p-1"})) == custom
    hooks = multi_runtime.services.hooks
    with pytest.raises(UnknownHook):  # an app that is not installed
        asyncio.run(hooks.app_event("nope", token, "x", {}, "{}", {"headers": {}}))
    with pytest.raises(UnknownHook):  # an event name no URL of this install can have
        asyncio.run(hooks.app_event("multi", token, "Bad Name", {}, "{}", {"headers": {}}))


def test_triggers_may_not_share_an_event_or_both_take_any_event() -> None:
    class MoreOrders(Orders):
        key = "more_orders"

    with pytest.raises(TypeError, match="'order_created' is in the catalogs"):
        Connector(key="bad", title="Bad", actions=(), triggers=(Orders, MoreOrders))

    class MorePeople(People):
        key = "more_people"

        def events(self) -> Sequence[TriggerEvent]:
            return []

    with pytest.raises(TypeError, match="only one trigger may accept"):
        Connector(key="bad", title="Bad", actions=(), triggers=(People, MorePeople))
