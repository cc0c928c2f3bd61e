"""Pipedrive actions on persons, organizations and deals (API v2), and notes (API v1)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from maillon.connectors.crm import (
    FIELDS_DESCRIPTION,
    FoundRecords,
    NoteOutput,
    RecordOutput,
    RestApi,
    one_or_none,
)
from maillon.connectors.pipedrive.connection import PipedriveConnection
from maillon.connectors.sdk import Action, ActionContext, PermanentError, choice_labels

__all__ = ["AddNote", "CreateRecord", "FindRecords", "UpdateRecord", "UpsertRecord"]

ItemType = Literal["persons", "organizations", "deals"]

#: Custom fields are named by a 40-character key (Settings → Data fields → the field's API key).
_CUSTOM_KEY = re.compile(r"[0-9a-f]{40}")
#: The note's link to its record, by the record's type.
_NOTE_LINK: dict[str, str] = {"persons": "person_id", "organizations": "org_id", "deals": "deal_id"}
#: Results asked for per search page (Pipedrive allows up to 500).
_PAGE = 100


# Field definitions that several inputs share, made anew for each model.
def _item_type() -> Any:
    return Field(
        title="Record type",
        description="Persons (contacts), organizations or deals.",
        json_schema_extra=choice_labels(
            {"persons": "Persons", "organizations": "Organizations", "deals": "Deals"}
        ),
        examples=["persons"],
    )


def _fields() -> Any:
    return Field(
        default_factory=dict,
        title="Fields",
        description="Standard fields by API name (name, emails, phones, org_id, title, value, "
        "currency, person_id, ...), in the shape of Pipedrive's API v2.",
        examples=[{"name": "{{ event.first_name }} {{ event.last_name }}"}],
    )


def _custom_fields() -> Any:
    return Field(
        default_factory=dict,
        title="Custom fields",
        description="Custom field values by the field's 40-character API key. "
        + FIELDS_DESCRIPTION,
        examples=[{"6a8c0f2e4b1d3a5c7e9f0a2b4c6d8e0f1a3b5c7d": "{{ event.id }}"}],
    )


def _body(fields: dict[str, Any], custom_fields: dict[str, Any]) -> dict[str, Any]:
    body = dict(fields)
    if custom_fields:
        body["custom_fields"] = {**body.get("custom_fields", {}), **custom_fields}
    return body


def _id(data: Any, what: str) -> str:
    if not isinstance(data, dict) or data.get("id") is None:
        raise PermanentError(f"Pipedrive answered {what} without the record's ID")
    return str(data["id"])


async def _search(
    http: RestApi,
    item_type: str,
    term: str,
    *,
    field: str | None,
    exact: bool,
    limit: int,
) -> tuple[list[dict[str, Any]], bool]:
    """Items matching ``term``, following Pipedrive's cursor until ``limit``."""
    params: dict[str, Any] = {"term": term, "exact_match": str(exact).lower()}
    if field:
        params["fields"] = "custom_fields" if _CUSTOM_KEY.fullmatch(field) else field
    items: list[dict[str, Any]] = []
    while True:
        params["limit"] = min(_PAGE, limit - len(items))
        response = await http.call(
            "GET", f"api/v2/{item_type}/search", params=params, what=f"to search {item_type}"
        )
        body = RestApi.json(response) or {}
        page = (body.get("data") or {}).get("items") or []
        items.extend(entry["item"] for entry in page if isinstance(entry.get("item"), dict))
        cursor = (body.get("additional_data") or {}).get("next_cursor")
        # An empty page that says "more" would be asked for again and again.
        if not page or not cursor or len(items) >= limit:
            return items[:limit], bool(cursor) or len(items) > limit
        params["cursor"] = cursor


class CreateRecordInput(BaseModel):
    item_type: ItemType = _item_type()
    fields: dict[str, Any] = _fields()
    custom_fields: dict[str, Any] = _custom_fields()


