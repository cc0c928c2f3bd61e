"""Zoho CRM actions on module records (Leads, Contacts, Accounts, Deals, custom modules)."""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, model_validator

from maillon.connectors.crm import (
    FIELDS_DESCRIPTION,
    FoundRecords,
    NoteOutput,
    RecordOutput,
    RestApi,
)
from maillon.connectors.sdk import Action, ActionContext, choice_labels
from maillon.connectors.zoho_crm.connection import ZohoConnection

__all__ = ["AddNote", "CreateRecord", "FindRecords", "UpdateRecord", "UpsertRecord"]

Trigger = Literal["workflow", "approval", "blueprint"]
#: Records per search page (Zoho's most).
_PAGE = 200
#: Characters that Zoho's search criteria make special, escaped with a backslash.
_CRITERIA_SPECIAL = re.compile(r"([(),\\])")


# Field definitions that several inputs share, made anew for each model.
def _module() -> Any:
    return Field(
        min_length=1,
        title="Module",
        description="The module's API name: Leads, Contacts, Accounts, Deals, or a custom one.",
        examples=["Contacts"],
    )


def _fields() -> Any:
    return Field(
        title="Fields",
        description=FIELDS_DESCRIPTION + ' A lookup takes an ID: {"Contact_Name": "..."}.',
        examples=[{"Last_Name": "{{ event.last_name }}", "Email": "{{ event.email }}"}],
    )


def _trigger() -> Any:
    return Field(
        default=None,
        title="Run automations",
        description="Which of the organization's automations the write runs: workflow rules, "
        "approvals, blueprints. Empty: Zoho's default; an empty list runs none.",
    )


def _write(fields: dict[str, Any], trigger: list[Trigger] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"data": [fields]}
    if trigger is not None:
        body["trigger"] = trigger
    return body


class CreateRecordInput(BaseModel):
    module: str = _module()
    fields: dict[str, Any] = _fields()
    trigger: list[Trigger] | None = _trigger()


class CreateRecord(Action[ZohoConnection, CreateRecordInput, RecordOutput]):
    """Insert a record (``POST /crm/v7/{module}``)."""

    key = "create_record"
    title = "Create a record"
    advanced_inputs = ("trigger",)
    description = "Add a lead, contact, account, deal or custom record to Zoho CRM."

    async def run(
        self, ctx: ActionContext, conn: ZohoConnection, data: CreateRecordInput
    ) -> RecordOutput:
        from maillon.connectors.zoho_crm._api import api, record_id

        what = f"to create the record in {data.module}"
        async with api(conn, ctx.timeout) as http:
            response = await http.call(
                "POST", data.module, json=_write(data.fields, data.trigger), what=what
            )
            record, _ = record_id(http, response, what)
        return RecordOutput(id=record, created=True)


class UpdateRecordInput(BaseModel):
    module: str = _module()
    record_id: str = Field(min_length=1, title="Record ID", description="Zoho's ID of the record.")
    fields: dict[str, Any] = _fields()
    trigger: list[Trigger] | None = _trigger()


class UpdateRecord(Action[ZohoConnection, UpdateRecordInput, RecordOutput]):
    """Change some fields of a record (``PUT /crm/v7/{module}/{id}``)."""

    key = "update_record"
    title = "Update a record"
    advanced_inputs = ("trigger",)
    description = "Change fields of a Zoho CRM record."

    async def run(
        self, ctx: ActionContext, conn: ZohoConnection, data: UpdateRecordInput
    ) -> RecordOutput:
        from maillon.connectors.zoho_crm._api import api, record_id

        what = f"to update {data.module} record {data.record_id}"
        async with api(conn, ctx.timeout) as http:
            response = await http.call(
                "PUT",
                f"{data.module}/{data.record_id}",
                json=_write(data.fields, data.trigger),
                what=what,
            )
            record, _ = record_id(http, response, what)
        return RecordOutput(id=record, created=False)


class UpsertRecordInput(BaseModel):
    module: str = _module()
    key: str = Field(
        min_length=1,
        title="Key field",
        description="The field that identifies the record, by API name: Email, or a unique "
        "custom field such as the one holding the Particeep user ID. It must be among the "
        "fields.",
        examples=["Email"],
    )
    fields: dict[str, Any] = _fields()
    trigger: list[Trigger] | None = _trigger()

    @model_validator(mode="after")
    def _key_has_a_value(self) -> Self:
        # Zoho matches on the value sent in the record: without one it would always insert.
        if self.fields.get(self.key) in (None, ""):
            raise ValueError(f"the key field {self.key} needs a value among the fields")
        return self


