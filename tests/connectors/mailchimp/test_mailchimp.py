"""Mailchimp's actions over httpx against a fake Mailchimp on a real socket."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import pytest
from pydantic import ValidationError

from maillon.connectors.mailchimp import MailchimpConnection, connector
from maillon.connectors.mailchimp.actions import UnsubscribeMember, UpdateTags, UpsertMember
from maillon.connectors.sdk import PermanentError, TransientError
from maillon.connectors.testing import FakeServer
from tests.support.actions import run

ADA = hashlib.md5(b"ada@example.com").hexdigest()
MEMBER = f"/3.0/lists/L1/members/{ADA}"


def member(status: str = "subscribed", tags: tuple[str, ...] = ()) -> dict[str, object]:
    """Mailchimp's member resource."""
    return {
        "id": ADA,
        "email_address": "Ada@Example.com",
        "status": status,
        "tags": [{"id": i, "name": n} for i, n in enumerate(tags)],
    }


@pytest.fixture
def conn(fake_server: FakeServer) -> MailchimpConnection:
    return MailchimpConnection.model_validate(
        {"api_key": "0123456789abcdef-us6", "api_url": fake_server.url + "3.0"}
    )


def problem(status: int, title: str, detail: str, **extra: object) -> dict[str, object]:
    """An error body as Mailchimp sends it."""
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}


def test_upsert_puts_the_member_then_adds_the_tags(
    fake_server: FakeServer, conn: MailchimpConnection
) -> None:
    fake_server.on("PUT", MEMBER, (200, member(tags=("newsletter",))))
    fake_server.on("POST", MEMBER + "/tags", (204, b""))

    out = run(
        UpsertMember,
        conn,
        {
            "list_id": "L1",
            "email": " Ada@Example.com ",
            "merge_fields": {"FNAME": "Ada", "AMOUNT": 2500},
            "tags": "investor, particeep",
            "language": "fr",
        },
    )

    assert out == {
        "member_id": ADA,
        "email": "Ada@Example.com",
        "status": "subscribed",
        "tags": ["newsletter", "investor", "particeep"],
    }
    [put] = fake_server.received("PUT", MEMBER)
    basic = base64.b64encode(b"maillon:0123456789abcdef-us6").decode()
    assert put.headers["authorization"] == f"Basic {basic}"
    assert put.query == {}
    assert put.json() == {
        "email_address": "Ada@Example.com",
        "status_if_new": "subscribed",
        "merge_fields": {"FNAME": "Ada", "AMOUNT": 2500},
        "language": "fr",
    }
    [tags] = fake_server.received("POST", MEMBER + "/tags")
    assert tags.json() == {
        "tags": [
            {"name": "investor", "status": "active"},
            {"name": "particeep", "status": "active"},
        ]
    }


def test_upsert_without_tags_makes_one_call(
    fake_server: FakeServer, conn: MailchimpConnection
) -> None:
    fake_server.on("PUT", MEMBER, (200, member(status="pending")))

    out = run(
        UpsertMember,
        conn,
        {
            "list_id": "L1",
            "email": "ada@example.com",
            "status_if_new": "pending",
            "status": "pending",
            "skip_merge_validation": True,
        },
    )

    assert out["status"] == "pending"
    [put] = fake_server.received("PUT", MEMBER)
    assert put.query == {"skip_merge_validation": ["true"]}
    assert put.json()["status"] == "pending"
    assert fake_server.received("POST", MEMBER + "/tags") == []


def test_update_tags_adds_and_removes(fake_server: FakeServer, conn: MailchimpConnection) -> None:
    fake_server.on("POST", MEMBER + "/tags", (204, b""))

    out = run(
        UpdateTags,
        conn,
        {"list_id": "L1", "email": "ada@example.com", "add": ["vip"], "remove": "prospect"},
    )

    assert out == {
        "member_id": ADA,
        "email": "ada@example.com",
        "added": ["vip"],
        "removed": ["prospect"],
    }
    [call] = fake_server.received("POST", MEMBER + "/tags")
    assert call.json() == {
        "tags": [{"name": "vip", "status": "active"}, {"name": "prospect", "status": "inactive"}]
    }
    with pytest.raises(ValidationError, match="give tags to add or to remove"):
        UpdateTags.Input(list_id="L1", email="ada@example.com")


