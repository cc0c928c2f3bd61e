"""Dynamics 365 actions on Dataverse tables through the Web API (OData v4)."""

from __future__ import annotations

import re
from typing import Any, Self
from urllib.parse import quote

from pydantic import BaseModel, Field, model_validator

from maillon.connectors.crm import (
    FIELDS_DESCRIPTION,
    FoundRecords,
    NoteOutput,
    RecordOutput,
    RestApi,
)
from maillon.connectors.dynamics.connection import DynamicsConnection
from maillon.connectors.sdk import Action, ActionContext, PermanentError

__all__ = ["AddNote", "CreateRecord", "FindRecords", "UpdateRecord", "UpsertRecord"]

#: Records per page of a query.
_PAGE = 200
#: Logical names of tables and columns (``contact``, ``emailaddress1``, ``new_particeepid``).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A column a filter may name through lookups (``parentcustomerid_account/name``).
_PATH = re.compile(rf"{_NAME.pattern}(/{_NAME.pattern})*")
#: Left as they are in an alternate key's value: quotes and @, as Microsoft writes keys.
_KEY_SAFE = "'@"


# Field definitions that several inputs share, made anew for each model.
def _entity_set() -> Any:
    return Field(
        min_length=1,
        title="Table",
        description="The table's entity set name, as the Web API names it: contacts, "
        "accounts, leads, opportunities, or a custom one (new_investments).",
        examples=["contacts"],
    )


def _fields() -> Any:
    return Field(
        title="Columns",
        description=FIELDS_DESCRIPTION + " A lookup is set with @odata.bind: "
        '{"parentcustomerid_account@odata.bind": "/accounts(<id>)"}.',
        examples=[{"firstname": "{{ event.first_name }}", "lastname": "{{ event.last_name }}"}],
    )


def _record_id() -> Any:
    return Field(
        min_length=1,
        title="Record ID",
        description="The record's GUID.",
        examples=["00000000-0000-0000-0000-000000000001"],
    )


def _name(value: str, pattern: re.Pattern[str] = _NAME) -> str:
    if not pattern.fullmatch(value):
        raise PermanentError(f"{value!r} is not a Dataverse table or column name")
    return value


def odata_string(value: str) -> str:
    """A string literal for OData: single quotes, doubled inside."""
    return "'" + value.replace("'", "''") + "'"


def table_of(entity_set: str) -> str:
    """The logical name an entity set usually has (opportunities → opportunity)."""
    if entity_set.endswith("ies"):
        return entity_set[:-3] + "y"
    return entity_set.removesuffix("s")


class CreateRecordInput(BaseModel):
    entity_set: str = _entity_set()
    fields: dict[str, Any] = _fields()


class CreateRecord(Action[DynamicsConnection, CreateRecordInput, RecordOutput]):
    """Create a row (``POST /{entity set}``); its ID comes back in ``OData-EntityId``.

    Dataverse has no idempotency key: a retry after a lost answer can make a second row.
    Steps that must never do so upsert by an alternate key instead.
    """

    key = "create_record"
    title = "Create a record"
    description = "Add a row to a Dynamics 365 table: a contact, an account, an opportunity."

    async def run(
        self, ctx: ActionContext, conn: DynamicsConnection, data: CreateRecordInput
    ) -> RecordOutput:
        from maillon.connectors.dynamics._api import dynamics, entity_id

        what = f"to create the record in {data.entity_set}"
        async with dynamics(conn, ctx.timeout) as api:
            response = await api.call("POST", _name(data.entity_set), json=data.fields, what=what)
        return RecordOutput(id=entity_id(response, what), created=True)


class UpdateRecordInput(BaseModel):
    entity_set: str = _entity_set()
    record_id: str = _record_id()
    fields: dict[str, Any] = _fields()


class UpdateRecord(Action[DynamicsConnection, UpdateRecordInput, RecordOutput]):
    """Change columns of a row (``PATCH /{entity set}({id})`` with ``If-Match: *``, so that a
    missing row is an error rather than a new one)."""

    key = "update_record"
    title = "Update a record"
    description = "Change columns of a Dynamics 365 row."

    async def run(
        self, ctx: ActionContext, conn: DynamicsConnection, data: UpdateRecordInput
    ) -> RecordOutput:
        from maillon.connectors.dynamics._api import dynamics

        async with dynamics(conn, ctx.timeout) as api:
            await api.call(
                "PATCH",
                f"{_name(data.entity_set)}({quote(data.record_id, safe='')})",
                json=data.fields,
                headers={"If-Match": "*"},
                what=f"to update {data.entity_set} {data.record_id}",
            )
        return RecordOutput(id=data.record_id, created=False)


class UpsertRecordInput(BaseModel):
    entity_set: str = _entity_set()
    key: dict[str, str] = Field(
        min_length=1,
        title="Alternate key",
        description="The columns of an alternate key of the table and their values (Settings "
        "→ Tables → the table → Keys): emailaddress1, or a column holding the Particeep user "
        "ID.",
        examples=[{"emailaddress1": "{{ event.email }}"}],
    )
    fields: dict[str, Any] = _fields()


