"""The Dynamics 365 connector: MSAL against a fake Microsoft sign-in service over HTTPS, and
the Web API against a fake environment, both on real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from maillon.connectors.dynamics import _api, check_connection
from maillon.connectors.dynamics.actions import (
    AddNote,
    CreateRecord,
    FindRecords,
    UpdateRecord,
    UpsertRecord,
)
from maillon.connectors.dynamics.connection import DynamicsConnection
from maillon.connectors.sdk import AccessTokenRejected, PermanentError, TransientError
from maillon.connectors.testing import FakeServer, run_action
from tests.connectors.crm import form
from tests.support.tls import Cert

TENANT = "acme.onmicrosoft.com"
API = "/api/data/v9.2"
GUID = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def login(cert: Cert, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """Microsoft's sign-in service: MSAL insists on HTTPS, so it trusts the test's CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert.cert_file))
    with FakeServer(tls=cert.server_context()) as server:
        authority = f"{server.url}{TENANT}"
        server.on(
            "GET",
            f"/{TENANT}/v2.0/.well-known/openid-configuration",
            (
                200,
                {
                    "issuer": f"{authority}/v2.0",
                    "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{authority}/oauth2/v2.0/token",
                },
            ),
        )
        server.on(
            "POST",
            f"/{TENANT}/oauth2/v2.0/token",
            (200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.app.1"}),
            (200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.app.2"}),
        )
        yield server
    _api._apps.clear()


def _conn(login: FakeServer, env: FakeServer) -> dict[str, Any]:
    return {
        "environment_url": env.url,
        "tenant": TENANT,
        "client_id": "11111111-2222-3333-4444-555555555555",
        "client_secret": "s3cret",
        "authority_host": login.url,
    }


def _created(server: FakeServer, entity_set: str) -> tuple[int, bytes, dict[str, str]]:
    return 204, b"", {"OData-EntityId": f"{server.url}api/data/v9.2/{entity_set}({GUID})"}


def test_client_credentials_through_msal_and_a_created_record(
    login: FakeServer, fake_server: FakeServer
) -> None:
    fake_server.on("POST", f"{API}/contacts", _created(fake_server, "contacts"))
    step = {"entity_set": "contacts", "fields": {"lastname": "Lovelace"}}

    out = asyncio.run(run_action(CreateRecord, _conn(login, fake_server), step))
    again = asyncio.run(run_action(CreateRecord, _conn(login, fake_server), step))

    assert out == again == {"id": GUID, "created": True}
    [grant] = login.received("POST", f"/{TENANT}/oauth2/v2.0/token")  # MSAL kept the token
    assert form(grant) == {
        "client_id": "11111111-2222-3333-4444-555555555555",
        "client_secret": "s3cret",
        "grant_type": "client_credentials",
        "scope": f"{fake_server.url.rstrip('/')}/.default",
        "client_info": "1",  # MSAL's own
    }
    first, _ = fake_server.received("POST", f"{API}/contacts")
    assert first.headers["authorization"] == "Bearer eyJ.app.1"
    assert first.headers["odata-version"] == "4.0"
    assert first.json() == {"lastname": "Lovelace"}


def test_a_refused_token_is_renewed_once(login: FakeServer, fake_server: FakeServer) -> None:
    fake_server.on(
        "PATCH",
        f"{API}/contacts({GUID})",
        (401, b""),
        (204, b"", {"OData-EntityId": f"{fake_server.url}api/data/v9.2/contacts({GUID})"}),
        (401, b""),
    )
    step = {"entity_set": "contacts", "record_id": GUID, "fields": {"telephone1": "1"}}

    out = asyncio.run(run_action(UpdateRecord, _conn(login, fake_server), step))
    assert out == {"id": GUID, "created": False}
    first, second = fake_server.received("PATCH", f"{API}/contacts({GUID})")
    assert first.headers["authorization"] == "Bearer eyJ.app.1"
    assert second.headers["authorization"] == "Bearer eyJ.app.2"
    assert second.headers["if-match"] == "*" and second.json() == {"telephone1": "1"}

    # Refused again with the renewed token: the app is not a user of the environment.
    _api._apps.clear()
    with pytest.raises(PermanentError, match="application user of the environment") as refused:
        asyncio.run(run_action(UpdateRecord, _conn(login, fake_server), step))
    assert not isinstance(refused.value, AccessTokenRejected)


def test_a_wrong_secret_says_what_microsoft_said(
    login: FakeServer, fake_server: FakeServer
) -> None:
    login.on(
        "POST",
        f"/{TENANT}/oauth2/v2.0/token",
        (
            401,
            {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided."
                "\r\nTrace ID: x",
                "error_codes": [7000215],
            },
        ),
    )
    with pytest.raises(PermanentError) as refused:
        asyncio.run(
            run_action(
                CreateRecord, _conn(login, fake_server), {"entity_set": "leads", "fields": {}}
            )
        )
    assert refused.value.message == (
        "Microsoft refused to sign the app in (invalid_client: AADSTS7000215: Invalid client "
        "secret provided.)"
    )


def test_an_unreachable_sign_in_service_is_transient(fake_server: FakeServer) -> None:
    conn = {
        "environment_url": fake_server.url,
        "tenant": TENANT,
        "client_id": "c",
        "client_secret": "s",
        "authority_host": "https://127.0.0.1:9",
    }
    with pytest.raises(TransientError, match="sign-in service is unreachable"):
        asyncio.run(run_action(CreateRecord, conn, {"entity_set": "leads", "fields": {}}))
    _api._apps.clear()


def test_upsert_by_alternate_key_creates_then_updates(
    login: FakeServer, fake_server: FakeServer
) -> None:
    path = f"{API}/contacts(emailaddress1='o''brien%2Bfunds@example.com')"
    entity = {"OData-EntityId": f"{fake_server.url}api/data/v9.2/contacts({GUID})"}
    fake_server.on(
        "PATCH",
        path,
        (204, b"", entity),
        (
            412,
            {
                "error": {
                    "code": "0x80060882",
                    "message": "A record with matching key values already exists.",
                }
            },
        ),
        (204, b"", entity),
    )
    step = {
        "entity_set": "contacts",
        "key": {"emailaddress1": "o'brien+funds@example.com"},
        "fields": {"lastname": "O'Brien"},
    }

    first = asyncio.run(run_action(UpsertRecord, _conn(login, fake_server), step))
    retried = asyncio.run(run_action(UpsertRecord, _conn(login, fake_server), step))

    assert first == {"id": GUID, "created": True}
    assert retried == {"id": GUID, "created": False}
    create, exists, update = fake_server.received("PATCH")
    assert create.raw_path == path
    assert create.headers["if-none-match"] == "*" and "if-match" not in create.headers
    assert exists.headers["if-none-match"] == "*"
    assert update.headers["if-match"] == "*" and update.json() == {"lastname": "O'Brien"}


def test_find_follows_the_next_link(login: FakeServer, fake_server: FakeServer) -> None:
    following = f"{fake_server.url}api/data/v9.2/contacts?$skiptoken=page2"
    fake_server.on(
        "GET",
        f"{API}/contacts",
        (
            200,
            {
                "value": [
                    {"@odata.etag": 'W/"1"', "contactid": "c1", "fullname": "A"},
                    {"@odata.etag": 'W/"2"', "contactid": "c2", "fullname": "B"},
                ],
                "@odata.nextLink": following,
            },
        ),
        (200, {"value": [{"contactid": "c3", "fullname": "C"}]}),
    )

    out = asyncio.run(
        run_action(
            FindRecords,
            _conn(login, fake_server),
            {
                "entity_set": "contacts",
                "field": "parentcustomerid_account/name",
                "value": "Acme",
                "select": ["contactid", "fullname"],
            },
        )
    )

    assert out["records"] == [
        {"contactid": "c1", "fullname": "A"},
        {"contactid": "c2", "fullname": "B"},
        {"contactid": "c3", "fullname": "C"},
    ]
    assert out["first_id"] == "c1" and out["more"] is False
    first, second = fake_server.received("GET", f"{API}/contacts")
    assert first.query == {
        "$filter": ["parentcustomerid_account/name eq 'Acme'"],
        "$select": ["contactid,fullname"],
    }
    assert first.headers["prefer"] == "odata.maxpagesize=200"
    assert second.query == {"$skiptoken": ["page2"]}


def test_a_note_regards_its_record(login: FakeServer, fake_server: FakeServer) -> None:
    fake_server.on("POST", f"{API}/annotations", _created(fake_server, "annotations"))

    out = asyncio.run(
        run_action(
            AddNote,
            _conn(login, fake_server),
            {
                "entity_set": "opportunities",
                "record_id": GUID,
                "subject": "Investment",
                "text": "1 500 €",
            },
        )
    )

    assert out == {"id": GUID}
    assert fake_server.received("POST", f"{API}/annotations")[0].json() == {
        "subject": "Investment",
        "notetext": "1 500 €",
        "objectid_opportunity@odata.bind": f"/opportunities({GUID})",
    }


def test_errors_are_classified(login: FakeServer, fake_server: FakeServer) -> None:
    create = {"entity_set": "contacts", "fields": {"emailaddress1": 3}}
    fake_server.on(
        "POST",
        f"{API}/contacts",
        (
            400,
            {
                "error": {
                    "code": "0x80048d19",
                    "message": "Error identified in Payload provided by the user for Entity "
                    ":'contacts', Cannot convert the literal '3' to the expected type "
                    "'Edm.String'.",
                }
            },
        ),
        (
            429,
            {"error": {"code": "0x80072322", "message": "Number of requests exceeded the limit"}},
            {"Retry-After": "7"},
        ),
    )

    with pytest.raises(PermanentError, match=r"Cannot convert the literal '3'.*\(0x80048d19\)"):
        asyncio.run(run_action(CreateRecord, _conn(login, fake_server), create))
    with pytest.raises(TransientError, match="Dynamics 365 limits calls") as limited:
        asyncio.run(run_action(CreateRecord, _conn(login, fake_server), create))
    assert limited.value.retry_after == 7.0


def test_the_check_says_which_environment_and_user(
    login: FakeServer, fake_server: FakeServer
) -> None:
    fake_server.on(
        "GET",
        f"{API}/WhoAmI",
        (200, {"UserId": "u-1", "BusinessUnitId": "b-1", "OrganizationId": "o-1"}),
    )
    conn = DynamicsConnection.model_validate(_conn(login, fake_server))
    result = asyncio.run(check_connection(conn))
    assert result.ok
    assert result.message == (
        f"Connected to Dynamics 365 at {fake_server.url.rstrip('/')} as application user u-1 "
        "(organization o-1)"
    )
