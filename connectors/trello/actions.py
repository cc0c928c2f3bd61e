"""The Trello actions: create a card, move a card to another list, comment on a card."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from maillon.connectors.sdk import Action, ActionContext, PermanentError, choice_labels
from maillon.connectors.trello._api import TrelloApi
from maillon.connectors.trello.connection import TrelloConnection

__all__ = ["AddComment", "CreateCard", "MoveCard", "card_id_from"]

_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")
_CARD_URL = re.compile(r"trello\.com/c/([A-Za-z0-9]+)")
_SHORT_LINK = re.compile(r"[A-Za-z0-9]{8}")


def card_id_from(value: str) -> str:
    """A card's ID or short link, given either, or the card's URL."""
    value = value.strip()
    found = _CARD_URL.search(value)
    if found:
        return found.group(1)
    if _OBJECT_ID.fullmatch(value) or _SHORT_LINK.fullmatch(value):
        return value
    raise ValueError(f"not a Trello card ID or URL: {value!r}")


def _object_id(value: str) -> str:
    value = value.strip()
    if not _OBJECT_ID.fullmatch(value):
        raise ValueError(
            f"not a Trello ID (24 hexadecimal characters): {value!r}; a list's ID shows in "
            "the JSON of its board (the board's URL with .json at the end)"
        )
    return value


def _names(value: object) -> object:
    # Templates often render one comma-separated string; a list is taken as is.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CardId = Annotated[str, AfterValidator(card_id_from)]
ObjectId = Annotated[str, AfterValidator(_object_id)]
#: Labels or members, each by ID or by name: a list, or one comma-separated string.
Names = Annotated[list[str], BeforeValidator(_names)]


class Card(BaseModel):
    """A Trello card."""

    card_id: str = Field(title="Card ID", examples=["5f1d6e7c8b9a0b1c2d3e4f50"])
    name: str = Field(title="Title", examples=["Check transaction 15,000.00 EUR"])
    url: str = Field(title="Link", examples=["https://trello.com/c/AbCd1234"])
    list_id: str = Field(title="List ID", examples=["5f1d6e7c8b9a0b1c2d3e4f51"])

    @classmethod
    def of(cls, found: Any) -> Card:
        """From Trello's card resource."""
        if not isinstance(found, dict) or not found.get("id"):
            raise PermanentError("Trello answered without the card")
        return cls(
            card_id=str(found["id"]),
            name=str(found.get("name", "")),
            url=str(found.get("shortUrl") or found.get("url") or ""),
            list_id=str(found.get("idList", "")),
        )


# -- create_card -------------------------------------------------------------------------------


class CreateCardInput(BaseModel):
    """A card to open."""

    list_id: ObjectId = Field(
        title="List ID",
        description="The list the card goes in (24 hexadecimal characters).",
        examples=["5f1d6e7c8b9a0b1c2d3e4f51"],
    )
    name: str = Field(
        min_length=1,
        max_length=16384,
        title="Title",
        examples=["Check transaction {{ event.amount | money(event.currency) }}"],
    )
    description: str | None = Field(
        default=None,
        title="Description",
        description="Markdown.",
        examples=["Investor {{ event.issuer_id }}, transaction {{ event.id }}"],
    )
    due: datetime | None = Field(
        default=None,
        title="Due",
        description="A date and time; UTC unless it has an offset.",
        examples=["2026-05-04T17:00:00+02:00"],
    )
    labels: Names = Field(
        default_factory=list,
        title="Labels",
        description="Labels of the list's board, by name (or ID): a list, or names separated "
        "by commas.",
        examples=[["Compliance", "Large amount"]],
    )
    members: Names = Field(
        default_factory=list,
        title="Members",
        description="Members of the list's board to add, by username (or ID).",
        examples=[["backoffice_anna"]],
    )
    position: Literal["top", "bottom"] = Field(
        default="bottom",
        title="Position in the list",
        json_schema_extra=choice_labels({"top": "Top", "bottom": "Bottom"}),
    )


class CreateCard(Action[TrelloConnection, CreateCardInput, Card]):
    """Open a card; labels and members given by name are looked up on the list's board."""

    key = "create_card"
    title = "Create a card"
    description = (
        "Open a Trello card in a list, with a description, a due date, labels and members."
    )
    advanced_inputs = ("members", "position")

    async def run(self, ctx: ActionContext, conn: TrelloConnection, data: CreateCardInput) -> Card:
        body: dict[str, Any] = {"idList": data.list_id, "name": data.name, "pos": data.position}
        if data.description:
            body["desc"] = data.description
        if data.due is not None:
            body["due"] = data.due.isoformat()
        async with TrelloApi(conn, timeout=ctx.timeout) as api:
            board = _BoardLookup(api, data.list_id)
            if data.labels:
                body["idLabels"] = ",".join(await board.ids("labels", "name", data.labels))
            if data.members:
                body["idMembers"] = ",".join(await board.ids("members", "username", data.members))
            card = await api.call("POST", "cards", what=f"the list {data.list_id}", json=body)
        return Card.of(card)


