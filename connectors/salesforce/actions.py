"""Salesforce actions on sObjects (REST API) and SOQL queries."""

from __future__ import annotations

from typing import Any, Self
from urllib.parse import quote

from pydantic import BaseModel, Field, model_validator

from maillon.connectors.crm import (
    FIELDS_DESCRIPTION,
    FoundRecords,
    NoteOutput,
    RecordOutput,
    RestApi,
    one_or_none,
)
from maillon.connectors.salesforce.connection import SalesforceConnection
from maillon.connectors.sdk import Action, ActionContext, PermanentError

__all__ = ["AddNote", "CreateRecord", "FindRecords", "UpdateRecord", "UpsertRecord"]

#: Records per page of a query (Salesforce's smallest batch; its default is 2,000).
_BATCH = 200
#: ID prefixes of the records a Task names as "who" (contacts, leads); others are "what".
_WHO_PREFIXES = ("003", "00Q")


# Field definitions that several inputs share, made anew for each model.
def _sobject() -> Any:
    return Field(
        min_length=1,
        title="Object",
        description="The sObject's API name: Contact, Lead, Account, Opportunity, or a custom "
        "one (Investment__c).",
        examples=["Contact"],
    )


def _fields() -> Any:
    return Field(
        title="Fields",
        description=FIELDS_DESCRIPTION + " Custom fields end in __c.",
        examples=[{"LastName": "{{ event.last_name }}", "Email": "{{ event.email }}"}],
    )


def _record_id() -> Any:
    return Field(
        min_length=15,
        max_length=18,
        title="Record ID",
        description="The record's 15- or 18-character Salesforce ID.",
        examples=["0035g00000XyZabAAB"],
    )


def _created_id(response: Any, what: str) -> str:
    body = RestApi.json(response)
    if not isinstance(body, dict) or not body.get("id"):
        raise PermanentError(f"Salesforce answered {what} without the record's ID")
    return str(body["id"])


class CreateRecordInput(BaseModel):
    sobject: str = _sobject()
    fields: dict[str, Any] = _fields()


class CreateRecord(Action[SalesforceConnection, CreateRecordInput, RecordOutput]):
    """Create a record (``POST /sobjects/{sObject}``).

    Salesforce has no idempotency key: a retry after an answer lost on the way back can make a
    second record. Steps that must never do so upsert by an external ID instead.
    """

    key = "create_record"
    title = "Create a record"
    description = "Create a contact, lead, account, opportunity or any sObject record."

    async def run(
        self, ctx: ActionContext, conn: SalesforceConnection, data: CreateRecordInput
    ) -> RecordOutput:
        from maillon.connectors.salesforce._api import data_path, salesforce, soql_name

        what = f"to create the {data.sobject}"
        async with salesforce(conn, ctx.timeout) as sf:
            response = await sf.call(
                "POST",
                data_path(conn, f"sobjects/{soql_name(data.sobject)}/"),
                json=data.fields,
                what=what,
            )
        return RecordOutput(id=_created_id(response, what), created=True)


class UpdateRecordInput(BaseModel):
    sobject: str = _sobject()
    record_id: str = _record_id()
    fields: dict[str, Any] = _fields()


class UpdateRecord(Action[SalesforceConnection, UpdateRecordInput, RecordOutput]):
    """Change some fields of a record (``PATCH /sobjects/{sObject}/{id}``)."""

    key = "update_record"
    title = "Update a record"
    description = "Change fields of a Salesforce record."

    async def run(
        self, ctx: ActionContext, conn: SalesforceConnection, data: UpdateRecordInput
    ) -> RecordOutput:
        from maillon.connectors.salesforce._api import data_path, salesforce, soql_name

        async with salesforce(conn, ctx.timeout) as sf:
            await sf.call(
                "PATCH",
                data_path(conn, f"sobjects/{soql_name(data.sobject)}/{quote(data.record_id)}"),
                json=data.fields,
                what=f"to update {data.sobject} {data.record_id}",
            )
        return RecordOutput(id=data.record_id, created=False)


