"""Action ``slack.send_message``: post a message with the Web API (``chat.postMessage``)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from maillon.connectors.sdk import Action, ActionContext
from maillon.connectors.slack.connection import SlackConnection

__all__ = ["SendMessage", "SendMessageInput", "SendMessageOutput"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SendMessageInput(BaseModel):
    """What to post, and where."""

    channel: str = Field(
        min_length=1,
        title="Channel",
        description=(
            "Channel ID (C…, preferred: it survives renames), channel name, or a user ID (U…) "
            "for a direct message from the bot."
        ),
        examples=["C0123456789", "#investors", "U0123456789"],
    )
    text: str = Field(
        default="",
        title="Text",
        description=(
            "The message, in Slack mrkdwn. With blocks it is the fallback shown in "
            "notifications, so keep it meaningful."
        ),
        examples=["New subscription: {{ event.investor.name }} invested {{ event.amount }} €"],
    )
    blocks: list[dict[str, Any]] | None = Field(
        default=None,
        title="Blocks",
        description="Block Kit layout blocks (https://app.slack.com/block-kit-builder).",
        examples=[[{"type": "section", "text": {"type": "mrkdwn", "text": "*New investor*"}}]],
    )
    thread_ts: str | None = Field(
        default=None,
        title="Reply in thread",
        description="ts of the parent message, to reply in its thread (e.g. from an earlier step).",
        examples=["1712345678.123456"],
    )
    unfurl_links: bool | None = Field(
        default=None,
        title="Unfurl links",
        description="Show previews of the links in the text. Slack's default when empty.",
    )
    unfurl_media: bool | None = Field(
        default=None,
        title="Unfurl media",
        description="Show previews of images and videos. Slack's default when empty.",
    )

    @field_validator("channel")
    @classmethod
    def _a_channel(cls, value: str) -> str:
        # Slack would answer channel_not_found only when the message is sent (an alert, say,
        # lost until then): what cannot name a channel is said at once.
        if _EMAIL.match(value.strip()):
            raise ValueError(
                "an e-mail address is not a Slack channel: give the channel's ID (C…), its "
                "name (#ops) or a user's ID (U…)"
            )
        # Slack's channel names have no spaces; a template ({{ … }}) is read once rendered.
        if any(c.isspace() for c in value.strip()) and "{{" not in value and "{%" not in value:
            raise ValueError(
                "a Slack channel has no spaces: give the channel's ID (C…), its name (#ops) or "
                "a user's ID (U…)"
            )
        return value

    @model_validator(mode="after")
    def _has_content(self) -> SendMessageInput:
        # Slack answers no_text for an empty message; say so before any request is made.
        if not self.text.strip() and not self.blocks:
            raise ValueError("give a text or blocks")
        return self


class SendMessageOutput(BaseModel):
    """Where the message landed; ``ts`` identifies it (to reply in its thread, or edit it)."""

    ok: bool = Field(title="OK", description="Always true: failures raise instead.")
    channel: str = Field(
        title="Channel ID",
        description="ID of the channel the message was posted to.",
        examples=["C0123456789"],
    )
    ts: str = Field(
        title="Message ts",
        description="Timestamp ID of the new message; use it as thread_ts to reply.",
        examples=["1712345678.123456"],
    )


class SendMessage(Action[SlackConnection, SendMessageInput, SendMessageOutput]):
    """Post a message to a channel, a thread or a direct message as the Slack app's bot.

    ``chat.postMessage`` has no idempotency key: a retry after a lost answer may post twice.
    The engine retries only transient errors (5xx, 429, network), where that risk is small.
    """

    key = "send_message"
    title = "Send a message"
    advanced_inputs = ("blocks", "thread_ts", "unfurl_links", "unfurl_media")
    description = "Post a message as your Slack app's bot (needs a bot token)."

    def run(
        self, ctx: ActionContext, conn: SlackConnection, data: SendMessageInput
    ) -> SendMessageOutput:
        """Call ``chat.postMessage``; raise a classified error on any failure."""
        # slack_sdk is imported on first use, not with the connector: discovery loads every
        # connector's metadata, and a process that never posts to Slack should not pay for it.
        from slack_sdk.errors import SlackApiError

        from maillon.connectors.slack._client import (
            CLIENT_ERRORS,
            classify_api_error,
            classify_network_error,
            web_client,
        )

        client = web_client(conn, ctx.timeout)
        try:
            response = client.chat_postMessage(
                channel=data.channel,
                text=data.text or None,
                blocks=data.blocks,
                thread_ts=data.thread_ts,
                unfurl_links=data.unfurl_links,
                unfurl_media=data.unfurl_media,
            )
        except SlackApiError as exc:
            raise classify_api_error(exc) from exc
        except CLIENT_ERRORS as exc:
            raise classify_network_error(exc) from exc
        ctx.logger.debug("slack message posted to %s at %s", response["channel"], response["ts"])
        return SendMessageOutput(ok=True, channel=response["channel"], ts=response["ts"])
