"""HubSpot actions on CRM objects (contacts, companies, deals, custom objects) and notes.

The client is blocking (urllib3), so ``run`` is a plain method: the engine runs it in a worker
thread, and every call is given the step's timeout.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from maillon.connectors.crm import FIELDS_DESCRIPTION, FoundRecords, NoteOutput, RecordOutput
from maillon.connectors.hubspot.connection import HubSpotConnection
from maillon.connectors.sdk import Action, ActionContext, PermanentError, choice_labels

__all__ = ["AddNote", "CreateRecord", "FindRecords", "UpdateRecord", "UpsertRecord"]

#: HubSpot's own association types, by (from, to) object type: the unlabeled ones.
ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("notes", "contacts"): 202,
    ("notes", "companies"): 190,
    ("notes", "deals"): 214,
}
#: Records per search page (HubSpot's most).
_PAGE = 200

Operator = Literal["EQ", "NEQ", "CONTAINS_TOKEN", "GT", "GTE", "LT", "LTE", "HAS_PROPERTY"]


class Association(BaseModel):
    """A record the new one is linked to."""

    to_object_type: str = Field(
        title="Linked object type",
        description="contacts, companies, deals, or a custom object's type.",
        examples=["contacts"],
    )
    to_id: str = Field(
        min_length=1,
        title="Linked record ID",
        description="The ID of the record to link to.",
        examples=["{{ steps.contact.id }}"],
    )
    type_id: int | None = Field(
        default=None,
        title="Association type ID",
        description="HubSpot's association type; empty for the default link between contacts, "
        "companies and deals. Custom objects and labels need it.",
    )


# Field definitions that several inputs share, made anew for each model.
def _object_type() -> Any:
    return Field(
        min_length=1,
        title="Object type",
        description="contacts, companies, deals, or a custom object's type (2-1234567).",
        examples=["contacts"],
    )


def _properties() -> Any:
    return Field(
        title="Properties",
        description=FIELDS_DESCRIPTION + " (property internal names).",
        examples=[{"email": "{{ event.email }}", "firstname": "{{ event.first_name }}"}],
    )


def _wire(properties: dict[str, Any]) -> dict[str, str]:
    """Property values as HubSpot stores them: text, booleans as true/false, None as empty."""
    return {
        name: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
        for name, v in properties.items()
    }


def _associations(origin: str, links: list[Association]) -> list[Any]:
    from hubspot.crm.objects import AssociationSpec, PublicAssociationsForObject, PublicObjectId

    built = []
    for link in links:
        type_id = link.type_id or ASSOCIATION_TYPES.get((origin, link.to_object_type))
        if type_id is None:
            raise PermanentError(
                f"HubSpot has no default link from {origin} to {link.to_object_type}: give "
                "the association type ID"
            )
        spec = AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=type_id)
        built.append(PublicAssociationsForObject(to=PublicObjectId(id=link.to_id), types=[spec]))
    return built


def _create(
    ctx: ActionContext,
    conn: HubSpotConnection,
    object_type: str,
    properties: dict[str, str],
    links: list[Association],
) -> str:
    from hubspot.crm.objects import SimplePublicObjectInputForCreate

    from maillon.connectors.hubspot._client import apis, classify, failures

    body = SimplePublicObjectInputForCreate(
        properties=properties, associations=_associations(object_type, links)
    )
    try:
        created = apis(conn).basic.create(object_type, body, _request_timeout=ctx.timeout)
    except failures() as exc:
        raise classify(exc, f"to create the record in {object_type}") from exc
    return _answered_id(created, f"the creation of a record in {object_type}")


class CreateRecordInput(BaseModel):
    object_type: str = _object_type()
    properties: dict[str, Any] = _properties()
    associations: list[Association] = Field(
        default_factory=list,
        title="Links",
        description="Records to link the new one to (a deal's contact and company).",
    )


class CreateRecord(Action[HubSpotConnection, CreateRecordInput, RecordOutput]):
    """Create a record, linked to others (``POST /crm/v3/objects/{type}``).

    HubSpot has no idempotency key: a retry after a lost answer can make a second record.
    Steps that must never do so upsert by a unique property instead.
    """

    key = "create_record"
    title = "Create a record"
    advanced_inputs = ("associations",)
    description = "Create a HubSpot contact, company, deal or custom object record."

    def run(
        self, ctx: ActionContext, conn: HubSpotConnection, data: CreateRecordInput
    ) -> RecordOutput:
        record = _create(ctx, conn, data.object_type, _wire(data.properties), data.associations)
        return RecordOutput(id=record, created=True)


class UpdateRecordInput(BaseModel):
    object_type: str = _object_type()
    record_id: str = Field(
        min_length=1,
        title="Record ID",
        description="The record's ID, or its value of the unique property below.",
        examples=["{{ steps.contact.id }}"],
    )
    id_property: str | None = Field(
        default=None,
        title="Find it by",
        description="A unique property the Record ID is a value of (email for contacts); "
        "empty for HubSpot's record ID.",
        examples=["email"],
    )
    properties: dict[str, Any] = _properties()


class UpdateRecord(Action[HubSpotConnection, UpdateRecordInput, RecordOutput]):
    """Change some properties of a record (``PATCH /crm/v3/objects/{type}/{id}``)."""

    key = "update_record"
    title = "Update a record"
    advanced_inputs = ("id_property",)
    description = "Change properties of a HubSpot record."

    def run(
        self, ctx: ActionContext, conn: HubSpotConnection, data: UpdateRecordInput
    ) -> RecordOutput:
        from hubspot.crm.objects import SimplePublicObjectInput

        from maillon.connectors.hubspot._client import apis, classify, failures

        extra = {"id_property": data.id_property} if data.id_property else {}
        try:
            updated = apis(conn).basic.update(
                data.object_type,
                data.record_id,
                SimplePublicObjectInput(properties=_wire(data.properties)),
                _request_timeout=ctx.timeout,
                **extra,
            )
        except failures() as exc:
            raise classify(exc, f"to update {data.object_type} {data.record_id}") from exc
        what = f"the update of {data.object_type} {data.record_id}"
        return RecordOutput(id=_answered_id(updated, what), created=False)


class UpsertRecordInput(BaseModel):
    object_type: str = _object_type()
    id_property: str = Field(
        min_length=1,
        title="Key property",
        description="email for contacts, or a property whose values are unique (such as one "
        "holding the Particeep user ID).",
        examples=["email"],
    )
    id_value: str = Field(
        min_length=1,
        title="Key value",
        description="The key's value for this record.",
        examples=["{{ event.email }}"],
    )
    properties: dict[str, Any] = _properties()


class UpsertRecord(Action[HubSpotConnection, UpsertRecordInput, RecordOutput]):
    """HubSpot's upsert (``POST /crm/v3/objects/{type}/batch/upsert`` with ``idProperty``): one
    call that updates the record with the key or creates it, so a retried step never makes a
    second one."""

    key = "upsert_record"
    title = "Create or update a record by a key"
    description = (
        "Update the HubSpot record whose key property (email, a unique property) has the "
        "given value, or create it if there is none."
    )

    def run(
        self, ctx: ActionContext, conn: HubSpotConnection, data: UpsertRecordInput
    ) -> RecordOutput:
        from hubspot.crm.objects import (
            BatchInputSimplePublicObjectBatchInputUpsert,
            SimplePublicObjectBatchInputUpsert,
        )

        from maillon.connectors.hubspot._client import apis, classify, failures

        what = f"to upsert the record in {data.object_type}"
        one = SimplePublicObjectBatchInputUpsert(
            id_property=data.id_property, id=data.id_value, properties=_wire(data.properties)
        )
        try:
            answer = apis(conn).batch.upsert(
                data.object_type,
                BatchInputSimplePublicObjectBatchInputUpsert(inputs=[one]),
                _request_timeout=ctx.timeout,
            )
        except failures() as exc:
            raise classify(exc, what) from exc
        errors = getattr(answer, "errors", None)
        if errors or not answer.results:
            said = "; ".join(str(getattr(e, "message", e)) for e in errors or [])
            raise PermanentError(f"HubSpot refused {what}: {said or 'no result'}")
        result = answer.results[0]
        return RecordOutput(id=_answered_id(result, what), created=bool(result.new))


class FindRecordsInput(BaseModel):
    object_type: str = _object_type()
    property: str = Field(
        min_length=1, title="Property", description="The property to match.", examples=["email"]
    )
    value: str = Field(
        default="",
        title="Value",
        description="The value to compare with.",
        examples=["{{ event.email }}"],
    )
    operator: Operator = Field(
        default="EQ",
        title="Comparison",
        description="EQ: equal to (not case-sensitive).",
        json_schema_extra=choice_labels(
            {
                "EQ": "equal to (not case-sensitive)",
                "NEQ": "not equal to",
                "CONTAINS_TOKEN": "contains the word",
                "GT": "greater than",
                "GTE": "at least",
                "LT": "less than",
                "LTE": "at most",
                "HAS_PROPERTY": "has a value",
            }
        ),
    )
    properties: list[str] = Field(
        default_factory=list,
        title="Properties to return",
        description="Internal names of the properties each record brings back (HubSpot's "
        "defaults when empty).",
        examples=[["email", "firstname", "lastname"]],
    )
    limit: int = Field(
        default=200, ge=1, le=10000, title="At most", description="How many records to return."
    )


class FindRecords(Action[HubSpotConnection, FindRecordsInput, FoundRecords]):
    """Search a type of records (``POST /crm/v3/objects/{type}/search``), page after page."""

    key = "find_records"
    title = "Find records"
    advanced_inputs = ("operator", "properties", "limit")
    description = "Find HubSpot records whose property has (or compares with) a value."

    def run(
        self, ctx: ActionContext, conn: HubSpotConnection, data: FindRecordsInput
    ) -> FoundRecords:
        from hubspot.crm.objects import Filter, FilterGroup, PublicObjectSearchRequest

        from maillon.connectors.hubspot._client import apis, classify, failures

        condition = Filter(property_name=data.property, operator=data.operator)
        if data.operator != "HAS_PROPERTY":
            condition.value = data.value
        records: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            request = PublicObjectSearchRequest(
                filter_groups=[FilterGroup(filters=[condition])],
                properties=data.properties or None,
                limit=min(_PAGE, data.limit - len(records)),
                after=after,
            )
            try:
                page = apis(conn).search.do_search(
                    data.object_type, request, _request_timeout=ctx.timeout
                )
            except failures() as exc:
                raise classify(exc, f"to search {data.object_type}") from exc
            if not isinstance(getattr(page, "results", None), list):
                raise PermanentError(
                    f"HubSpot answered the search of {data.object_type} "
                    "without results: not a search's answer"
                )
            records.extend({"id": r.id, **(r.properties or {})} for r in page.results)
            after = page.paging.next.after if page.paging and page.paging.next else None
            # An empty page that says "more" would be asked for again and again (this runs in
            # a thread, which the step's timeout does not stop).
            if not page.results or after is None or len(records) >= data.limit:
                break
        first = str(records[0]["id"]) if records else None
        return FoundRecords(
            records=records, count=len(records), first_id=first, more=after is not None
        )


def _answered_id(answer: Any, what: str) -> str:
    """The id of the record HubSpot answered ``what`` with. Its client hands back an empty
    object (or none) for an answer it did not expect, a maintenance page say: that is no
    success to report, and the record's id would read "None"."""
    record_id = getattr(answer, "id", None)
    if not record_id:
        raise PermanentError(
            f"HubSpot answered {what} without a record: whether it was done is unknown, check "
            "in HubSpot before replaying"
        )
    return str(record_id)