class CreateRecord(Action[PipedriveConnection, CreateRecordInput, RecordOutput]):
    """Create a person, an organization or a deal (``POST /api/v2/{type}``)."""

    key = "create_record"
    title = "Create a record"
    description = "Add a person, an organization or a deal to Pipedrive."

    async def run(
        self, ctx: ActionContext, conn: PipedriveConnection, data: CreateRecordInput
    ) -> RecordOutput:
        from maillon.connectors.pipedrive._api import api, data_of

        async with api(conn, ctx.timeout) as http:
            response = await http.call(
                "POST",
                f"api/v2/{data.item_type}",
                json=_body(data.fields, data.custom_fields),
                what=f"to create the record in {data.item_type}",
            )
        return RecordOutput(id=_id(data_of(response), "the creation"), created=True)


class UpdateRecordInput(BaseModel):
    item_type: ItemType = _item_type()
    record_id: int = Field(title="Record ID", description="Pipedrive's ID of the record.")
    fields: dict[str, Any] = _fields()
    custom_fields: dict[str, Any] = _custom_fields()


class UpdateRecord(Action[PipedriveConnection, UpdateRecordInput, RecordOutput]):
    """Change some fields of a record (``PATCH /api/v2/{type}/{id}``)."""

    key = "update_record"
    title = "Update a record"
    description = "Change fields of a Pipedrive person, organization or deal."

    async def run(
        self, ctx: ActionContext, conn: PipedriveConnection, data: UpdateRecordInput
    ) -> RecordOutput:
        from maillon.connectors.pipedrive._api import api, data_of

        async with api(conn, ctx.timeout) as http:
            response = await http.call(
                "PATCH",
                f"api/v2/{data.item_type}/{data.record_id}",
                json=_body(data.fields, data.custom_fields),
                what=f"to update {data.item_type} {data.record_id}",
            )
        return RecordOutput(id=_id(data_of(response), "the update"), created=False)


class UpsertRecordInput(BaseModel):
    item_type: ItemType = _item_type()
    key: str = Field(
        min_length=1,
        title="Key field",
        description="What identifies the record: email (persons), name, or a custom field's "
        "40-character API key (for example the one holding the Particeep user ID).",
        examples=["email"],
    )
    value: str = Field(
        min_length=1,
        title="Key value",
        description="The key's value for this record; sent with the fields when it is created.",
        examples=["{{ event.email }}"],
    )
    fields: dict[str, Any] = _fields()
    custom_fields: dict[str, Any] = _custom_fields()


class UpsertRecord(Action[PipedriveConnection, UpsertRecordInput, RecordOutput]):
    """Update the record with this key, or create it when there is none.

    Pipedrive has no upsert, so the key is searched first (an exact match): a retried step
    finds the record its first attempt made and updates it instead of making a second one.
    Pipedrive's search index can lag a fresh record by a few seconds, which the engine's
    backoff between attempts covers.
    """

    key = "upsert_record"
    title = "Create or update a record by a key"
    description = (
        "Find a person, organization or deal by email or another key; update it, or create it "
        "if none has that key."
    )

    async def run(
        self, ctx: ActionContext, conn: PipedriveConnection, data: UpsertRecordInput
    ) -> RecordOutput:
        from maillon.connectors.pipedrive._api import api, data_of

        body = _body(data.fields, data.custom_fields)
        async with api(conn, ctx.timeout) as http:
            items, _ = await _search(
                http, data.item_type, data.value, field=data.key, exact=True, limit=_PAGE
            )
            if data.key == "email":
                # The search matches the term anywhere in an email list: keep exact owners.
                items = [i for i in items if data.value.lower() in _emails(i)]
            found = one_or_none([str(i["id"]) for i in items], "Pipedrive", data.key, data.value)
            if found is not None:
                response = await http.call(
                    "PATCH",
                    f"api/v2/{data.item_type}/{found}",
                    json=body,
                    what=f"to update {data.item_type} {found}",
                )
                return RecordOutput(id=_id(data_of(response), "the update"), created=False)
            if data.key == "email":
                body.setdefault("emails", [{"value": data.value, "primary": True}])
            elif _CUSTOM_KEY.fullmatch(data.key):
                body.setdefault("custom_fields", {}).setdefault(data.key, data.value)
            else:
                body.setdefault(data.key, data.value)
            response = await http.call(
                "POST",
                f"api/v2/{data.item_type}",
                json=body,
                what=f"to create the record in {data.item_type}",
            )
        return RecordOutput(id=_id(data_of(response), "the creation"), created=True)