class UpsertRecord(Action[ZohoConnection, UpsertRecordInput, RecordOutput]):
    """Zoho's own upsert (``POST /crm/v7/{module}/upsert``), with the key as its duplicate
    check field: one atomic call, so a retried step never makes a second record."""

    key = "upsert_record"
    title = "Create or update a record by a key"
    advanced_inputs = ("trigger",)
    description = (
        "Update the Zoho CRM record whose key field (Email, a unique custom field) has the "
        "given value, or create it if there is none."
    )

    async def run(
        self, ctx: ActionContext, conn: ZohoConnection, data: UpsertRecordInput
    ) -> RecordOutput:
        from maillon.connectors.zoho_crm._api import api, record_id

        body = _write(data.fields, data.trigger)
        body["duplicate_check_fields"] = [data.key]
        what = f"to upsert the record in {data.module}"
        async with api(conn, ctx.timeout) as http:
            response = await http.call("POST", f"{data.module}/upsert", json=body, what=what)
            record, action = record_id(http, response, what)
        return RecordOutput(id=record, created=action == "insert")


class FindRecordsInput(BaseModel):
    module: str = _module()
    field: str = Field(
        min_length=1,
        title="Field",
        description="The field to search, by API name.",
        examples=["Email"],
    )
    value: str = Field(
        min_length=1, title="Value", description="The value it must have.", examples=["ada@x.com"]
    )
    operator: Literal["equals", "starts_with"] = Field(
        default="equals",
        title="Match",
        description="An exact value, or its beginning.",
        json_schema_extra=choice_labels({"equals": "Equals", "starts_with": "Starts with"}),
    )
    limit: int = Field(
        default=200, ge=1, le=2000, title="At most", description="How many records to return."
    )


class FindRecords(Action[ZohoConnection, FindRecordsInput, FoundRecords]):
    """Search a module by one field (``GET /crm/v7/{module}/search?criteria=``), page by page."""

    key = "find_records"
    title = "Find records"
    advanced_inputs = ("operator", "limit")
    description = "Search Zoho CRM records whose field equals (or starts with) a value."

    async def run(
        self, ctx: ActionContext, conn: ZohoConnection, data: FindRecordsInput
    ) -> FoundRecords:
        from maillon.connectors.zoho_crm._api import api

        value = _CRITERIA_SPECIAL.sub(r"\\\1", data.value)
        criteria = f"({data.field}:{data.operator}:{value})"
        records: list[dict[str, Any]] = []
        more = False
        async with api(conn, ctx.timeout) as http:
            page = 1
            while len(records) < data.limit:
                response = await http.call(
                    "GET",
                    f"{data.module}/search",
                    params={"criteria": criteria, "page": page, "per_page": _PAGE},
                    what=f"to search {data.module}",
                )
                # No match is an empty 204, not an empty list.
                body = RestApi.json(response) or {}
                found = body.get("data") or []
                records.extend(found)
                more = bool((body.get("info") or {}).get("more_records"))
                # An empty page that says "more" would be asked for again and again.
                if not more or not found:
                    break
                page += 1
        more = more or len(records) > data.limit
        records = records[: data.limit]
        first = str(records[0]["id"]) if records else None
        return FoundRecords(records=records, count=len(records), first_id=first, more=more)


class AddNoteInput(BaseModel):
    module: str = _module()
    record_id: str = Field(min_length=1, title="Record ID", description="Zoho's ID of the record.")
    title: str = Field(
        default="", title="Title", description="The note's title.", examples=["Investment"]
    )
    content: str = Field(
        min_length=1,
        title="Note",
        description="The note's text.",
        examples=["Invested {{ event.amount | money(event.currency) }} on Particeep"],
    )


class AddNote(Action[ZohoConnection, AddNoteInput, NoteOutput]):
    """Add a note to a record (``POST /crm/v7/{module}/{id}/Notes``)."""

    key = "add_note"
    title = "Add a note"
    description = "Add a note to a Zoho CRM record."

    async def run(self, ctx: ActionContext, conn: ZohoConnection, data: AddNoteInput) -> NoteOutput:
        from maillon.connectors.zoho_crm._api import api, record_id

        note: dict[str, Any] = {"Note_Content": data.content}
        if data.title:
            note["Note_Title"] = data.title
        what = f"to add the note to {data.module} record {data.record_id}"
        async with api(conn, ctx.timeout) as http:
            response = await http.call(
                "POST", f"{data.module}/{data.record_id}/Notes", json={"data": [note]}, what=what
            )
            note_id, _ = record_id(http, response, what)
        return NoteOutput(id=note_id)
