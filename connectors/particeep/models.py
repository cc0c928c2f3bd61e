"""Particeep's entities as typed models, with the fields known from its SDKs.

Every model accepts fields it does not declare (``extra="allow"``): Particeep adds fields over
time and platforms add their own, and a flow may use any of them, so nothing is dropped.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Address", "Transaction", "User", "Webhook"]


class _Entity(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(title="ID", description="Particeep's identifier (a UUID).")
    created_at: str | None = Field(
        default=None, title="Created at", description="ISO-8601 UTC date."
    )
    tag: str | None = Field(default=None, title="Tag")
    custom: dict[str, Any] | None = Field(
        default=None,
        title="Custom fields",
        description="Free-form data that the platform stores on the entity.",
    )


class Address(BaseModel):
    """One postal address of a user."""

    model_config = ConfigDict(extra="allow")

    number: str | None = None
    street: str | None = None
    zip: str | None = None
    city: str | None = None
    country: str | None = None
    additional_details: str | None = None
    tag: str | None = None


class User(_Entity):
    """A Particeep user (an investor, a project holder, a back-office member)."""

    created_by: str | None = None
    email: str | None = Field(default=None, title="Email")
    first_name: str | None = Field(default=None, title="First name")
    last_name: str | None = Field(default=None, title="Last name")
    use_name: str | None = Field(default=None, title="Usual name")
    gender: str | None = Field(default=None, title="Gender", examples=["MAN", "WOMAN"])
    birthday: str | None = Field(default=None, title="Birthday")
    birth_place: str | None = None
    birth_country: str | None = None
    phone: str | None = Field(default=None, title="Phone")
    nationality: str | None = None
    investor_type: str | None = Field(default=None, title="Investor type")
    has_been_claimed: bool | None = Field(
        default=None,
        title="Account claimed",
        description="Whether the user has set a password and taken over the account.",
    )
    addresses: list[Address] | None = None
    lang: str | None = Field(default=None, title="Language", examples=["fr"])


class Transaction(_Entity):
    """A money movement: an investment, a repayment, a refund."""

    succeeded_at: str | None = Field(default=None, title="Succeeded at")
    issuer_id: str | None = Field(
        default=None, title="Issuer ID", description="Who pays: for an investment, the investor."
    )
    issuer_type: str | None = Field(default=None, title="Issuer type", examples=["USER"])
    recipient_id: str | None = Field(default=None, title="Recipient ID")
    recipient_type: str | None = Field(default=None, title="Recipient type")
    fundraise_id: str | None = Field(default=None, title="Fundraise ID")
    fundraise_type: str | None = Field(
        default=None, title="Fundraise type", examples=["FUNDRAISE_LOAN"]
    )
    item_id: str | None = None
    item_type: str | None = None
    amount: int | None = Field(
        default=None,
        title="Amount (cents)",
        description="In cents of `currency`.",
        examples=[150000],
    )
    fees: int | None = Field(default=None, title="Fees (cents)")
    partner_fees: int | None = None
    currency: str | None = Field(default=None, title="Currency", examples=["EUR"])
    status: str | None = Field(
        default=None,
        title="Status",
        description="PENDING, FROZEN, SUCCEEDED, REFUNDED or CANCELLED.",
        examples=["SUCCEEDED"],
    )
    payment_method: str | None = Field(
        default=None,
        title="Payment method",
        description="WALLET, CREDIT_CARD or DIRECT_CASHIN.",
    )
    handled_offline: bool | None = None
    comment: str | None = None
    private_comment: str | None = None
    price_per_share: int | None = None
    num_of_shares: int | None = None
    origin_transaction_id: str | None = None


class Webhook(BaseModel):
    """A webhook registered on a Particeep account: an event name and the URL it posts to."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: str = Field(description="The event name, e.g. transaction_created.")
    url: str
    created_at: str | None = None
