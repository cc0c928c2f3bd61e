"""The Mailchimp actions: add or update an audience member, change its tags, unsubscribe it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from maillon.connectors.mailchimp._api import MailchimpApi, member_path, subscriber_hash
from maillon.connectors.mailchimp.connection import MailchimpConnection
from maillon.connectors.sdk import Action, ActionContext, PermanentError, choice_labels

__all__ = ["UnsubscribeMember", "UpdateTags", "UpsertMember"]

Status = Literal["subscribed", "pending", "unsubscribed", "transactional"]
MergeValue = str | int | float | dict[str, str]


def _names(value: object) -> object:
    # Templates often render one comma-separated string; a list is taken as is.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


#: Tag names: a list, or one comma-separated string.
TagNames = Annotated[list[str], BeforeValidator(_names)]


class MemberInput(BaseModel):
    """Which member of which audience."""

    list_id: str = Field(
        min_length=1,
        title="Audience ID",
        description="Audience → Settings → Audience name and defaults → Audience ID.",
        examples=["a1b2c3d4e5"],
    )
    email: str = Field(title="Email address", examples=["{{ event.email }}"])

    @field_validator("email")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip()
        if value.count("@") != 1 or " " in value:
            raise ValueError(f"not an email address: {value!r}")
        return value


class Member(BaseModel):
    """An audience member as Mailchimp keeps it."""

    member_id: str = Field(
        title="Member ID",
        description="Mailchimp's ID of the member (the MD5 of the lower-cased address).",
        examples=["62eeb292278cc15f5817cb78f7790b08"],
    )
    email: str = Field(title="Email address", examples=["ada@example.com"])
    status: str = Field(title="Status", examples=["subscribed"])
    tags: list[str] = Field(default_factory=list, title="Tags", examples=[["investor"]])

    @classmethod
    def of(cls, found: Any, *, added: Sequence[str] = ()) -> Member:
        """From Mailchimp's member resource, with ``added`` tags it may not list yet."""
        if not isinstance(found, dict) or not found.get("id"):
            raise PermanentError("Mailchimp answered without the member")
        tags = [str(t.get("name")) for t in found.get("tags") or [] if isinstance(t, dict)]
        return cls(
            member_id=str(found["id"]),
            email=str(found.get("email_address", "")),
            status=str(found.get("status", "")),
            tags=list(dict.fromkeys([*tags, *added])),
        )


# -- upsert_member -----------------------------------------------------------------------------


class UpsertMemberInput(MemberInput):
    """A person to add to an audience, or to update when already there."""

    status_if_new: Status = Field(
        default="subscribed",
        title="Status if new",
        json_schema_extra=choice_labels(
            {
                "subscribed": "Subscribed",
                "pending": "Pending (a confirmation e-mail first)",
                "unsubscribed": "Unsubscribed",
                "transactional": "Transactional (no campaigns)",
            }
        ),
        description="subscribed: receives campaigns at once; pending: Mailchimp first emails "
        "a confirmation link (double opt-in).",
    )
    status: Status | None = Field(
        default=None,
        title="Status",
        json_schema_extra=choice_labels(
            {
                "subscribed": "Subscribed",
                "pending": "Pending (a confirmation e-mail first)",
                "unsubscribed": "Unsubscribed",
                "transactional": "Transactional (no campaigns)",
            }
        ),
        description="Also changes the status of an existing member. Leave empty to keep it.",
    )
    merge_fields: dict[str, MergeValue] = Field(
        default_factory=dict,
        title="Merge fields",
        description="By merge tag, as the audience's settings list them.",
        examples=[{"FNAME": "{{ event.first_name }}", "LNAME": "{{ event.last_name }}"}],
    )
    tags: TagNames = Field(
        default_factory=list,
        title="Tags",
        description="Added to the member (tags it has already are kept): a list, or names "
        "separated by commas.",
        examples=[["investor", "particeep"]],
    )
    language: str | None = Field(
        default=None, title="Language", description="A language code.", examples=["fr"]
    )
    skip_merge_validation: bool = Field(
        default=False,
        title="Accept missing required merge fields",
        description="Add the member even when a merge field the audience requires is missing.",
    )


