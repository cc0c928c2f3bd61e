"""Which fields a connection takes, said when a wrong one is given and on request."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from maillon.connectors.registry import Registry
from maillon.engine.errors import Invalid
from maillon.engine.runtime import Runtime
from maillon.engine.services.connections import ConnectionField, UnknownField
from maillon.engine.settings import Settings
from tests.support.services import Blocking


@pytest.fixture
def installed(make_settings: Callable[..., Settings]) -> Iterator[Blocking]:
    """The services with the installed connectors (Slack, HTTP, Google, ...)."""
    runtime = Runtime(make_settings())
    runtime.open()
    yield Blocking(runtime.services)
    runtime.close()


def test_a_misspelt_field_lists_the_apps_fields(installed: Blocking) -> None:
    with pytest.raises(UnknownField) as caught:
        installed.connections.put("slack", "team", {"bot_tokn": "xoxb-1"})
    assert caught.value.problems == [
        "the fields of slack connections are: bot_token, webhook_url, base_url",
        "values.bot_tokn: slack connections have no field 'bot_tokn' (did you mean bot_token?)",
    ]
    # Tied to the input as the API's body and the UI's form name it.
    assert caught.value.fields == {
        "values.bot_tokn": "slack connections have no field 'bot_tokn' (did you mean bot_token?)"
    }
    assert caught.value.choices == installed.connections.fields("slack")
    assert installed.connections.all() == []


def test_fields_are_described_in_one_line(installed: Blocking) -> None:
    fields = {f.name: f for f in installed.connections.fields("slack")}
    assert fields["bot_token"] == ConnectionField(
        name="bot_token",
        summary="Bot token: Bot User OAuth Token of your Slack app (starts with xoxb-).",
        secret=True,
        required=False,
    )
    assert fields["base_url"].default == "https://slack.com/api/"
    smtp = {f.name: f for f in installed.connections.fields("smtp")}
    assert smtp["host"].required and smtp["host"].summary == "Server"
    assert smtp["security"].default == "starttls"


def test_unknown_apps_list_every_installed_one(installed: Blocking) -> None:
    with pytest.raises(Invalid) as caught:
        installed.connections.put("nope", "x", {})
    kinds = Registry().kinds()  # HTTP's optional connection among them
    assert {"google", "http", "particeep", "slack", "smtp"} <= set(kinds)
    assert caught.value.problems == [f"unknown app 'nope' (installed: {', '.join(kinds)})"]
    with pytest.raises(
        Invalid, match="gmail uses google connections: save the connection as app 'google'"
    ):
        installed.connections.fields("gmail")
    # HTTP connections are saved like any other.
    assert installed.connections.put("http", "crm", {"base_url": "https://crm.example.com/"})
