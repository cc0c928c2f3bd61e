"""The Zoho CRM connector against a fake Zoho on a real socket, through httpx."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from maillon.connectors.sdk import AccessTokenRejected, PermanentError, TransientError
from maillon.connectors.testing import FakeServer, run_action
from maillon.connectors.zoho_crm import check_connection, connector
from maillon.connectors.zoho_crm.actions import (
    AddNote,
    CreateRecord,
    FindRecords,
    UpdateRecord,
    UpsertRecord,
)
from maillon.connectors.zoho_crm.connection import ZohoConnection
from maillon.engine.errors import Invalid
from maillon.engine.settings import Settings
from tests.connectors.crm import engine_with, form, refresh, start_consent


def _conn(server: FakeServer) -> dict[str, Any]:
    return {"access_token": "at-1", "api_domain": server.url}


def _written(record_id: str, action: str | None = None) -> tuple[int, dict[str, Any]]:
    entry: dict[str, Any] = {
        "code": "SUCCESS",
        "details": {"id": record_id},
        "message": "record added",
        "status": "success",
    }
    if action:
        entry["action"] = action
    return 201, {"data": [entry]}


def test_oauth_consent_in_a_data_centre_and_refresh(
    make_settings: Callable[..., Settings], fake_server: FakeServer
) -> None:
    with engine_with(make_settings, connector) as services:
        # The data centre is asked before consent: it decides the accounts server.
        url, query = start_consent(
            services,
            "zoho_crm",
            "z",
            {"data_centre": "zoho.eu", "client_id": "c", "client_secret": "s"},
        )
        assert url == "https://accounts.zoho.eu/oauth/v2/auth"
        # Without one, the default data centre's.
        default_url, _ = start_consent(
            services, "zoho_crm", "z2", {"client_id": "c", "client_secret": "s"}
        )
        assert default_url == "https://accounts.zoho.com/oauth/v2/auth"
        assert query["scope"] == "ZohoCRM.modules.ALL,ZohoCRM.users.READ"
        with pytest.raises(Invalid, match=r"data_centre: Input should be 'zoho\.com', 'zoho\.eu'"):
            services.oauth.start("zoho_crm", "z3", {"data_centre": "eu", "client_id": "c"})
        assert query["access_type"] == "offline" and query["prompt"] == "consent"

        # A gateway in front of Zoho's token endpoint: the fake.
        _, query = start_consent(
            services,
            "zoho_crm",
            "crm",
            {
                "data_centre": "zoho.eu",
                "client_id": "cid",
                "client_secret": "cs",
                "token_url": fake_server.url + "oauth/v2/token",
            },
        )
        fake_server.on(
            "POST",
            "/oauth/v2/token",
            (
                200,
                {
                    "access_token": "at-1",
                    "refresh_token": "rt-1",
                    "api_domain": "https://www.zohoapis.eu",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                },
            ),
            # Zoho keeps the refresh token: it sends none back.
            (
                200,
                {
                    "access_token": "at-2",
                    "api_domain": "https://www.zohoapis.eu",
                    "expires_in": 3600,
                },
            ),
        )
        services.oauth.finish("zoho_crm", query["state"], "c0de")
        values = services.connections.values("crm")
        assert values["api_domain"] == "https://www.zohoapis.eu"
        assert values["data_centre"] == "zoho.eu"

        services.connections.update("crm", {"expires_at": time.time() - 1})
        conn = refresh(services, connector, "crm")

    assert conn.base_url == "https://www.zohoapis.eu/crm/v7"
    assert conn.auth_headers() == {"Authorization": "Zoho-oauthtoken at-2"}
    assert conn.refresh_token.get_secret_value() == "rt-1"
    exchange, renewal = fake_server.received("POST", "/oauth/v2/token")
    assert form(exchange)["client_secret"] == "cs" and form(exchange)["code"] == "c0de"
    assert form(renewal) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-1",
        "client_id": "cid",
        "client_secret": "cs",
    }


def test_the_api_host_follows_the_data_centre() -> None:
    conn = ZohoConnection(data_centre="zoho.in", refresh_token="r")
    assert conn.base_url == "https://www.zohoapis.in/crm/v7"
    with pytest.raises(ValueError, match="connect the account with OAuth"):
        ZohoConnection()


def test_create_sends_the_record_and_its_automations(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/crm/v7/Contacts", _written("5725767000000411001"))

    out = asyncio.run(
        run_action(
            CreateRecord,
            _conn(fake_server),
            {
                "module": "Contacts",
                "fields": {"Last_Name": "Lovelace", "Particeep_User_Id": "u-1"},
                "trigger": ["workflow"],
            },
        )
    )

    assert out == {"id": "5725767000000411001", "created": True}
    [sent] = fake_server.received("POST", "/crm/v7/Contacts")
    assert sent.headers["authorization"] == "Zoho-oauthtoken at-1"
    assert sent.json() == {
        "data": [{"Last_Name": "Lovelace", "Particeep_User_Id": "u-1"}],
        "trigger": ["workflow"],
    }


def test_update_puts_the_changed_fields(fake_server: FakeServer) -> None:
    fake_server.on(
        "PUT", "/crm/v7/Deals/42", (200, {"data": [{"status": "success", "details": {"id": "42"}}]})
    )

    out = asyncio.run(
        run_action(
            UpdateRecord,
            _conn(fake_server),
            {"module": "Deals", "record_id": "42", "fields": {"Stage": "Closed Won"}},
        )
    )

    assert out == {"id": "42", "created": False}
    assert fake_server.received("PUT", "/crm/v7/Deals/42")[0].json() == {
        "data": [{"Stage": "Closed Won"}]
    }


def test_upsert_sends_the_key_as_the_duplicate_check_field(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/crm/v7/Leads/upsert", _written("1", "insert"), _written("1", "update"))
    step = {"module": "Leads", "key": "Email", "fields": {"Email": "ada@x.com", "Last_Name": "L"}}

    first = asyncio.run(run_action(UpsertRecord, _conn(fake_server), step))
    again = asyncio.run(run_action(UpsertRecord, _conn(fake_server), step))

    assert first == {"id": "1", "created": True} and again == {"id": "1", "created": False}
    sent = fake_server.received("POST", "/crm/v7/Leads/upsert")[0].json()
    assert sent == {
        "data": [{"Email": "ada@x.com", "Last_Name": "L"}],
        "duplicate_check_fields": ["Email"],
    }
    with pytest.raises(ValidationError, match="the key field Email needs a value"):
        asyncio.run(
            run_action(UpsertRecord, _conn(fake_server), {**step, "fields": {"Last_Name": "L"}})
        )


def test_find_reads_every_page_and_escapes_the_value(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        "/crm/v7/Contacts/search",
        (200, {"data": [{"id": "1"}, {"id": "2"}], "info": {"page": 1, "more_records": True}}),
        (200, {"data": [{"id": "3"}], "info": {"page": 2, "more_records": False}}),
        # No match: Zoho answers 204 with no body.
        (204, b""),
    )

    out = asyncio.run(
        run_action(
            FindRecords,
            _conn(fake_server),
            {"module": "Contacts", "field": "Account_Name", "value": "Acme (Paris), SA"},
        )
    )
    none = asyncio.run(
        run_action(
            FindRecords, _conn(fake_server), {"module": "Contacts", "field": "Email", "value": "x"}
        )
    )

    assert [r["id"] for r in out["records"]] == ["1", "2", "3"]
    assert out["first_id"] == "1" and out["more"] is False
    assert none == {"records": [], "count": 0, "first_id": None, "more": False}
    first, second, _ = fake_server.received("GET", "/crm/v7/Contacts/search")
    assert first.query == {
        "criteria": [r"(Account_Name:equals:Acme \(Paris\)\, SA)"],
        "page": ["1"],
        "per_page": ["200"],
    }
    assert second.query["page"] == ["2"]


def test_a_note_goes_under_its_record(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/crm/v7/Contacts/9/Notes", _written("77"))

    out = asyncio.run(
        run_action(
            AddNote,
            _conn(fake_server),
            {"module": "Contacts", "record_id": "9", "title": "Investment", "content": "1 500 €"},
        )
    )

    assert out == {"id": "77"}
    assert fake_server.received("POST", "/crm/v7/Contacts/9/Notes")[0].json() == {
        "data": [{"Note_Content": "1 500 €", "Note_Title": "Investment"}]
    }


def test_errors_are_classified(fake_server: FakeServer) -> None:
    create = {"module": "Contacts", "fields": {"Email": "ada@x.com"}}
    fake_server.on(
        "POST",
        "/crm/v7/Contacts",
        (
            400,
            {
                "data": [
                    {
                        "code": "MANDATORY_NOT_FOUND",
                        "details": {"api_name": "Last_Name", "json_path": "$.data[0].Last_Name"},
                        "message": "required field not found",
                        "status": "error",
                    }
                ]
            },
        ),
        (
            429,
            {"code": "TOO_MANY_REQUESTS", "message": "too many requests", "status": "error"},
            {"Retry-After": "5"},
        ),
        (
            401,
            {
                "code": "INVALID_TOKEN",
                "details": {},
                "message": "invalid oauth token",
                "status": "error",
            },
        ),
        # The request went through, the record did not.
        (
            202,
            {
                "data": [
                    {
                        "code": "DUPLICATE_DATA",
                        "details": {"api_name": "Email", "id": "88"},
                        "message": "duplicate data",
                        "status": "error",
                    }
                ]
            },
        ),
    )

    with pytest.raises(PermanentError) as invalid:
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    assert invalid.value.message == (
        "Zoho CRM refused to create the record in Contacts: required field not found "
        "(field Last_Name) (MANDATORY_NOT_FOUND)"
    )
    with pytest.raises(TransientError, match="TOO_MANY_REQUESTS") as limited:
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    assert limited.value.retry_after == 5.0
    with pytest.raises(AccessTokenRejected, match="invalid oauth token"):
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    with pytest.raises(PermanentError, match=r"duplicate data \(field Email\) \(DUPLICATE_DATA\)"):
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))


def test_a_credit_limit_is_transient_whatever_its_status(fake_server: FakeServer) -> None:
    fake_server.on(
        "POST",
        "/crm/v7/Contacts",
        (400, {"code": "LIMIT_EXCEEDED", "message": "API credits exhausted", "status": "error"}),
    )
    with pytest.raises(
        TransientError, match=r"Zoho CRM limits calls \(HTTP 400\): API credits exhausted"
    ):
        asyncio.run(
            run_action(CreateRecord, _conn(fake_server), {"module": "Contacts", "fields": {}})
        )


def test_the_check_says_who(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        "/crm/v7/users",
        (200, {"users": [{"full_name": "Ada Lovelace", "email": "ada@x.com"}]}),
    )
    result = asyncio.run(check_connection(ZohoConnection.model_validate(_conn(fake_server))))
    assert result.ok
    assert result.message == "Connected to Zoho CRM (zoho.com) as Ada Lovelace <ada@x.com>"
    assert fake_server.received("GET", "/crm/v7/users")[0].query == {"type": ["CurrentUser"]}
