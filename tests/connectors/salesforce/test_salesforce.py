"""The Salesforce connector against a fake Salesforce on a real socket, through httpx."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from maillon.connectors.salesforce import _api, check_connection, connector
from maillon.connectors.salesforce.actions import (
    AddNote,
    CreateRecord,
    FindRecords,
    UpdateRecord,
    UpsertRecord,
)
from maillon.connectors.salesforce.connection import SalesforceConnection
from maillon.connectors.sdk import AccessTokenRejected, PermanentError, TransientError
from maillon.connectors.testing import FakeServer, run_action
from maillon.engine.settings import Settings
from tests.connectors.crm import engine_with, form, start_consent

DATA = "/services/data/v62.0"
TOKEN = "/services/oauth2/token"


@pytest.fixture(autouse=True)
def _forget_sessions() -> Iterator[None]:
    yield
    _api._sessions.clear()


def _conn(server: FakeServer) -> dict[str, Any]:
    return {"access_token": "00D!at", "refresh_token": "rt", "instance_url": server.url}


def test_oauth_consent_on_the_login_domain_and_refresh(
    make_settings: Callable[..., Settings], fake_server: FakeServer
) -> None:
    client = {"client_id": "3MVG9", "client_secret": "cs"}
    with engine_with(make_settings, connector) as services:
        production, query = start_consent(services, "salesforce", "p", client)
        # As people paste it: the trailing slash must not double the path's.
        sandbox, _ = start_consent(
            services, "salesforce", "s", {**client, "login_url": "https://test.salesforce.com/"}
        )
        assert production == "https://login.salesforce.com/services/oauth2/authorize"
        assert sandbox == "https://test.salesforce.com/services/oauth2/authorize"
        assert query["scope"] == "api refresh_token" and query["code_challenge_method"] == "S256"

        login = fake_server.url.rstrip("/")  # the fake plays the login domain
        _, query = start_consent(services, "salesforce", "org", {**client, "login_url": login})
        fake_server.on(
            "POST",
            TOKEN,
            (
                200,
                {
                    "access_token": "00D!first",
                    "refresh_token": "5Aep861",
                    "instance_url": "https://acme.my.salesforce.com",
                    "id": "https://login.salesforce.com/id/00Dxx/005xx",
                    "token_type": "Bearer",
                    "issued_at": "1700000000000",
                    "signature": "sig",
                },
            ),
            (200, {"access_token": "00D!second", "instance_url": "https://acme.my.salesforce.com"}),
        )
        services.oauth.finish("salesforce", query["state"], "c0de")
        values = services.connections.values("org")
        assert values["instance_url"] == "https://acme.my.salesforce.com"
        assert "expires_at" not in values  # Salesforce does not say

        # Salesforce refused the session: the engine refreshes it whatever its expiry.
        conn = connector.connection.model_validate(values)
        renewed = services.oauth.fresh("org", connector, conn, force=True)

    assert renewed.access_token.get_secret_value() == "00D!second"
    assert renewed.refresh_token.get_secret_value() == "5Aep861"
    exchange, renewal = fake_server.received("POST", TOKEN)
    assert form(exchange)["code_verifier"] and form(exchange)["client_id"] == "3MVG9"
    assert form(renewal) == {
        "grant_type": "refresh_token",
        "refresh_token": "5Aep861",
        "client_id": "3MVG9",
        "client_secret": "cs",
    }


def _key() -> tuple[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode(), key.public_key()


def test_the_jwt_bearer_flow_signs_for_the_integration_user(fake_server: FakeServer) -> None:
    pem, public = _key()
    login = fake_server.url.rstrip("/")
    fake_server.on(
        "POST",
        TOKEN,
        (200, {"access_token": "00D!jwt1", "instance_url": login}),
        (200, {"access_token": "00D!jwt2", "instance_url": login}),
    )
    fake_server.on(
        "POST",
        f"{DATA}/sobjects/Lead/",
        (201, {"id": "00Q1", "success": True, "errors": []}),
        # The session ended: one new session, one more try.
        (401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
        (201, {"id": "00Q2", "success": True, "errors": []}),
    )
    saved = {
        "login_url": login,
        "client_id": "3MVG9",
        "username": "integration@acme.com",
        "private_key": pem,
    }
    lead = {"sobject": "Lead", "fields": {"LastName": "L", "Company": "C"}}

    first = asyncio.run(run_action(CreateRecord, saved, lead))
    second = asyncio.run(run_action(CreateRecord, saved, lead))

    assert first["id"] == "00Q1" and second["id"] == "00Q2"
    one, two = fake_server.received("POST", TOKEN)  # the first session served the first step
    grant = form(one)
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = jwt.decode(grant["assertion"], public, algorithms=["RS256"], audience=login)
    assert claims["iss"] == "3MVG9" and claims["sub"] == "integration@acme.com"
    assert form(two)["grant_type"] == grant["grant_type"]
    calls = fake_server.received("POST", f"{DATA}/sobjects/Lead/")
    assert [c.headers["authorization"] for c in calls] == [
        "Bearer 00D!jwt1",
        "Bearer 00D!jwt1",
        "Bearer 00D!jwt2",
    ]


def test_a_user_not_authorized_for_jwt_is_told_what_to_check(fake_server: FakeServer) -> None:
    pem, _ = _key()
    fake_server.on(
        "POST",
        TOKEN,
        (
            400,
            {"error": "invalid_grant", "error_description": "user hasn't approved this consumer"},
        ),
    )
    saved = {
        "login_url": fake_server.url.rstrip("/"),
        "client_id": "3MVG9",
        "username": "integration@acme.com",
        "private_key": pem,
    }
    with pytest.raises(PermanentError, match="user hasn't approved this consumer") as refused:
        asyncio.run(run_action(CreateRecord, saved, {"sobject": "Lead", "fields": {}}))
    assert "is pre-authorized in the connected app" in refused.value.message


def test_the_connection_asks_for_one_way_in() -> None:
    with pytest.raises(ValueError, match="JWT bearer flow needs client_id and username"):
        SalesforceConnection(private_key="k")
    with pytest.raises(ValueError, match="connect a user with OAuth"):
        SalesforceConnection()
    with pytest.raises(ValueError, match="needs the org's instance_url"):
        SalesforceConnection(access_token="t")


def test_create_and_update_send_the_fields(fake_server: FakeServer) -> None:
    fake_server.on("POST", f"{DATA}/sobjects/Contact/", (201, {"id": "0035g1", "success": True}))
    fake_server.on("PATCH", f"{DATA}/sobjects/Contact/0035g00000XyZabAAB", (204, b""))

    created = asyncio.run(
        run_action(
            CreateRecord,
            _conn(fake_server),
            {"sobject": "Contact", "fields": {"LastName": "Lovelace", "Particeep_User_Id__c": "u"}},
        )
    )
    updated = asyncio.run(
        run_action(
            UpdateRecord,
            _conn(fake_server),
            {"sobject": "Contact", "record_id": "0035g00000XyZabAAB", "fields": {"Phone": "1"}},
        )
    )

    assert created == {"id": "0035g1", "created": True}
    assert updated == {"id": "0035g00000XyZabAAB", "created": False}
    [post] = fake_server.received("POST", f"{DATA}/sobjects/Contact/")
    assert post.headers["authorization"] == "Bearer 00D!at"
    assert post.json() == {"LastName": "Lovelace", "Particeep_User_Id__c": "u"}
    [patch] = fake_server.received("PATCH", f"{DATA}/sobjects/Contact/0035g00000XyZabAAB")
    assert patch.json() == {"Phone": "1"}


def test_upsert_by_an_external_id_is_salesforces_own(fake_server: FakeServer) -> None:
    path = f"{DATA}/sobjects/Contact/Particeep_User_Id__c/u%2F1"
    fake_server.on(
        "PATCH",
        path,
        (201, {"id": "0031", "success": True, "errors": [], "created": True}),
        (200, {"id": "0031", "success": True, "errors": [], "created": False}),
        (
            300,
            [
                "/services/data/v62.0/sobjects/Contact/0031",
                "/services/data/v62.0/sobjects/Contact/0032",
            ],
        ),
    )
    step = {
        "sobject": "Contact",
        "key_field": "Particeep_User_Id__c",
        "key_value": "u/1",
        "external_id": True,
        "fields": {"LastName": "Lovelace", "Particeep_User_Id__c": "u/1"},
    }

    assert asyncio.run(run_action(UpsertRecord, _conn(fake_server), step)) == {
        "id": "0031",
        "created": True,
    }
    assert asyncio.run(run_action(UpsertRecord, _conn(fake_server), step))["created"] is False
    with pytest.raises(
        PermanentError, match=r"2 records with Particeep_User_Id__c = 'u/1' \(IDs 0031, 0032\)"
    ):
        asyncio.run(run_action(UpsertRecord, _conn(fake_server), step))
    # The key travels in the URL only: Salesforce refuses it in the body too.
    assert fake_server.received("PATCH", path)[0].json() == {"LastName": "Lovelace"}


def test_upsert_by_email_looks_the_record_up_first(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        f"{DATA}/query/",
        (200, {"totalSize": 0, "done": True, "records": []}),
        (200, {"totalSize": 1, "done": True, "records": [{"attributes": {}, "Id": "0039"}]}),
    )
    fake_server.on("POST", f"{DATA}/sobjects/Contact/", (201, {"id": "0039", "success": True}))
    fake_server.on("PATCH", f"{DATA}/sobjects/Contact/0039", (204, b""))
    step = {
        "sobject": "Contact",
        "key_field": "Email",
        "key_value": "o'brien@example.com",
        "fields": {"LastName": "O'Brien"},
    }

    first = asyncio.run(run_action(UpsertRecord, _conn(fake_server), step))
    retried = asyncio.run(run_action(UpsertRecord, _conn(fake_server), step))

    assert first == {"id": "0039", "created": True}
    assert retried == {"id": "0039", "created": False}
    lookup = fake_server.received("GET", f"{DATA}/query/")[0]
    assert lookup.query["q"] == [
        "SELECT Id FROM Contact WHERE Email = 'o\\'brien@example.com' LIMIT 2"
    ]
    assert fake_server.received("POST", f"{DATA}/sobjects/Contact/")[0].json() == {
        "Email": "o'brien@example.com",
        "LastName": "O'Brien",
    }
    assert fake_server.received("PATCH", f"{DATA}/sobjects/Contact/0039")[0].json() == {
        "LastName": "O'Brien"
    }


def test_find_follows_next_records_url(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        f"{DATA}/query/",
        (
            200,
            {
                "totalSize": 3,
                "done": False,
                "nextRecordsUrl": f"{DATA}/query/01gD0000002HU6KIAW-2",
                "records": [
                    {"attributes": {"type": "Contact"}, "Id": "0031", "Name": "A"},
                    {"attributes": {"type": "Contact"}, "Id": "0032", "Name": "B"},
                ],
            },
        ),
    )
    fake_server.on(
        "GET",
        f"{DATA}/query/01gD0000002HU6KIAW-2",
        (200, {"totalSize": 3, "done": True, "records": [{"Id": "0033", "Name": "C"}]}),
    )

    out = asyncio.run(
        run_action(
            FindRecords,
            _conn(fake_server),
            {
                "sobject": "Contact",
                "field": "Account.Name",
                "value": "Acme",
                "select": ["Id", "Name"],
            },
        )
    )

    assert out["records"] == [
        {"Id": "0031", "Name": "A"},
        {"Id": "0032", "Name": "B"},
        {"Id": "0033", "Name": "C"},
    ]
    assert out["count"] == 3 and out["first_id"] == "0031" and out["more"] is False
    [first] = fake_server.received("GET", f"{DATA}/query/")
    assert first.query == {"q": ["SELECT Id, Name FROM Contact WHERE Account.Name = 'Acme'"]}
    assert first.headers["sforce-query-options"] == "batchSize=200"
    [second] = fake_server.received("GET", f"{DATA}/query/01gD0000002HU6KIAW-2")
    assert second.query == {}


def test_find_takes_a_whole_soql_query_and_refuses_names_that_are_not(
    fake_server: FakeServer,
) -> None:
    fake_server.on(
        "GET",
        f"{DATA}/query/",
        (200, {"totalSize": 5, "done": False, "nextRecordsUrl": "x", "records": [{"Id": "1"}]}),
    )
    out = asyncio.run(
        run_action(FindRecords, _conn(fake_server), {"soql": "SELECT Id FROM Lead", "limit": 1})
    )
    assert out["count"] == 1 and out["more"] is True
    with pytest.raises(PermanentError, match="not a Salesforce API name"):
        asyncio.run(
            run_action(
                FindRecords,
                _conn(fake_server),
                {"sobject": "Contact WHERE 1=1 --", "field": "Email", "value": "x"},
            )
        )


def test_an_activity_names_a_contact_as_who_and_a_deal_as_what(fake_server: FakeServer) -> None:
    fake_server.on("POST", f"{DATA}/sobjects/Task/", (201, {"id": "00T1", "success": True}))

    for record in ("0035g00000XyZabAAB", "0065g00000AbCdeAAB"):
        out = asyncio.run(
            run_action(
                AddNote,
                _conn(fake_server),
                {"record_id": record, "subject": "Investment", "description": "1 500 EUR"},
            )
        )
        assert out == {"id": "00T1"}

    who, what = (r.json() for r in fake_server.received("POST", f"{DATA}/sobjects/Task/"))
    assert who == {
        "WhoId": "0035g00000XyZabAAB",
        "Subject": "Investment",
        "Description": "1 500 EUR",
        "Status": "Completed",
    }
    assert what["WhatId"] == "0065g00000AbCdeAAB" and "WhoId" not in what


def test_errors_are_classified(fake_server: FakeServer) -> None:
    create = {"sobject": "Contact", "fields": {"FirstName": "Ada"}}
    fake_server.on(
        "POST",
        f"{DATA}/sobjects/Contact/",
        (
            400,
            [
                {
                    "message": "Required fields are missing: [LastName]",
                    "errorCode": "REQUIRED_FIELD_MISSING",
                    "fields": ["LastName"],
                }
            ],
        ),
        (
            403,
            [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
        ),
        (401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
        (
            400,
            [{"message": "unable to obtain exclusive access", "errorCode": "UNABLE_TO_LOCK_ROW"}],
        ),
        (503, "Service Unavailable"),
    )

    with pytest.raises(PermanentError) as invalid:
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    assert invalid.value.message == (
        "Salesforce refused to create the Contact: Required fields are missing: [LastName] "
        "(fields: LastName) (REQUIRED_FIELD_MISSING)"
    )
    assert invalid.value.details == {"status": 400, "code": "REQUIRED_FIELD_MISSING"}
    with pytest.raises(TransientError, match=r"Salesforce limits calls .*REQUEST_LIMIT_EXCEEDED"):
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    with pytest.raises(AccessTokenRejected, match="INVALID_SESSION_ID"):
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    with pytest.raises(TransientError, match="UNABLE_TO_LOCK_ROW"):
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))
    with pytest.raises(TransientError, match="HTTP 503"):
        asyncio.run(run_action(CreateRecord, _conn(fake_server), create))


def test_the_check_says_which_org_and_user(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        "/services/oauth2/userinfo",
        (200, {"preferred_username": "ada@acme.com", "organization_id": "00D5g000004"}),
    )
    result = asyncio.run(check_connection(SalesforceConnection.model_validate(_conn(fake_server))))
    assert result.ok
    assert result.message == (
        f"Connected to Salesforce at {fake_server.url.rstrip('/')} as ada@acme.com "
        "(organization 00D5g000004)"
    )


SEARCH = {"sobject": "Contact", "field": "Email", "value": "ada@example.com"}


def test_a_next_page_on_another_host_is_not_asked_for_with_the_token(
    fake_server: FakeServer,
) -> None:
    elsewhere = "http://127.0.0.2:9/services/data/v62.0/query/01g-2"
    fake_server.on(
        "GET",
        f"{DATA}/query/",
        (200, {"totalSize": 2, "nextRecordsUrl": elsewhere, "records": [{"Id": "0031"}]}),
    )
    with pytest.raises(PermanentError, match=r"a link to another host \(127\.0\.0\.2:9\)"):
        asyncio.run(run_action(FindRecords, _conn(fake_server), SEARCH))


def test_an_empty_page_that_says_more_ends_the_search(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        f"{DATA}/query/*",
        (200, {"totalSize": "many", "nextRecordsUrl": f"{DATA}/query/01g-2", "records": []}),
    )
    out = asyncio.run(run_action(FindRecords, _conn(fake_server), SEARCH))
    assert out["count"] == 0 and len(fake_server.received()) == 1


def test_a_redirect_is_no_success(fake_server: FakeServer) -> None:
    """Not followed (the token would go along), and no "updated" for a record left as it was."""
    moved = (301, "", {"Location": "https://eu.example.com/x"})
    fake_server.on("PATCH", f"{DATA}/sobjects/Contact/003000000000001", moved)
    with pytest.raises(PermanentError, match="refused to update"):
        asyncio.run(
            run_action(
                UpdateRecord,
                _conn(fake_server),
                {
                    "sobject": "Contact",
                    "record_id": "003000000000001",
                    "fields": {"LastName": "X"},
                },
            )
        )