def test_unsubscribe_patches_the_status(fake_server: FakeServer, conn: MailchimpConnection) -> None:
    fake_server.on(
        "PATCH",
        MEMBER,
        (200, member(status="unsubscribed")),
        (404, problem(404, "Resource Not Found", "The requested resource could not be found.")),
    )

    out = run(UnsubscribeMember, conn, {"list_id": "L1", "email": "ada@example.com"})

    assert out["status"] == "unsubscribed"
    assert fake_server.received("PATCH", MEMBER)[0].json() == {"status": "unsubscribed"}
    with pytest.raises(PermanentError, match=r"the audience L1 or its member ada@example\.com"):
        run(UnsubscribeMember, conn, {"list_id": "L1", "email": "ada@example.com"})


def test_refusals_are_classified(fake_server: FakeServer, conn: MailchimpConnection) -> None:
    fake_server.on(
        "PUT",
        MEMBER,
        (401, problem(401, "API Key Invalid", "Your API key may be invalid.")),
        (
            400,
            problem(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                errors=[{"field": "FNAME", "message": "This value should not be blank."}],
            ),
        ),
        (400, problem(400, "Member In Compliance State", "ada@example.com is unsubscribed.")),
        (
            429,
            problem(429, "Too Many Requests", "You have more than 10 connections."),
            {"Retry-After": "3"},
        ),
        (500, "<html>oops</html>"),
    )
    data = {"list_id": "L1", "email": "ada@example.com"}

    with pytest.raises(PermanentError, match="update the API key, or reconnect"):
        run(UpsertMember, conn, data)
    with pytest.raises(PermanentError, match="FNAME: This value should not be blank") as invalid:
        run(UpsertMember, conn, data)
    assert invalid.value.details["errors"] == ["FNAME: This value should not be blank."]
    with pytest.raises(PermanentError, match="add them as pending"):
        run(UpsertMember, conn, data)
    with pytest.raises(TransientError, match="rate-limiting") as limited:
        run(UpsertMember, conn, data)
    assert limited.value.retry_after == 3
    with pytest.raises(TransientError, match="HTTP 500"):
        run(UpsertMember, conn, data)


def test_an_oauth_account_finds_its_data_centre_once(fake_server: FakeServer) -> None:
    conn = MailchimpConnection.model_validate(
        {"access_token": "oauth-at", "metadata_url": fake_server.url + "oauth2/metadata"}
    )
    fake_server.on("GET", "/oauth2/metadata", (200, {"dc": "us19", "accountname": "Acme"}))
    fake_server.on("GET", "/3.0/", (200, {"account_name": "Acme"}))
    data = {"list_id": "L1", "email": "ada@example.com"}

    # The data centre's host is where the calls go: tests stay offline, so reaching it fails
    # (transient), naming the host.
    for _ in range(2):
        with pytest.raises(TransientError, match=r"us19\.api\.mailchimp\.com"):
            run(UpsertMember, conn, data)
    [asked] = fake_server.received("GET", "/oauth2/metadata")  # once for both
    assert asked.headers["authorization"] == "OAuth oauth-at"

    proxied = conn.model_copy(update={"api_url": fake_server.url + "3.0/"})
    check = asyncio.run(connector.check(proxied))  # type: ignore[misc]
    assert check.ok and "Acme" in check.message
    [root] = fake_server.received("GET", "/3.0/")
    assert root.headers["authorization"] == "Bearer oauth-at"
    assert root.query == {"fields": ["account_name,email"]}


def test_connections_are_checked() -> None:
    with pytest.raises(ValidationError, match="either an API key or an OAuth access token"):
        MailchimpConnection()
    with pytest.raises(ValidationError, match="does not end with its data centre"):
        MailchimpConnection.model_validate({"api_key": "nodatacentre"})
    keyed = MailchimpConnection.model_validate({"api_key": "k-us6"})
    assert keyed.data_centre == "us6"
    assert (
        MailchimpConnection.model_validate({"api_key": "k", "server_prefix": "us2"}).data_centre
        == "us2"
    )