class UpsertMember(Action[MailchimpConnection, UpsertMemberInput, Member]):
    """Add or update a member by email address (Mailchimp's PUT upsert: running the step twice
    leaves one member), then add the tags."""

    key = "upsert_member"
    title = "Add or update a member"
    description = (
        "Add a person to a Mailchimp audience, or update them, with merge fields and tags."
    )
    advanced_inputs = ("status", "language", "skip_merge_validation")

    async def run(
        self, ctx: ActionContext, conn: MailchimpConnection, data: UpsertMemberInput
    ) -> Member:
        body: dict[str, Any] = {"email_address": data.email, "status_if_new": data.status_if_new}
        if data.status is not None:
            body["status"] = data.status
        if data.merge_fields:
            body["merge_fields"] = data.merge_fields
        if data.language:
            body["language"] = data.language
        path = member_path(data.list_id, data.email)
        what = f"the audience {data.list_id}"
        async with MailchimpApi(conn, timeout=ctx.timeout) as api:
            params = {"skip_merge_validation": "true"} if data.skip_merge_validation else None
            member = await api.call("PUT", path, what=what, json=body, params=params)
            if data.tags:
                # The upsert does not take tags; this call adds them, and is idempotent too.
                await api.call("POST", f"{path}/tags", what=what, json=_tag_changes(data.tags))
        return Member.of(member, added=data.tags)


def _tag_changes(add: Sequence[str], remove: Sequence[str] = ()) -> dict[str, Any]:
    changes = [{"name": n, "status": "active"} for n in add]
    changes += [{"name": n, "status": "inactive"} for n in remove]
    return {"tags": changes}


# -- update_tags -------------------------------------------------------------------------------


class UpdateTagsInput(MemberInput):
    """Tags to add to a member, and tags to take off."""

    add: TagNames = Field(default_factory=list, title="Add", examples=[["large-investor"]])
    remove: TagNames = Field(default_factory=list, title="Remove", examples=[["prospect"]])

    @model_validator(mode="after")
    def _some_change(self) -> Self:
        if not self.add and not self.remove:
            raise ValueError("give tags to add or to remove")
        return self


class TagsChanged(BaseModel):
    """What was changed."""

    member_id: str = Field(title="Member ID")
    email: str = Field(title="Email address")
    added: list[str] = Field(title="Added")
    removed: list[str] = Field(title="Removed")


class UpdateTags(Action[MailchimpConnection, UpdateTagsInput, TagsChanged]):
    """Add and remove tags of an existing member (a tag Mailchimp does not know is created)."""

    key = "update_tags"
    title = "Add or remove tags"
    description = "Tag a member of a Mailchimp audience, or take tags off."

    async def run(
        self, ctx: ActionContext, conn: MailchimpConnection, data: UpdateTagsInput
    ) -> TagsChanged:
        async with MailchimpApi(conn, timeout=ctx.timeout) as api:
            await api.call(
                "POST",
                member_path(data.list_id, data.email) + "/tags",
                what=f"the audience {data.list_id} or its member {data.email}",
                json=_tag_changes(data.add, data.remove),
            )
        return TagsChanged(
            member_id=subscriber_hash(data.email),
            email=data.email,
            added=data.add,
            removed=data.remove,
        )


# -- unsubscribe_member ------------------------------------------------------------------------


class UnsubscribeMember(Action[MailchimpConnection, MemberInput, Member]):
    """Unsubscribe a member: they stay in the audience, and receive no more campaigns."""

    key = "unsubscribe_member"
    title = "Unsubscribe a member"
    description = "Stop sending Mailchimp campaigns to a member of an audience."

    async def run(self, ctx: ActionContext, conn: MailchimpConnection, data: MemberInput) -> Member:
        async with MailchimpApi(conn, timeout=ctx.timeout) as api:
            member = await api.call(
                "PATCH",
                member_path(data.list_id, data.email),
                what=f"the audience {data.list_id} or its member {data.email}",
                json={"status": "unsubscribed"},
            )
        return Member.of(member)
