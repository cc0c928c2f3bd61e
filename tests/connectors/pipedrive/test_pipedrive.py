"""The Pipedrive connector against a fake Pipedrive on a real socket, through httpx."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any

import pytest

from maillon.connectors.pipedrive import check_connection, connector
from maillon.connectors.pipedrive.actions import (
    AddNote,
    CreateRecord,
    FindRecords,
    UpdateRecord,
    UpsertRecord,
)
from maillon.connectors.pipedrive.connection import PipedriveConnection
from maillon.connectors.sdk import AccessTokenRejected, PermanentError, TransientError
from maillon.connectors.testing import FakeServer, run_action
from maillon.engine.settings import Settings
from tests.connectors.crm import engine_with, form, refresh, start_consent

KEY = "6a8c0f2e4b1d3a5c7e9f0a2b4c6d8e0f1a3b5c7d"  # a custom field's API key


def _conn(server: FakeServer, **values: Any) -> dict[str, Any]:
    return {"api_token": "tok-1", "api_url": server.url, **values}


def _ok(data: Any, **extra: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"success": True, "data": data, **extra}


def test_oauth_consent_stores_the_company_api_domain_and_refreshes(
    make_settings: Callable[..., Settings], fake_server: FakeServer
) -> None:
    with engine_with(make_settings, connector) as services:
        url, query = start_consent(
            services,
            "pipedrive",
            "sales",
            {"client_id": "cid", "client_secret": "cs", "token_url": fake_server.url + "token"},
        )
        assert url == "https://oauth.pipedrive.com/oauth/authorize"
        assert query["client_id"] == "cid" and "scope" not in query  # set in the app's settings
        fake_server.on(
            "POST",
            "/token",
            (
                200,
                {
                    "access_token": "at-1",
                    "refresh_token": "rt-1",
                    "expires_in": 3599,
                    "api_domain": "https://acme.pipedrive.com",
                },
            ),
            (200, {"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 3599}),
        )
        services.oauth.finish("pipedrive", query["state"], "c0de")
        values = services.connections.values("sales")
        assert values["api_url"] == "https://acme.pipedrive.com"
        assert values["access_token"] == "at-1"

        services.connections.update("sales", {"expires_at": time.time() - 1})
        conn = refresh(services, connector, "sales")

    assert conn.access_token.get_secret_value() == "at-2"
    assert conn.auth_headers() == {"Authorization": "Bearer at-2"}
    first, second = fake_server.received("POST", "/token")
    # Pipedrive wants the client in HTTP Basic, not in the form.
    assert first.headers["authorization"] == "Basic " + base64.b64encode(b"cid:cs").decode()
    assert form(first)["grant_type"] == "authorization_code" and "client_secret" not in form(first)
    assert form(second) == {"grant_type": "refresh_token", "refresh_token": "rt-1"}


def test_the_connection_needs_one_way_in_and_a_company() -> None:
    with pytest.raises(ValueError, match="give an API token, or connect"):
        PipedriveConnection(company_domain="acme")
    with pytest.raises(ValueError, match="company domain"):
        PipedriveConnection(api_token="t")
    conn = PipedriveConnection(api_token="t", company_domain="https://acme.pipedrive.com/")
    assert conn.base_url == "https://acme.pipedrive.com"
    assert conn.auth_headers() == {"x-api-token": "t"}
    # What cannot be a host name is said when the connection is saved.
    for wrong in ("bad domain X", "acme.evil.com/x", "-acme"):
        with pytest.raises(ValueError, match=r"the part before \.pipedrive\.com"):
            PipedriveConnection(api_token="t", company_domain=wrong)


def test_create_sends_standard_and_custom_fields(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/api/v2/persons", _ok({"id": 42, "name": "Ada Lovelace"}))

    out = asyncio.run(
        run_action(
            CreateRecord,
            _conn(fake_server),
            {
                "item_type": "persons",
                "fields": {"name": "Ada Lovelace", "emails": [{"value": "ada@example.com"}]},
                "custom_fields": {KEY: "u-1"},
            },
        )
    )

    assert out == {"id": "42", "created": True}
    [sent] = fake_server.received("POST", "/api/v2/persons")
    assert sent.headers["x-api-token"] == "tok-1"
    assert "api_token" not in sent.query
    assert sent.json() == {
        "name": "Ada Lovelace",
        "emails": [{"value": "ada@example.com"}],
        "custom_fields": {KEY: "u-1"},
    }


def test_update_patches_the_record(fake_server: FakeServer) -> None:
    fake_server.on("PATCH", "/api/v2/deals/7", _ok({"id": 7}))

    out = asyncio.run(
        run_action(
            UpdateRecord,
            _conn(fake_server),
            {"item_type": "deals", "record_id": 7, "fields": {"status": "won"}},
        )
    )

    assert out == {"id": "7", "created": False}
    assert fake_server.received("PATCH", "/api/v2/deals/7")[0].json() == {"status": "won"}


def test_upsert_by_email_updates_the_one_person_found(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        "/api/v2/persons/search",
        _ok(
            {
                "items": [
                    {"item": {"id": 5, "emails": ["ada@example.com"]}},
                    # Pipedrive's search also matches a longer address; it is not this key.
                    {"item": {"id": 6, "emails": ["ada@example.com.au"]}},
                ]
            }
        ),
    )
    fake_server.on("PATCH", "/api/v2/persons/5", _ok({"id": 5}))

    out = asyncio.run(
        run_action(
            UpsertRecord,
            _conn(fake_server),
            {
                "item_type": "persons",
                "key": "email",
                "value": "ada@example.com",
                "fields": {"name": "Ada"},
            },
        )
    )

    assert out == {"id": "5", "created": False}
    [search] = fake_server.received("GET", "/api/v2/persons/search")
    assert search.query == {
        "term": ["ada@example.com"],
        "fields": ["email"],
        "exact_match": ["true"],
        "limit": ["100"],
    }
    assert fake_server.received("PATCH", "/api/v2/persons/5")[0].json() == {"name": "Ada"}
    assert fake_server.received("POST", "/api/v2/persons") == []


def test_upsert_creates_with_the_key_when_nothing_matches(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/api/v2/persons/search", _ok({"items": []}))
    fake_server.on("POST", "/api/v2/persons", _ok({"id": 9}))

    by_email = {"item_type": "persons", "key": "email", "value": "ada@example.com"}
    assert asyncio.run(run_action(UpsertRecord, _conn(fake_server), by_email))["created"]
    by_custom = {"item_type": "persons", "key": KEY, "value": "u-1", "fields": {"name": "Ada"}}
    assert asyncio.run(run_action(UpsertRecord, _conn(fake_server), by_custom)) == {
        "id": "9",
        "created": True,
    }

    _, second = fake_server.received("GET", "/api/v2/persons/search")
    assert second.query["fields"] == ["custom_fields"] and second.query["term"] == ["u-1"]
    created_by_email, created_by_custom = fake_server.received("POST", "/api/v2/persons")
    assert created_by_email.json() == {"emails": [{"value": "ada@example.com", "primary": True}]}
    assert created_by_custom.json() == {"name": "Ada", "custom_fields": {KEY: "u-1"}}


def test_upsert_refuses_a_key_that_several_records_share(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        "/api/v2/organizations/search",
        _ok({"items": [{"item": {"id": 1}}, {"item": {"id": 2}}]}),
    )
    with pytest.raises(PermanentError, match="2 records with name = 'Acme'"):
        asyncio.run(
            run_action(
                UpsertRecord,
                _conn(fake_server),
                {"item_type": "organizations", "key": "name", "value": "Acme"},
            )
        )


def test_find_follows_the_cursor_across_pages(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        "/api/v2/deals/search",
        _ok(
            {"items": [{"item": {"id": 1}}, {"item": {"id": 2}}]},
            additional_data={"next_cursor": "c2"},
        ),
        _ok({"items": [{"item": {"id": 3}}]}, additional_data={"next_cursor": None}),
    )

    out = asyncio.run(
        run_action(
            FindRecords, _conn(fake_server), {"item_type": "deals", "term": "Loan", "limit": 10}
        )
    )

    assert [r["id"] for r in out["records"]] == [1, 2, 3]
    assert out["count"] == 3 and out["first_id"] == "1" and out["more"] is False
    first, second = fake_server.received("GET", "/api/v2/deals/search")
    assert "cursor" not in first.query and "fields" not in first.query
    assert second.query["cursor"] == ["c2"] and second.query["limit"] == ["8"]


def test_find_stops_at_the_limit_and_says_there_is_more(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        "/api/v2/persons/search",
        _ok({"items": [{"item": {"id": 1}}]}, additional_data={"next_cursor": "c2"}),
    )
    out = asyncio.run(
        run_action(
            FindRecords, _conn(fake_server), {"item_type": "persons", "term": "a", "limit": 1}
        )
    )
    assert out["count"] == 1 and out["more"] is True
    assert len(fake_server.received()) == 1


def test_a_note_is_linked_to_its_record(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/v1/notes", _ok({"id": 77}))

    out = asyncio.run(
        run_action(
            AddNote,
            _conn(fake_server),
            {"item_type": "deals", "record_id": 7, "content": "Invested", "pinned": True},
        )
    )

    assert out == {"id": "77"}
    assert fake_server.received("POST", "/v1/notes")[0].json() == {
        "content": "Invested",
        "deal_id": 7,
        "pinned_to_deal_flag": 1,
    }


def test_errors_are_classified(fake_server: FakeServer) -> None:
    create = {"item_type": "persons", "fields": {"name": "Ada"}}
    fake_server.on(
        "POST",
        "/api/v2/persons",
        (429, {"success": False, "error": "Rate limit exceeded"}, {"x-ratelimit-reset": "2"}),
        (
            400,
            {
                "success": False,
                "error": "Validation failed: emails: Invalid email",
                "error_info": "Please check developers.pipedrive.com for more information",
            },
        ),
        (401, {"success": False, "error": "unauthorized access"}),
        (503, "Service Unavailable"),
    )

    with pytest.raises(TransientError, match="Pipedrive limits calls") as limited:
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    assert limited.value.retry_after == 2.0
    with pytest.raises(PermanentError, match="emails: Invalid email") as invalid:
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    assert not isinstance(invalid.value, AccessTokenRejected)
    assert invalid.value.details["status"] == 400
    with pytest.raises(AccessTokenRejected, match="unauthorized access"):
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    with pytest.raises(TransientError, match="HTTP 503"):
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))


def test_an_unreachable_pipedrive_is_transient(fake_server: FakeServer) -> None:
    url = fake_server.url
    fake_server.stop()
    with pytest.raises(TransientError, match="unreachable"):
        asyncio.run(
            run_action(CreateRecord, {"api_token": "t", "api_url": url}, {"item_type": "deals"})
        )


def test_the_check_says_who_and_which_company(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        "/v1/users/me",
        _ok(
            {
                "name": "Ada",
                "email": "ada@acme.com",
                "company_name": "Acme",
                "company_domain": "acme",
            }
        ),
        (401, {"success": False, "error": "unauthorized access"}),
    )
    conn = PipedriveConnection.model_validate(_conn(fake_server))

    ok = asyncio.run(check_connection(conn))
    refused = asyncio.run(check_connection(conn))

    assert ok.ok and ok.message == (
        "Connected to Pipedrive as Ada <ada@acme.com>, company Acme (acme.pipedrive.com)"
    )
    assert (
        not refused.ok
        and "Pipedrive refused the credentials: unauthorized access" in refused.message
    )


def test_an_empty_page_that_gives_a_cursor_ends_the_search(fake_server: FakeServer) -> None:
    """Asked again and again, it would call Pipedrive a thousand times a second."""
    fake_server.on(
        "GET", "/api/v2/persons/search", _ok({"items": []}, additional_data={"next_cursor": "c"})
    )
    out = asyncio.run(
        run_action(FindRecords, _conn(fake_server), {"item_type": "persons", "term": "a"})
    )
    assert out["count"] == 0 and len(fake_server.received()) == 1