class UpsertRecord(Action[DynamicsConnection, UpsertRecordInput, RecordOutput]):
    """Create the row with this alternate key, or update it if it exists.

    ``PATCH /{entity set}(key='value')`` with ``If-None-Match: *`` creates the row or answers
    412 when it exists; then the same call with ``If-Match: *`` updates it. Both address the
    row by its key, so a retried step never makes a second one, and the output says which
    happened.
    """

    key = "upsert_record"
    title = "Create or update a record by a key"
    description = (
        "Update the Dynamics 365 row whose alternate key (an email, an external ID) has the "
        "given values, or create it if there is none."
    )

    async def run(
        self, ctx: ActionContext, conn: DynamicsConnection, data: UpsertRecordInput
    ) -> RecordOutput:
        from maillon.connectors.dynamics._api import dynamics, entity_id

        key = ",".join(
            f"{_name(column)}={quote(odata_string(value), safe=_KEY_SAFE)}"
            for column, value in data.key.items()
        )
        path = f"{_name(data.entity_set)}({key})"
        what = f"to upsert the record in {data.entity_set}"
        async with dynamics(conn, ctx.timeout) as api:
            response = await api.call(
                "PATCH",
                path,
                json=data.fields,
                headers={"If-None-Match": "*"},
                what=what,
                accept=(412,),
            )
            created = response.status_code != 412
            if not created:
                response = await api.call(
                    "PATCH", path, json=data.fields, headers={"If-Match": "*"}, what=what
                )
        return RecordOutput(id=entity_id(response, what), created=created)


class FindRecordsInput(BaseModel):
    entity_set: str = _entity_set()
    field: str | None = Field(
        default=None, title="Column", description="The column to match.", examples=["emailaddress1"]
    )
    value: str | None = Field(
        default=None,
        title="Value",
        description="The value the column must have.",
        examples=["{{ event.email }}"],
    )
    filter: str | None = Field(
        default=None,
        title="OData filter",
        description="A whole $filter expression, instead of a column and a value.",
        examples=["statecode eq 0 and contains(fullname,'Ada')"],
    )
    select: list[str] = Field(
        default_factory=list,
        title="Columns to return",
        description="Logical names of the columns each record brings back (all when empty).",
        examples=[["contactid", "fullname", "emailaddress1"]],
    )
    table: str | None = Field(
        default=None,
        title="Table logical name",
        description="Only when it is not the entity set without its plural (contacts → "
        "contact): names the ID column, <table>id.",
    )
    limit: int = Field(
        default=200, ge=1, le=5000, title="At most", description="How many records to return."
    )

    @model_validator(mode="after")
    def _a_filter(self) -> Self:
        if (self.filter is None) == (self.field is None or self.value is None):
            raise ValueError("give a column and a value, or an OData filter")
        return self

    def condition(self) -> str:
        """The $filter expression: the one given, or the column's equality."""
        if self.filter is not None or self.field is None or self.value is None:
            return str(self.filter)
        return f"{_name(self.field, _PATH)} eq {odata_string(self.value)}"


class FindRecords(Action[DynamicsConnection, FindRecordsInput, FoundRecords]):
    """Query a table (``GET /{entity set}?$filter=``), following ``@odata.nextLink``."""

    key = "find_records"
    title = "Find records"
    advanced_inputs = ("filter", "select", "table", "limit")
    description = "Find Dynamics 365 rows whose column has a value, or that match a filter."

    async def run(
        self, ctx: ActionContext, conn: DynamicsConnection, data: FindRecordsInput
    ) -> FoundRecords:
        from maillon.connectors.dynamics._api import dynamics

        query = {"$filter": data.condition()}
        if data.select:
            query["$select"] = ",".join(_name(c) for c in data.select)
        params: dict[str, str] | None = query
        records: list[dict[str, Any]] = []
        path = _name(data.entity_set)
        async with dynamics(conn, ctx.timeout) as api:
            while True:
                response = await api.call(
                    "GET",
                    path,
                    params=params,
                    headers={"Prefer": f"odata.maxpagesize={_PAGE}"},
                    what=f"to query {data.entity_set}",
                )
                page = RestApi.json(response) or {}
                found = page.get("value") or []
                records.extend(found)
                following = page.get("@odata.nextLink")
                # An empty page that says "more" would be asked for again and again.
                if not found or not following or len(records) >= data.limit:
                    break
                # The link carries the query and a skip token: follow it as is.
                path, params = str(following), None
        found = [{k: v for k, v in r.items() if k != "@odata.etag"} for r in records]
        found = found[: data.limit]
        id_column = f"{data.table or table_of(data.entity_set)}id"
        first = found[0].get(id_column) if found else None
        return FoundRecords(
            records=found,
            count=len(found),
            first_id=str(first) if first else None,
            more=bool(following) or len(records) > data.limit,
        )


class AddNoteInput(BaseModel):
    entity_set: str = _entity_set()
    record_id: str = _record_id()
    subject: str = Field(
        default="", title="Title", description="The note's title.", examples=["Investment"]
    )
    text: str = Field(
        min_length=1,
        title="Note",
        description="The note's text.",
        examples=["Invested {{ event.amount | money(event.currency) }} on Particeep"],
    )
    table: str | None = Field(
        default=None,
        title="Table logical name",
        description="Only when it is not the entity set without its plural (contacts → contact).",
    )


class AddNote(Action[DynamicsConnection, AddNoteInput, NoteOutput]):
    """Add a note (an ``annotation`` row) to a record's timeline."""

    key = "add_note"
    title = "Add a note"
    advanced_inputs = ("table",)
    description = "Add a note to the timeline of a Dynamics 365 record."

    async def run(
        self, ctx: ActionContext, conn: DynamicsConnection, data: AddNoteInput
    ) -> NoteOutput:
        from maillon.connectors.dynamics._api import dynamics, entity_id

        table = _name(data.table or table_of(data.entity_set))
        note = {
            "subject": data.subject,
            "notetext": data.text,
            # The note's "regarding" is a lookup named for the table it points to.
            f"objectid_{table}@odata.bind": f"/{_name(data.entity_set)}({data.record_id})",
        }
        what = f"to add the note to {data.entity_set} {data.record_id}"
        async with dynamics(conn, ctx.timeout) as api:
            response = await api.call("POST", "annotations", json=note, what=what)
        return NoteOutput(id=entity_id(response, what))