class AddNoteInput(BaseModel):
    object_type: str = _object_type()
    record_id: str = Field(
        min_length=1,
        title="Record ID",
        description="The ID of the record the note is about.",
        examples=["{{ steps.contact.id }}"],
    )
    body: str = Field(
        min_length=1,
        title="Note",
        description="The note's text; HubSpot accepts simple HTML.",
        examples=["Invested {{ event.amount | money(event.currency) }} on Particeep"],
    )
    type_id: int | None = Field(
        default=None,
        title="Association type ID",
        description="Only for custom objects: the note-to-object association type.",
    )


class AddNote(Action[HubSpotConnection, AddNoteInput, NoteOutput]):
    """Add a note to a record's timeline: a ``notes`` object linked to the record."""

    key = "add_note"
    title = "Add a note"
    advanced_inputs = ("type_id",)
    description = "Add a note to the timeline of a HubSpot contact, company or deal."

    def run(self, ctx: ActionContext, conn: HubSpotConnection, data: AddNoteInput) -> NoteOutput:
        properties = {"hs_note_body": data.body, "hs_timestamp": str(int(time.time() * 1000))}
        link = Association(
            to_object_type=data.object_type, to_id=data.record_id, type_id=data.type_id
        )
        return NoteOutput(id=_create(ctx, conn, "notes", properties, [link]))