def _emails(item: dict[str, Any]) -> set[str]:
    found = set()
    for email in item.get("emails") or []:
        value = email.get("value") if isinstance(email, dict) else email
        if isinstance(value, str):
            found.add(value.lower())
    return found


class FindRecordsInput(BaseModel):
    item_type: ItemType = _item_type()
    term: str = Field(
        min_length=1,
        title="Search for",
        description="The value to look for.",
        examples=["{{ event.email }}"],
    )
    field: str | None = Field(
        default=None,
        title="In field",
        description="Search only this field: email, name, phone, notes, or a custom field's "
        "API key. Empty: every searchable field.",
        examples=["email"],
    )
    exact_match: bool = Field(
        default=True,
        title="Exact match",
        description="Only whole, exact matches (not case-sensitive).",
    )
    limit: int = Field(
        default=100, ge=1, le=1000, title="At most", description="How many records to return."
    )


class FindRecords(Action[PipedriveConnection, FindRecordsInput, FoundRecords]):
    """Search persons, organizations or deals (``GET /api/v2/{type}/search``), page by page."""

    key = "find_records"
    title = "Find records"
    advanced_inputs = ("exact_match", "limit")
    description = "Search Pipedrive persons, organizations or deals by a field's value."

    async def run(
        self, ctx: ActionContext, conn: PipedriveConnection, data: FindRecordsInput
    ) -> FoundRecords:
        from maillon.connectors.pipedrive._api import api

        async with api(conn, ctx.timeout) as http:
            items, more = await _search(
                http,
                data.item_type,
                data.term,
                field=data.field,
                exact=data.exact_match,
                limit=data.limit,
            )
        first = str(items[0]["id"]) if items else None
        return FoundRecords(records=items, count=len(items), first_id=first, more=more)


class AddNoteInput(BaseModel):
    item_type: ItemType = _item_type()
    record_id: int = Field(title="Record ID", description="Pipedrive's ID of the record.")
    content: str = Field(
        min_length=1,
        title="Note",
        description="The note's text; Pipedrive accepts simple HTML.",
        examples=["Invested {{ event.amount | money(event.currency) }} on Particeep"],
    )
    pinned: bool = Field(
        default=False, title="Pinned", description="Pin the note to the top of the record."
    )


class AddNote(Action[PipedriveConnection, AddNoteInput, NoteOutput]):
    """Add a note to a person, an organization or a deal (``POST /v1/notes``)."""

    key = "add_note"
    title = "Add a note"
    advanced_inputs = ("pinned",)
    description = "Add a note to a Pipedrive person, organization or deal."

    async def run(
        self, ctx: ActionContext, conn: PipedriveConnection, data: AddNoteInput
    ) -> NoteOutput:
        from maillon.connectors.pipedrive._api import api, data_of

        link = _NOTE_LINK[data.item_type]
        body: dict[str, Any] = {"content": data.content, link: data.record_id}
        if data.pinned:
            body[f"pinned_to_{link.removesuffix('_id')}_flag"] = 1
        async with api(conn, ctx.timeout) as http:
            response = await http.call("POST", "v1/notes", json=body, what="to add the note")
        return NoteOutput(id=_id(data_of(response), "the note"))
