from __future__ import annotations

import json
import tomllib
from importlib import import_module
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from maillon.connectors.google import AuthMode, GoogleConnection
from maillon.connectors.google.client import GMAIL, session
from maillon.connectors.sdk import Connector, PermanentError
from tests.support.modules import loaded_by

ROOT = Path(__file__).resolve().parents[3]
KEY = json.dumps(
    {
        "type": "service_account",
        "client_email": "robot@p.iam.gserviceaccount.com",
        "private_key": "-----BEGIN PRIVATE KEY-----\nsecret-key-material\n-----END...",
    }
)


def test_oauth_mode() -> None:
    conn = GoogleConnection(
        client_id="cid", client_secret=SecretStr("cs"), refresh_token=SecretStr("rt")
    )
    assert conn.mode is AuthMode.OAUTH
    assert GoogleConnection.secret_fields() == {
        "client_secret",
        "refresh_token",
        "access_token",
        "service_account_json",
    }


def test_service_account_mode() -> None:
    conn = GoogleConnection(service_account_json=SecretStr(KEY), subject="ada@example.com")
    assert conn.mode is AuthMode.SERVICE_ACCOUNT
    assert conn.service_account_info()["client_email"] == "robot@p.iam.gserviceaccount.com"


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({}, "configure an OAuth user"),
        (
            {
                "client_id": "c",
                "client_secret": "s",
                "refresh_token": "r",
                "service_account_json": KEY,
            },
            "not both",
        ),
        ({"client_id": "c", "client_secret": "s"}, "missing refresh_token"),
        ({"access_token": "a"}, "missing client_id, client_secret, refresh_token"),
        (
            {"client_id": "c", "client_secret": "s", "refresh_token": "r", "subject": "a@x.org"},
            "subject applies only to service accounts",
        ),
        ({"service_account_json": KEY, "subject": "ada"}, "subject is not an email address"),
        ({"service_account_json": "{not json"}, "not valid JSON"),
        ({"service_account_json": '{"type": "authorized_user"}'}, "not a service account key"),
        (
            {"service_account_json": '{"type": "service_account"}'},
            "lacks client_email, private_key",
        ),
    ],
)
def test_exactly_one_complete_mode(fields: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint) as caught:
        GoogleConnection.model_validate(fields)
    assert "secret-key-material" not in str(caught.value)


def test_connector_modules_do_not_import_the_google_client_library() -> None:
    loaded = loaded_by(
        "maillon.connectors.google.gmail",
        "maillon.connectors.google.sheets",
        "maillon.connectors.google.calendar",
        "maillon.connectors.google.drive",
        "maillon.connectors.google.oauth",
        among=("googleapiclient", "httplib2", "google_auth_httplib2", "google.oauth2"),
    )
    assert loaded == []


@pytest.mark.parametrize("name", ["gmail", "google_sheets", "google_calendar", "google_drive"])
def test_entry_points_name_the_connectors(name: str) -> None:
    # Read pyproject.toml rather than installed metadata, which may predate these entries.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = project["project"]["entry-points"]["maillon.connectors"][name]
    module, _, attribute = target.partition(":")
    connector = getattr(import_module(module), attribute)
    assert isinstance(connector, Connector)
    assert connector.key == name
    for action in connector.actions:
        assert action.Input.model_json_schema()["properties"]
        assert action.Output.model_json_schema()["properties"]


def test_all_google_connectors_share_the_connection_kind() -> None:
    from maillon.connectors.google import calendar, gmail, sheets

    kinds = {m.connector.connection for m in (gmail, sheets, calendar)}
    assert kinds == {GoogleConnection}


def test_unusable_service_account_key_is_permanent() -> None:
    conn = GoogleConnection(service_account_json=SecretStr(KEY))
    with pytest.raises(PermanentError, match="service account key cannot be used") as caught:
        session(conn, GMAIL)
    assert "secret-key-material" not in caught.value.message
