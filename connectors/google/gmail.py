"""Gmail: send an email from the connected account."""

from __future__ import annotations

import base64

from pydantic import BaseModel, Field

from maillon.connectors.google import french
from maillon.connectors.google.check import check_connection
from maillon.connectors.google.client import GMAIL, session
from maillon.connectors.google.connection import GoogleConnection
from maillon.connectors.google.oauth import GOOGLE_OAUTH
from maillon.connectors.mailmessage import (
    MESSAGE_FIELDS_FRENCH,
    MessageFields,
    build_message,
    idempotent_message_id,
    parse_address,
)
from maillon.connectors.sdk import Action, ActionContext, Connector, PermanentError

__all__ = ["SendEmail", "connector"]


class SendEmailInput(MessageFields):
    """An email to send through Gmail."""


class SendEmailOutput(BaseModel):
    """What Gmail reports about the sent message."""

    message_id: str = Field(
        title="Gmail message ID",
        description="Gmail's ID of the sent message.",
        examples=["18c2f0a1b2c3d4e5"],
    )
    thread_id: str = Field(
        title="Gmail thread ID",
        description="The conversation the message belongs to.",
        examples=["18c2f0a1b2c3d4e5"],
    )


class SendEmail(Action[GoogleConnection, SendEmailInput, SendEmailOutput]):
    """Send an email as the connected Gmail user.

    Without ``from_address`` Gmail sends as the account itself; with one, it must be the account
    or one of its verified "Send mail as" aliases, or Gmail replaces it.
    """

    key = "send_email"
    title = "Send an email"
    advanced_inputs = ("cc", "bcc", "reply_to", "from_address")
    description = "Send an email (plain text and/or HTML) from the connected Gmail account."

    def run(
        self, ctx: ActionContext, conn: GoogleConnection, data: SendEmailInput
    ) -> SendEmailOutput:
        sender_text = data.from_address or conn.account_email or conn.subject
        sender = parse_address(sender_text) if sender_text else None
        message = build_message(
            data,
            sender=sender,
            # Without a known sender domain, leave the Message-ID to Gmail.
            message_id=idempotent_message_id(ctx.idempotency_key, sender) if sender else None,
            include_bcc=True,
        )
        raw = base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")
        gmail = session(conn, GMAIL)
        request = gmail.resource("users", "messages").send(userId="me", body={"raw": raw})
        result = gmail.execute(ctx, request)
        if not isinstance(result, dict) or "id" not in result:
            raise PermanentError("Gmail answered without a message id")
        return SendEmailOutput(
            message_id=str(result["id"]), thread_id=str(result.get("threadId", ""))
        )


connector = Connector(
    key="gmail",
    title="Gmail",
    description="Send email from a Google account.",
    actions=(SendEmail,),
    connection=GoogleConnection,
    oauth=GOOGLE_OAUTH,
    check=check_connection,
    translations={"fr": {**french.CONNECTION, **MESSAGE_FIELDS_FRENCH, **french.GMAIL}},
)
