from __future__ import annotations

import pytest
from pydantic import BaseModel, SecretStr

from connectors.base import Action, ActionContext, Connection, Connector
from connectors.registry import Registry


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
    Input = EchoInput
    Output = EchoOutput

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
        actions=(SendEcho,),
        connection=OptionalConnection,
        connection_optional=True,
    )
    assert not lax.needs_connection


def test_optional_connection_needs_defaults_everywhere() -> None:
    with pytest.raises(TypeError, match="all have defaults"):
        Connector(
            key="bad",
            title="Bad",
            actions=(SendEcho,),
            connection=EchoConnection,
            connection_optional=True,
        )