class UpsertRecordInput(BaseModel):
    sobject: str = _sobject()
    key_field: str = Field(
        min_length=1,
        title="Key field",
        description="The field that identifies the record: Email, or an External ID field "
        "such as Particeep_User_Id__c.",
        examples=["Email", "Particeep_User_Id__c"],
    )
    key_value: str = Field(
        min_length=1,
        title="Key value",
        description="The key's value for this record; set on the record when it is created.",
        examples=["{{ event.email }}"],
    )
    external_id: bool = Field(
        default=False,
        title="Key is an External ID field",
        description="On: Salesforce's own upsert, in one atomic call (the field must be marked "
        "External ID). Off: the record is looked up with SOQL, then updated or created.",
    )
    fields: dict[str, Any] = _fields()


class UpsertRecord(Action[SalesforceConnection, UpsertRecordInput, RecordOutput]):
    """Update the record with this key, or create it.

    By an External ID field, Salesforce's upsert (``PATCH /sobjects/{sObject}/{field}/{value}``)
    does both in one call. By any other field (Email on a standard Contact is not an External
    ID), a SOQL lookup comes first; either way a retried step finds what its first attempt
    made.
    """

    key = "upsert_record"
    title = "Create or update a record by a key"
    advanced_inputs = ("external_id",)
    description = (
        "Update the Salesforce record whose key field (Email, an External ID) has the given "
        "value, or create it if there is none."
    )

    async def run(
        self, ctx: ActionContext, conn: SalesforceConnection, data: UpsertRecordInput
    ) -> RecordOutput:
        from maillon.connectors.salesforce._api import data_path, salesforce, soql_name, soql_value

        sobject, key = soql_name(data.sobject), soql_name(data.key_field)
        what = f"to upsert the {sobject} with {key} = {data.key_value!r}"
        async with salesforce(conn, ctx.timeout) as sf:
            if data.external_id:
                fields = {k: v for k, v in data.fields.items() if k != key}
                response = await sf.call(
                    "PATCH",
                    data_path(conn, f"sobjects/{sobject}/{key}/{quote(data.key_value, safe='')}"),
                    json=fields,
                    what=what,
                    accept=(300,),
                )
                if response.status_code == 300:
                    # Several records share the value: Salesforce lists their URLs.
                    urls = RestApi.json(response) or []
                    ids = [str(u).rsplit("/", 1)[-1] for u in urls]
                    one_or_none(ids, "Salesforce", key, data.key_value)
                body = RestApi.json(response) or {}
                # 201 for a new record; 200 with created false for a changed one.
                return RecordOutput(
                    id=_created_id(response, what), created=bool(body.get("created"))
                )
            query = f"SELECT Id FROM {sobject} WHERE {key} = {soql_value(data.key_value)} LIMIT 2"
            found = await sf.call(
                "GET",
                data_path(conn, "query/"),
                params={"q": query},
                what=f"to look up the {sobject}",
            )
            records = (RestApi.json(found) or {}).get("records") or []
            record = one_or_none([str(r["Id"]) for r in records], "Salesforce", key, data.key_value)
            if record is not None:
                await sf.call(
                    "PATCH",
                    data_path(conn, f"sobjects/{sobject}/{quote(record)}"),
                    json=data.fields,
                    what=what,
                )
                return RecordOutput(id=record, created=False)
            response = await sf.call(
                "POST",
                data_path(conn, f"sobjects/{sobject}/"),
                json={key: data.key_value, **data.fields},
                what=what,
            )
        return RecordOutput(id=_created_id(response, what), created=True)


class FindRecordsInput(BaseModel):
    sobject: str | None = Field(
        default=None,
        title="Object",
        description="The sObject to search (with a field and a value), e.g. Contact.",
        examples=["Contact"],
    )
    field: str | None = Field(
        default=None, title="Field", description="The field to match.", examples=["Email"]
    )
    value: str | None = Field(
        default=None,
        title="Value",
        description="The value the field must have.",
        examples=["{{ event.email }}"],
    )
    select: list[str] = Field(
        default_factory=lambda: ["Id"],
        title="Fields to return",
        description="API names of the fields each record brings back.",
        examples=[["Id", "Name", "Email"]],
    )
    soql: str | None = Field(
        default=None,
        title="SOQL query",
        description="A whole SOQL query, instead of an object, a field and a value.",
        examples=["SELECT Id, Name FROM Contact WHERE Email = '{{ event.email }}'"],
    )
    limit: int = Field(
        default=200, ge=1, le=10000, title="At most", description="How many records to return."
    )

    @model_validator(mode="after")
    def _a_query(self) -> Self:
        simple = (self.sobject, self.field, self.value)
        if self.soql is None and None in simple:
            raise ValueError("give an object, a field and a value, or a SOQL query")
        if self.soql is not None and any(v is not None for v in simple):
            raise ValueError("give either a SOQL query or an object, a field and a value")
        return self


