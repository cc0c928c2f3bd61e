"""Particeep actions: read a user or a transaction, tag or annotate a user."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from maillon.connectors.particeep.connection import ParticeepConnection
from maillon.connectors.particeep.models import Transaction, User
from maillon.connectors.sdk import Action, ActionContext

__all__ = ["GetTransaction", "GetUser", "UpdateUser"]

_UUID_EXAMPLE = "3e8a1f52-9c4d-4b7e-a1f0-6d2c8b5e9a13"


class GetUserInput(BaseModel):
    user_id: str = Field(
        min_length=1,
        title="User ID",
        description="Particeep's id of the user; from a transaction it is usually "
        "{{ event.issuer_id }}.",
        examples=[_UUID_EXAMPLE],
    )


class GetUser(Action[ParticeepConnection, GetUserInput, User]):
    """Fetch a user, e.g. the investor behind a transaction, to email them by name."""

    key = "get_user"
    title = "Get a user"
    description = "Read one Particeep user by id: name, email, phone, tag, custom fields."

    async def run(self, ctx: ActionContext, conn: ParticeepConnection, data: GetUserInput) -> User:
        async with conn.client(timeout=ctx.timeout) as client:
            return await client.get_user(data.user_id)


class GetTransactionInput(BaseModel):
    transaction_id: str = Field(
        min_length=1,
        title="Transaction ID",
        description="Particeep's id of the transaction.",
        examples=["0f6c1c9e-5d1b-4f7e-9a55-2b8f5c0e1d11"],
    )


class GetTransaction(Action[ParticeepConnection, GetTransactionInput, Transaction]):
    """Fetch a transaction, e.g. to read its latest status before acting on it."""

    key = "get_transaction"
    title = "Get a transaction"
    description = "Read one Particeep transaction by id: amount (cents), status, investor."

    async def run(
        self, ctx: ActionContext, conn: ParticeepConnection, data: GetTransactionInput
    ) -> Transaction:
        async with conn.client(timeout=ctx.timeout) as client:
            return await client.get_transaction(data.transaction_id)


class UpdateUserInput(BaseModel):
    user_id: str = Field(
        min_length=1,
        title="User ID",
        description="Particeep's id of the user to change.",
        examples=[_UUID_EXAMPLE],
    )
    tag: str | None = Field(
        default=None,
        title="Tag",
        description="Replaces the user's tag. Leave empty to keep it.",
        examples=["investisseur-actif"],
    )
    custom: dict[str, Any] | None = Field(
        default=None,
        title="Custom fields",
        description="Keys to set in the user's custom data.",
        examples=[{"crm_id": "HS-4412", "welcome_email_sent": True}],
    )
    merge_custom: bool = Field(
        default=True,
        title="Keep other custom fields",
        description="Read the user first and keep the custom keys not given here. Turn off to "
        "replace the custom data as a whole.",
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateUserInput:
        if self.tag is None and self.custom is None:
            raise ValueError("give a tag, custom fields, or both")
        return self


class UpdateUser(Action[ParticeepConnection, UpdateUserInput, User]):
    """Set a user's tag and/or custom fields (Particeep edits with ``POST /user/{id}``).

    Setting values is idempotent, so a retry of this step after a lost answer is harmless.
    """

    key = "update_user"
    title = "Update a user"
    advanced_inputs = ("merge_custom",)
    description = "Set the tag and/or custom fields of a Particeep user."

    async def run(
        self, ctx: ActionContext, conn: ParticeepConnection, data: UpdateUserInput
    ) -> User:
        fields: dict[str, Any] = {}
        if data.tag is not None:
            fields["tag"] = data.tag
        async with conn.client(timeout=ctx.timeout) as client:
            if data.custom is not None:
                custom = dict(data.custom)
                if data.merge_custom:
                    # Particeep's edit is taken to replace `custom` as a whole (undocumented), and
                    # other tools keep data there (Particeep itself logs sign-in IPs in it).
                    current = await client.get_user(data.user_id)
                    custom = {**(current.custom or {}), **custom}
                fields["custom"] = custom
            return await client.update_user(data.user_id, fields)
