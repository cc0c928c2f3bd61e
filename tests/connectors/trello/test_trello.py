"""Trello's actions over httpx against a fake Trello on a real socket."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from maillon.connectors.sdk import PermanentError, TransientError
from maillon.connectors.testing import FakeServer
from maillon.connectors.trello import TrelloConnection, connector
from maillon.connectors.trello.actions import AddComment, CreateCard, MoveCard
from tests.support.actions import run

LIST = "5f1d6e7c8b9a0b1c2d3e4f51"
BOARD = "5f1d6e7c8b9a0b1c2d3e4f40"
LABEL = "5f1d6e7c8b9a0b1c2d3e4f60"
CARD = {
    "id": "5f1d6e7c8b9a0b1c2d3e4f50",
    "name": "Check transaction",
    "shortUrl": "https://trello.com/c/AbCd1234",
    "idList": LIST,
}


@pytest.fixture
def conn(fake_server: FakeServer) -> TrelloConnection:
    return TrelloConnection.model_validate(
        {"api_key": "k3y", "token": "t0ken", "api_url": fake_server.url + "1"}
    )


def test_create_card_with_labels_and_members_by_name(
    fake_server: FakeServer, conn: TrelloConnection
) -> None:
    fake_server.on("GET", f"/1/lists/{LIST}", (200, {"id": LIST, "idBoard": BOARD}))
    fake_server.on(
        "GET",
        f"/1/boards/{BOARD}/labels",
        (200, [{"id": "5f1d6e7c8b9a0b1c2d3e4f61", "name": "Compliance"}]),
    )
    fake_server.on(
        "GET", f"/1/boards/{BOARD}/members", (200, [{"id": "M" * 24, "username": "anna"}])
    )
    fake_server.on("POST", "/1/cards", (200, CARD))

    out = run(
        CreateCard,
        conn,
        {
            "list_id": LIST,
            "name": "Check transaction",
            "description": "**15,000.00 EUR**",
            "due": "2026-05-04T17:00:00+02:00",
            "labels": f"compliance, {LABEL}",
            "members": ["@Anna"],
            "position": "top",
        },
    )

    assert out == {
        "card_id": CARD["id"],
        "name": "Check transaction",
        "url": "https://trello.com/c/AbCd1234",
        "list_id": LIST,
    }
    [post] = fake_server.received("POST", "/1/cards")
    assert post.headers["authorization"] == 'OAuth oauth_consumer_key="k3y", oauth_token="t0ken"'
    assert post.query == {}  # the token never goes in the URL
    assert post.json() == {
        "idList": LIST,
        "name": "Check transaction",
        "pos": "top",
        "desc": "**15,000.00 EUR**",
        "due": "2026-05-04T17:00:00+02:00",
        "idLabels": f"5f1d6e7c8b9a0b1c2d3e4f61,{LABEL}",
        "idMembers": "M" * 24,
    }
    # The board is looked up once for both.
    assert len(fake_server.received("GET", f"/1/lists/{LIST}")) == 1
    assert fake_server.received("GET", f"/1/boards/{BOARD}/labels")[0].query == {
        "fields": ["id,name"]
    }


def test_create_card_with_ids_only_reads_no_board(
    fake_server: FakeServer, conn: TrelloConnection
) -> None:
    fake_server.on("POST", "/1/cards", (200, CARD))

    run(CreateCard, conn, {"list_id": LIST, "name": "x", "labels": [LABEL]})

    assert [r.method for r in fake_server.requests] == ["POST"]


def test_an_unknown_label_names_those_the_board_has(
    fake_server: FakeServer, conn: TrelloConnection
) -> None:
    fake_server.on("GET", f"/1/lists/{LIST}", (200, {"idBoard": BOARD}))
    fake_server.on("GET", f"/1/boards/{BOARD}/labels", (200, [{"id": LABEL, "name": "Urgent"}]))

    with pytest.raises(PermanentError, match=r"has no label 'VIP' \(it has: urgent\)"):
        run(CreateCard, conn, {"list_id": LIST, "name": "x", "labels": "VIP"})
    assert fake_server.received("POST", "/1/cards") == []


def test_move_card_by_its_url(fake_server: FakeServer, conn: TrelloConnection) -> None:
    fake_server.on("PUT", "/1/cards/AbCd1234", (200, {**CARD, "idList": "A" * 24}))

    out = run(
        MoveCard,
        conn,
        {
            "card_id": "https://trello.com/c/AbCd1234/12-check",
            "list_id": "A" * 24,
            "board_id": BOARD,
        },
    )

    assert out["list_id"] == "A" * 24
    [put] = fake_server.received("PUT", "/1/cards/AbCd1234")
    assert put.json() == {"idList": "A" * 24, "pos": "top", "idBoard": BOARD}


def test_add_comment(fake_server: FakeServer, conn: TrelloConnection) -> None:
    path = f"/1/cards/{CARD['id']}/actions/comments"
    fake_server.on("POST", path, (200, {"id": "C" * 24, "data": {"card": {"id": CARD["id"]}}}))

    out = run(AddComment, conn, {"card_id": CARD["id"], "text": "Funds received ✔"})

    assert out == {"comment_id": "C" * 24, "card_id": CARD["id"]}
    assert fake_server.received("POST", path)[0].json() == {"text": "Funds received ✔"}


def test_refusals_are_classified(fake_server: FakeServer, conn: TrelloConnection) -> None:
    fake_server.on(
        "POST",
        "/1/cards",
        (401, "invalid token"),
        (400, "invalid value for idList"),
        (404, "The requested resource was not found."),
        (
            429,
            {"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"},
            {"Retry-After": "10"},
        ),
        (502, "Bad gateway"),
    )
    card = {"list_id": LIST, "name": "x"}

    with pytest.raises(PermanentError, match=r"invalid token.*generate a new token"):
        run(CreateCard, conn, card)
    with pytest.raises(PermanentError, match="refused the request: invalid value for idList"):
        run(CreateCard, conn, card)
    with pytest.raises(PermanentError, match=f"the list {LIST}.*check the ID"):
        run(CreateCard, conn, card)
    with pytest.raises(TransientError, match="Rate limit exceeded") as limited:
        run(CreateCard, conn, card)
    assert limited.value.retry_after == 10
    with pytest.raises(TransientError, match="HTTP 502"):
        run(CreateCard, conn, card)


def test_inputs_are_checked() -> None:
    with pytest.raises(ValidationError, match="not a Trello ID"):
        CreateCard.Input(list_id="Backoffice", name="x")
    with pytest.raises(ValidationError, match="not a Trello card ID"):
        AddComment.Input(card_id="https://example.com/card", text="x")


def test_the_connection_check_names_the_member(
    fake_server: FakeServer, conn: TrelloConnection
) -> None:
    fake_server.on(
        "GET",
        "/1/members/me",
        (200, {"username": "anna", "fullName": "Anna B"}),
        (401, "invalid key"),
    )

    check = asyncio.run(connector.check(conn))  # type: ignore[misc]
    assert check.ok and check.message == "Connected to Trello as Anna B."
    with pytest.raises(PermanentError, match="invalid key"):
        asyncio.run(connector.check(conn))  # type: ignore[misc]