class FindRecords(Action[SalesforceConnection, FindRecordsInput, FoundRecords]):
    """Run a SOQL query (``GET /query``) and follow ``nextRecordsUrl`` page by page."""

    key = "find_records"
    title = "Find records"
    advanced_inputs = ("select", "soql", "limit")
    description = "Find Salesforce records whose field has a value, or run a SOQL query."

    async def run(
        self, ctx: ActionContext, conn: SalesforceConnection, data: FindRecordsInput
    ) -> FoundRecords:
        from maillon.connectors.salesforce._api import data_path, salesforce, soql_name, soql_value

        query = data.soql
        if query is None:
            # The validator's promise: an object, a field and a value.
            assert data.sobject is not None
            assert data.field is not None
            assert data.value is not None
            columns = ", ".join(soql_name(c) for c in data.select or ["Id"])
            query = (
                f"SELECT {columns} FROM {soql_name(data.sobject)} "
                f"WHERE {soql_name(data.field)} = {soql_value(data.value)}"
            )
        records: list[dict[str, Any]] = []
        async with salesforce(conn, ctx.timeout) as sf:
            path: str = data_path(conn, "query/")
            params: dict[str, str] | None = {"q": query}
            while True:
                response = await sf.call(
                    "GET",
                    path,
                    params=params,
                    headers={"Sforce-Query-Options": f"batchSize={_BATCH}"},
                    what="to run the query",
                )
                page = RestApi.json(response) or {}
                found = page.get("records") or []
                records.extend(found)
                size = page.get("totalSize")
                total = size if isinstance(size, int) else 0
                following = page.get("nextRecordsUrl")
                # An empty page that says "more" would be asked for again and again.
                if not found or not following or len(records) >= data.limit:
                    break
                path, params = str(following), None
        records = [{k: v for k, v in r.items() if k != "attributes"} for r in records]
        found = records[: data.limit]
        return FoundRecords(
            records=found,
            count=len(found),
            first_id=str(found[0]["Id"]) if found and found[0].get("Id") else None,
            more=max(total, len(records)) > len(found),
        )


class AddNoteInput(BaseModel):
    record_id: str = _record_id()
    subject: str = Field(
        min_length=1,
        max_length=255,
        title="Subject",
        description="The activity's subject.",
        examples=["Investment on Particeep"],
    )
    description: str = Field(
        default="",
        title="Comments",
        description="The activity's text.",
        examples=["Invested {{ event.amount | money(event.currency) }}"],
    )
    status: str = Field(
        default="Completed",
        title="Status",
        description="The task's status, as the org's picklist names it.",
    )


class AddNote(Action[SalesforceConnection, AddNoteInput, NoteOutput]):
    """Log an activity on a record: a Task whose WhoId (a contact or lead) or WhatId (an
    account, opportunity, custom record) is the record."""

    key = "add_note"
    title = "Log an activity"
    advanced_inputs = ("status",)
    description = "Log a completed activity (a Task) on a Salesforce contact, lead or record."

    async def run(
        self, ctx: ActionContext, conn: SalesforceConnection, data: AddNoteInput
    ) -> NoteOutput:
        from maillon.connectors.salesforce._api import data_path, salesforce

        link = "WhoId" if data.record_id.startswith(_WHO_PREFIXES) else "WhatId"
        task = {
            link: data.record_id,
            "Subject": data.subject,
            "Description": data.description,
            "Status": data.status,
        }
        what = f"to log the activity on {data.record_id}"
        async with salesforce(conn, ctx.timeout) as sf:
            response = await sf.call(
                "POST", data_path(conn, "sobjects/Task/"), json=task, what=what
            )
        return NoteOutput(id=_created_id(response, what))
