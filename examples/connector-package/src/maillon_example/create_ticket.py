"""Action ``helpdesk.create_ticket``: open a ticket, once, however often the step is retried."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from maillon.connectors.sdk import Action, ActionContext
from maillon_example._api import call, client
from maillon_example.connection import HelpdeskConnection

__all__ = ["CreateTicket", "CreateTicketInput", "CreateTicketOutput"]


class CreateTicketInput(BaseModel):
    """The ticket to open. Titles, descriptions and examples make the step's form in Maillon."""

    subject: str = Field(
        min_length=1,
        max_length=200,
        title="Subject",
        description="One line that says what the ticket is about.",
        examples=["KYC documents missing for {{ event.investor.name }}"],
    )
    description: str = Field(
        default="",
        title="Description",
        description="The body of the ticket, in plain text.",
        examples=["Investor {{ event.investor.email }} subscribed {{ event.amount }} EUR."],
    )
    requester_email: str = Field(
        title="Requester",
        description="Who the ticket is on behalf of; replies go to this address.",
        examples=["{{ event.investor.email }}"],
    )
    priority: Literal["low", "normal", "high", "urgent"] = Field(
        default="normal", title="Priority", description="How soon the team should look at it."
    )
    tags: list[str] = Field(
        default_factory=list,
        title="Tags",
        description="Labels to sort the ticket by.",
        examples=[["kyc", "investor"]],
    )


class CreateTicketOutput(BaseModel):
    """The ticket opened. Later steps read these fields: ``{{ steps.<key>.url }}``."""

    ticket_id: str = Field(title="Ticket ID", examples=["T-1042"])
    url: str = Field(
        title="Link",
        description="Opens the ticket in the help desk.",
        examples=["https://support.example.com/tickets/T-1042"],
    )
    status: str = Field(title="Status", examples=["open"])


class CreateTicket(Action[HelpdeskConnection, CreateTicketInput, CreateTicketOutput]):
    """Open a ticket in the help desk."""

    key = "create_ticket"
    title = "Create a ticket"
    description = "Open a support ticket with a subject, a description and a priority."

    async def run(
        self, ctx: ActionContext, conn: HelpdeskConnection, data: CreateTicketInput
    ) -> CreateTicketOutput:
        async with client(conn, timeout=ctx.timeout) as http:
            ticket = await call(
                http,
                "POST",
                "tickets",
                json=data.model_dump(),
                # The same key on every attempt of this step: if an attempt's answer was lost,
                # the help desk returns the ticket it made then instead of opening a second one.
                headers={"Idempotency-Key": ctx.idempotency_key},
            )
        return CreateTicketOutput(
            ticket_id=str(ticket["id"]), url=str(ticket["url"]), status=str(ticket["status"])
        )
