from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from importlib.metadata import EntryPoint

import pytest
from pydantic import BaseModel, SecretStr

from maillon.connectors import registry as registry_module
from maillon.connectors.particeep import connector as particeep
from maillon.connectors.registry import ENTRY_POINT_GROUP, Registry
from maillon.connectors.sdk import Action, ActionContext, Connection, Connector
from tests.support.modules import loaded_by


class EchoConnection(Connection):
    token: SecretStr
    region: str = "eu"


class EchoInput(BaseModel):
    text: str


class EchoOutput(BaseModel):
    text: str


class SendEcho(Action[EchoConnection, EchoInput, EchoOutput]):
    key = "send_echo"
    title = "Send an echo"

    def run(self, ctx: ActionContext, conn: EchoConnection, data: EchoInput) -> EchoOutput:
        return EchoOutput(text=data.text)


echo = Connector(key="echo", title="Echo", actions=(SendEcho,), connection=EchoConnection)


def test_resolve_action_by_dotted_name() -> None:
    registry = Registry([echo])
    connector, action = registry.resolve("echo.send_echo")
    assert connector is echo
    assert action is SendEcho


@pytest.mark.parametrize(
    ("ref", "reason"),
    [("nope.send_echo", "unknown connector 'nope'"), ("echo.nope", "has no action 'nope'")],
)
def test_resolve_unknown_names_say_why(ref: str, reason: str) -> None:
    with pytest.raises(LookupError, match=reason):
        Registry([echo]).resolve(ref)


def test_secret_fields_are_the_secretstr_ones() -> None:
    assert EchoConnection.secret_fields() == {"token"}
    assert echo.needs_connection


def test_connections_are_hashable_for_client_caches() -> None:
    a = EchoConnection(token=SecretStr("t"))
    b = EchoConnection(token=SecretStr("t"))
    assert hash(a) == hash(b)


class OptionalConnection(Connection):
    token: SecretStr | None = None


def test_optional_connection_means_steps_may_name_none() -> None:
    lax = Connector(
        key="lax",
        title="Lax",
        actions=(),
        connection=OptionalConnection,
        connection_optional=True,
    )
    assert not lax.needs_connection
    # Steps may name none, but a connection may still be saved (an API's token).
    bare = Connector(key="bare", title="Bare", actions=())
    assert Registry([lax, echo, bare]).kinds() == ["echo", "lax"]


def test_optional_connection_needs_defaults_everywhere() -> None:
    with pytest.raises(TypeError, match="all have defaults"):
        Connector(
            key="bad",
            title="Bad",
            actions=(SendEcho,),
            connection=EchoConnection,
            connection_optional=True,
        )


def _installed(*eps: EntryPoint) -> Callable[..., list[EntryPoint]]:
    """Stands in for ``importlib.metadata.entry_points`` with these entry points installed."""

    def select(*, group: str, name: str | None = None) -> list[EntryPoint]:
        return [ep for ep in eps if ep.group == group and name in (None, ep.name)]

    return select


_ECHO = EntryPoint("echo", f"{__name__}:echo", ENTRY_POINT_GROUP)
_BROKEN = EntryPoint("broken", f"{__name__}:no_such_connector", ENTRY_POINT_GROUP)


def test_get_loads_only_the_entry_point_of_that_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(registry_module, "entry_points", _installed(_ECHO, _BROKEN))
    registry = Registry()
    assert registry.get("echo") is echo
    assert not caplog.records  # the broken one was not tried

    with caplog.at_level(logging.ERROR):
        assert registry.all() == [echo]
        assert registry.all() == [echo]
    assert [r.getMessage() for r in caplog.records] == [
        f"connector broken ({__name__}:no_such_connector) failed to load; ignored"
    ]


def test_get_looks_through_every_entry_point_when_none_has_the_key_as_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renamed = EntryPoint("echo-connector", f"{__name__}:echo", ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry_module, "entry_points", _installed(renamed))
    registry = Registry()
    assert registry.get("echo") is echo
    assert registry.get("nope") is None


def test_loading_connectors_does_not_import_their_client_libraries() -> None:
    # Incoming app hooks and the catalog load connectors; only running a step needs the client.
    loaded = loaded_by(
        "maillon.connectors.particeep",
        "maillon.connectors.slack",
        "maillon.connectors.smtp",
        among=("httpx", "slack_sdk"),
    )
    assert loaded == []


def test_aclose_runs_every_close_hook_even_after_one_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed: list[str] = []

    async def broken() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        closed.append("fine")

    registry = Registry(
        [
            Connector(key="a", title="A", actions=(), close=broken),
            Connector(key="b", title="B", actions=(), close=fine),
            echo,
        ]
    )
    with caplog.at_level(logging.ERROR):
        asyncio.run(registry.aclose())
    assert closed == ["fine"]
    assert "closing connector a failed" in caplog.text


@pytest.mark.parametrize("second_call", ["all", "get"])
def test_a_connector_one_thread_is_loading_is_not_missed_by_another(
    monkeypatch: pytest.MonkeyPatch, second_call: str
) -> None:
    """A second caller waits for an import in progress instead of skipping the connector."""
    loading, release = threading.Event(), threading.Event()

    class SlowEntryPoint(EntryPoint):
        def load(self) -> object:
            loading.set()
            release.wait(5)
            return echo

    slow = SlowEntryPoint("echo", f"{__name__}:echo", ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry_module, "entry_points", _installed(slow))
    registry = Registry()
    answers: list[object] = []
    first = threading.Thread(target=lambda: answers.append(registry.get("echo")))
    first.start()
    assert loading.wait(5)
    call: Callable[[], object] = (
        registry.all if second_call == "all" else lambda: registry.get("echo")
    )
    second = threading.Thread(target=lambda: answers.append(call()))
    second.start()
    second.join(0.5)  # it must wait for the import in progress, not answer without it
    release.set()
    first.join(5)
    second.join(5)
    assert answers == [echo, [echo] if second_call == "all" else echo]


def test_an_app_event_is_named_by_its_title_in_the_readers_language() -> None:
    registry = Registry([particeep])
    assert registry.event_title("particeep.event", "transaction_created", "en") == (
        "Transaction created"
    )
    assert registry.event_title("particeep.event", "transaction_created", "fr") == (
        "Transaction créée"
    )
    # An event, a trigger or an app nobody lists is named as it is written.
    assert registry.event_title("particeep.event", "deal_signed", "fr") == "deal_signed"
    assert registry.event_title("particeep.nope", "x", "fr") == "x"
    assert registry.event_title("nope.event", "x", "fr") == "x"