class _BoardLookup:
    """Labels and members of the board a list belongs to, by name; read once per step."""

    def __init__(self, api: TrelloApi, list_id: str) -> None:
        self._api = api
        self._list_id = list_id
        self._board: str | None = None

    async def ids(self, kind: str, key: str, wanted: list[str]) -> list[str]:
        by_name = [w for w in wanted if not _OBJECT_ID.fullmatch(w)]
        if not by_name:
            return wanted
        if self._board is None:
            found = await self._api.call(
                "GET",
                f"lists/{self._list_id}",
                what=f"the list {self._list_id}",
                params={"fields": "idBoard"},
            )
            board = found.get("idBoard") if isinstance(found, dict) else None
            if not board:
                raise PermanentError(f"Trello did not say which board list {self._list_id} is on")
            self._board = str(board)
        items = await self._api.call(
            "GET",
            f"boards/{self._board}/{kind}",
            what=f"the board {self._board}",
            params={"fields": f"id,{key}"},
        )
        known = {str(i.get(key, "")).casefold(): str(i["id"]) for i in items or [] if i.get("id")}
        ids = []
        for name in wanted:
            if _OBJECT_ID.fullmatch(name):
                ids.append(name)
            elif name.lstrip("@").casefold() in known:
                ids.append(known[name.lstrip("@").casefold()])
            else:
                shown = ", ".join(sorted(k for k in known if k)) or "none"
                raise PermanentError(
                    f"the board of list {self._list_id} has no {kind[:-1]} {name!r} "
                    f"(it has: {shown})",
                    details={f"unknown_{kind[:-1]}": name},
                )
        return ids


# -- move_card ---------------------------------------------------------------------------------


class MoveCardInput(BaseModel):
    """A card, and the list it goes to."""

    card_id: CardId = Field(
        title="Card",
        description="The card's ID, or its URL.",
        examples=["{{ steps.card.card_id }}", "https://trello.com/c/AbCd1234"],
    )
    list_id: ObjectId = Field(title="To list ID", examples=["5f1d6e7c8b9a0b1c2d3e4f52"])
    board_id: ObjectId | None = Field(
        default=None,
        title="To board ID",
        description="Only when the list is on another board than the card.",
    )
    position: Literal["top", "bottom"] = Field(
        default="top",
        title="Position in the list",
        json_schema_extra=choice_labels({"top": "Top", "bottom": "Bottom"}),
    )


class MoveCard(Action[TrelloConnection, MoveCardInput, Card]):
    """Move a card to another list (of the same board, or of another one)."""

    key = "move_card"
    title = "Move a card"
    description = "Move a Trello card to another list."
    advanced_inputs = ("board_id", "position")

    async def run(self, ctx: ActionContext, conn: TrelloConnection, data: MoveCardInput) -> Card:
        body: dict[str, Any] = {"idList": data.list_id, "pos": data.position}
        if data.board_id:
            body["idBoard"] = data.board_id
        async with TrelloApi(conn, timeout=ctx.timeout) as api:
            card = await api.call(
                "PUT",
                f"cards/{data.card_id}",
                what=f"the card {data.card_id} or the list {data.list_id}",
                json=body,
            )
        return Card.of(card)


# -- add_comment -------------------------------------------------------------------------------


class AddCommentInput(BaseModel):
    """A comment to post on a card."""

    card_id: CardId = Field(
        title="Card",
        description="The card's ID, or its URL.",
        examples=["{{ steps.card.card_id }}"],
    )
    text: str = Field(
        min_length=1,
        max_length=16384,
        title="Comment",
        examples=["Transaction {{ event.status | lower }} on {{ event.succeeded_at }}"],
    )


class Comment(BaseModel):
    """The posted comment."""

    comment_id: str = Field(title="Comment ID", examples=["5f1d6e7c8b9a0b1c2d3e4f53"])
    card_id: str = Field(title="Card ID")


class AddComment(Action[TrelloConnection, AddCommentInput, Comment]):
    """Post a comment on a card, as the token's member."""

    key = "add_comment"
    title = "Add a comment"
    description = "Comment on a Trello card."

    async def run(
        self, ctx: ActionContext, conn: TrelloConnection, data: AddCommentInput
    ) -> Comment:
        async with TrelloApi(conn, timeout=ctx.timeout) as api:
            action = await api.call(
                "POST",
                f"cards/{data.card_id}/actions/comments",
                what=f"the card {data.card_id}",
                json={"text": data.text},
            )
        if not isinstance(action, dict) or not action.get("id"):
            raise PermanentError("Trello answered without the comment")
        card = (action.get("data") or {}).get("card") or {}
        return Comment(comment_id=str(action["id"]), card_id=str(card.get("id") or data.card_id))
