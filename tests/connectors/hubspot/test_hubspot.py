"""The HubSpot connector through hubspot-api-client, against a fake HubSpot on a real socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from maillon.connectors.hubspot import check_connection, connector
from maillon.connectors.hubspot.actions import (
    AddNote,
    CreateRecord,
    FindRecords,
    UpdateRecord,
    UpsertRecord,
)
from maillon.connectors.hubspot.connection import HubSpotConnection
from maillon.connectors.sdk import AccessTokenRejected, PermanentError, TransientError
from maillon.connectors.testing import FakeServer, run_action
from maillon.engine.settings import Settings
from tests.connectors.crm import engine_with, form, refresh, start_consent

OBJECTS = "/crm/v3/objects"
STAMP = "2026-05-02T09:15:00.000Z"


def _conn(server: FakeServer) -> dict[str, Any]:
    return {"private_app_token": "pat-eu1-123", "api_url": server.url}


def _record(record_id: str, **properties: str) -> dict[str, Any]:
    return {
        "id": record_id,
        "properties": properties,
        "createdAt": STAMP,
        "updatedAt": STAMP,
        "archived": False,
    }


def test_oauth_consent_and_refresh(
    make_settings: Callable[..., Settings], fake_server: FakeServer
) -> None:
    with engine_with(make_settings, connector) as services:
        url, query = start_consent(
            services,
            "hubspot",
            "hs",
            {"client_id": "cid", "client_secret": "cs", "token_url": fake_server.url + "token"},
        )
        assert url == "https://app.hubspot.com/oauth/authorize"
        assert query["scope"].split() == [
            "oauth",
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
            "crm.objects.companies.read",
            "crm.objects.companies.write",
            "crm.objects.deals.read",
            "crm.objects.deals.write",
        ]
        fake_server.on(
            "POST",
            "/token",
            (200, {"access_token": "CJ1", "refresh_token": "r-1", "expires_in": 1800}),
            (200, {"access_token": "CJ2", "refresh_token": "r-1", "expires_in": 1800}),
        )
        services.oauth.finish("hubspot", query["state"], "c0de")
        assert services.connections.values("hs")["expires_at"] > time.time() + 1700
        services.connections.update("hs", {"expires_at": time.time() + 30})  # within a minute
        conn = refresh(services, connector, "hs")

    assert conn.token == "CJ2"
    exchange, renewal = fake_server.received("POST", "/token")
    assert form(exchange)["client_id"] == "cid" and form(exchange)["client_secret"] == "cs"
    assert (
        form(renewal)["grant_type"] == "refresh_token" and form(renewal)["refresh_token"] == "r-1"
    )


def test_the_connection_needs_one_way_in() -> None:
    with pytest.raises(ValueError, match="give a private app token, or connect"):
        HubSpotConnection()
    with pytest.raises(ValueError, match="not both"):
        HubSpotConnection(private_app_token="p", access_token="a")


def test_a_deal_is_created_linked_to_its_contact(fake_server: FakeServer) -> None:
    fake_server.on("POST", f"{OBJECTS}/deals", (201, _record("9001", dealname="Loan")))

    out = asyncio.run(
        run_action(
            CreateRecord,
            _conn(fake_server),
            {
                "object_type": "deals",
                "properties": {"dealname": "Loan", "amount": 1500.0, "particeep_sync": True},
                "associations": [
                    {"to_object_type": "contacts", "to_id": "51"},
                    {"to_object_type": "companies", "to_id": "61", "type_id": 5},
                ],
            },
        )
    )

    assert out == {"id": "9001", "created": True}
    [sent] = fake_server.received("POST", f"{OBJECTS}/deals")
    assert sent.headers["authorization"] == "Bearer pat-eu1-123"
    assert sent.json() == {
        "properties": {"dealname": "Loan", "amount": "1500.0", "particeep_sync": "true"},
        "associations": [
            {
                "to": {"id": "51"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
            },
            {
                "to": {"id": "61"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}],
            },
        ],
    }


def test_a_link_without_a_known_type_is_refused_before_any_call(fake_server: FakeServer) -> None:
    with pytest.raises(PermanentError, match="no default link from deals to 2-123"):
        asyncio.run(
            run_action(
                CreateRecord,
                _conn(fake_server),
                {
                    "object_type": "deals",
                    "properties": {},
                    "associations": [{"to_object_type": "2-123", "to_id": "1"}],
                },
            )
        )
    assert fake_server.received() == []


def test_update_by_a_unique_property(fake_server: FakeServer) -> None:
    fake_server.on("PATCH", f"{OBJECTS}/contacts/ada%40example.com", (200, _record("51")))

    out = asyncio.run(
        run_action(
            UpdateRecord,
            _conn(fake_server),
            {
                "object_type": "contacts",
                "record_id": "ada@example.com",
                "id_property": "email",
                "properties": {"phone": "+33 1 23"},
            },
        )
    )

    assert out == {"id": "51", "created": False}
    [sent] = fake_server.received("PATCH", f"{OBJECTS}/contacts/ada%40example.com")
    assert sent.query == {"idProperty": ["email"]}
    assert sent.json() == {"properties": {"phone": "+33 1 23"}}


def test_upsert_sends_the_key_hubspot_matches_on(fake_server: FakeServer) -> None:
    def upserted(new: bool) -> tuple[int, dict[str, Any]]:
        result = {**_record("51", email="ada@example.com"), "new": new}
        return 200, {
            "status": "COMPLETE",
            "results": [result],
            "startedAt": STAMP,
            "completedAt": STAMP,
        }

    fake_server.on("POST", f"{OBJECTS}/contacts/batch/upsert", upserted(True), upserted(False))
    step = {
        "object_type": "contacts",
        "id_property": "email",
        "id_value": "ada@example.com",
        "properties": {"firstname": "Ada", "particeep_user_id": "u-1"},
    }

    first = asyncio.run(run_action(UpsertRecord, _conn(fake_server), step))
    retried = asyncio.run(run_action(UpsertRecord, _conn(fake_server), step))

    assert first == {"id": "51", "created": True}
    assert retried == {"id": "51", "created": False}
    assert fake_server.received("POST", f"{OBJECTS}/contacts/batch/upsert")[0].json() == {
        "inputs": [
            {
                "idProperty": "email",
                "id": "ada@example.com",
                "properties": {"firstname": "Ada", "particeep_user_id": "u-1"},
            }
        ]
    }


def test_find_pages_through_the_search(fake_server: FakeServer) -> None:
    fake_server.on(
        "POST",
        f"{OBJECTS}/contacts/search",
        (
            200,
            {
                "total": 3,
                "results": [_record("1", email="a@x.com"), _record("2", email="b@x.com")],
                "paging": {"next": {"after": "2"}},
            },
        ),
        (200, {"total": 3, "results": [_record("3", email="c@x.com")]}),
    )

    out = asyncio.run(
        run_action(
            FindRecords,
            _conn(fake_server),
            {
                "object_type": "contacts",
                "property": "email",
                "operator": "CONTAINS_TOKEN",
                "value": "*@x.com",
                "properties": ["email"],
            },
        )
    )

    assert out["records"] == [
        {"id": "1", "email": "a@x.com"},
        {"id": "2", "email": "b@x.com"},
        {"id": "3", "email": "c@x.com"},
    ]
    assert out["count"] == 3 and out["first_id"] == "1" and out["more"] is False
    first, second = (r.json() for r in fake_server.received("POST", f"{OBJECTS}/contacts/search"))
    assert first == {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@x.com"}
                ]
            }
        ],
        "properties": ["email"],
        "limit": 200,
    }
    assert second["after"] == "2" and second["limit"] == 198


def test_a_note_lands_on_the_record_timeline(fake_server: FakeServer) -> None:
    fake_server.on("POST", f"{OBJECTS}/notes", (201, _record("777")))

    before = int(time.time() * 1000)
    out = asyncio.run(
        run_action(
            AddNote,
            _conn(fake_server),
            {"object_type": "contacts", "record_id": "51", "body": "Invested <b>1 500 €</b>"},
        )
    )

    assert out == {"id": "777"}
    sent = fake_server.received("POST", f"{OBJECTS}/notes")[0].json()
    assert sent["properties"]["hs_note_body"] == "Invested <b>1 500 €</b>"
    assert before <= int(sent["properties"]["hs_timestamp"]) <= int(time.time() * 1000)
    assert sent["associations"] == [
        {
            "to": {"id": "51"},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
        }
    ]


def test_errors_are_classified(fake_server: FakeServer) -> None:
    create = {"object_type": "contacts", "properties": {"email": "not-an-email"}}
    fake_server.on(
        "POST",
        f"{OBJECTS}/contacts",
        (
            400,
            {
                "status": "error",
                "message": 'Property values were not valid: [{"isValid":false,"message":"Email '
                'address not-an-email is invalid","error":"INVALID_EMAIL","name":"email"}]',
                "category": "VALIDATION_ERROR",
            },
        ),
        (
            429,
            {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "policyName": "TEN_SECONDLY_ROLLING",
            },
            {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
        ),
        (
            401,
            {
                "status": "error",
                "message": "The OAuth token used to make this call expired 2 minute(s) ago.",
                "category": "EXPIRED_AUTHENTICATION",
            },
        ),
        (502, "Bad Gateway"),
    )

    with pytest.raises(PermanentError) as invalid:
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    assert "Email address not-an-email is invalid" in invalid.value.message
    assert invalid.value.message.startswith("HubSpot refused to create the record in contacts")
    assert invalid.value.details["code"] == "VALIDATION_ERROR"
    with pytest.raises(TransientError, match="ten_secondly_rolling limit") as limited:
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    assert limited.value.retry_after == 10.0
    with pytest.raises(AccessTokenRejected, match="expired 2 minute"):
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    with pytest.raises(TransientError, match="HTTP 502"):
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))


def test_an_unreachable_hubspot_is_transient(fake_server: FakeServer) -> None:
    saved = _conn(fake_server)
    fake_server.stop()
    with pytest.raises(TransientError, match="HubSpot is unreachable"):
        asyncio.run(run_action(CreateRecord, saved, {"object_type": "contacts", "properties": {}}))


def test_the_check_says_which_account(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        "/account-info/v3/details",
        (
            200,
            {"portalId": 2408123, "uiDomain": "app-eu1.hubspot.com", "dataHostingLocation": "eu1"},
        ),
    )
    result = asyncio.run(check_connection(HubSpotConnection.model_validate(_conn(fake_server))))
    assert result.ok
    assert (
        result.message == "Connected to HubSpot account 2408123 (app-eu1.hubspot.com, data in eu1)"
    )
    [sent] = fake_server.received("GET", "/account-info/v3/details")
    assert sent.headers["authorization"] == "Bearer pat-eu1-123"


def test_an_empty_page_that_says_next_ends_the_search(fake_server: FakeServer) -> None:
    """The search runs in a thread the step's timeout does not stop: asked again and again, an
    empty page would have it call HubSpot thousands of times a second, for ever."""
    empty = {"total": 0, "results": [], "paging": {"next": {"after": "10"}}}
    fake_server.on("POST", f"{OBJECTS}/contacts/search", (200, empty))
    out = asyncio.run(
        run_action(
            FindRecords,
            _conn(fake_server),
            {"object_type": "contacts", "property": "email", "value": "a@x.com"},
        )
    )
    assert out["count"] == 0 and len(fake_server.received()) == 1


@pytest.mark.parametrize(
    "answer", [(201, {}), (201, []), (200, "<html>Down for maintenance</html>")]
)
def test_an_answer_without_a_record_is_no_success(
    fake_server: FakeServer, answer: tuple[int, object]
) -> None:
    """HubSpot's client hands back an empty object for an answer it does not expect."""
    fake_server.on("POST", f"{OBJECTS}/contacts", answer)
    fake_server.on("PATCH", f"{OBJECTS}/contacts/51", answer)
    with pytest.raises(PermanentError, match="without a record"):
        asyncio.run(
            run_action(
                CreateRecord,
                _conn(fake_server),
                {"object_type": "contacts", "properties": {"email": "ada@example.com"}},
            )
        )
    with pytest.raises(PermanentError, match="without a record"):
        asyncio.run(
            run_action(
                UpdateRecord,
                _conn(fake_server),
                {"object_type": "contacts", "record_id": "51", "properties": {"a": "b"}},
            )
        )
