"""Action ``slack.send_webhook_message``: post through an incoming webhook."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from maillon.connectors.sdk import Action, ActionContext
from maillon.connectors.slack.connection import SlackConnection

__all__ = ["SendWebhookMessage", "SendWebhookMessageInput", "SendWebhookMessageOutput"]


class SendWebhookMessageInput(BaseModel):
    """The message; the channel is fixed by the webhook."""

    text: str = Field(
        default="",
        title="Text",
        description="The message, in Slack mrkdwn; the notification fallback when blocks are set.",
        examples=["Campaign {{ event.campaign.name }} reached its goal"],
    )
    blocks: list[dict[str, Any]] | None = Field(
        default=None,
        title="Blocks",
        description="Block Kit layout blocks (https://app.slack.com/block-kit-builder).",
        examples=[[{"type": "section", "text": {"type": "mrkdwn", "text": "*Goal reached*"}}]],
    )

    @model_validator(mode="after")
    def _has_content(self) -> SendWebhookMessageInput:
        if not self.text.strip() and not self.blocks:
            raise ValueError("give a text or blocks")
        return self


class SendWebhookMessageOutput(BaseModel):
    """Incoming webhooks answer a bare ``ok``: there is no message ts to return."""

    ok: bool = Field(title="OK", description="Always true: failures raise instead.")
    status: int = Field(title="HTTP status", description="Slack's HTTP status (200).")


class SendWebhookMessage(
    Action[SlackConnection, SendWebhookMessageInput, SendWebhookMessageOutput]
):
    """Post to the channel of an incoming webhook: no bot, no scopes, one fixed channel."""

    key = "send_webhook_message"
    title = "Send a message through an incoming webhook"
    description = "Post to the channel an incoming webhook was created for (needs a webhook URL)."

    def run(
        self, ctx: ActionContext, conn: SlackConnection, data: SendWebhookMessageInput
    ) -> SendWebhookMessageOutput:
        """POST the message to the webhook URL; raise a classified error on any failure."""
        # Imported on first use, as in SendMessage.run: slack_sdk stays out of discovery.
        from maillon.connectors.slack._client import (
            CLIENT_ERRORS,
            classify_network_error,
            classify_webhook_response,
            webhook_client,
        )

        client = webhook_client(conn, ctx.timeout)
        try:
            response = client.send(text=data.text or None, blocks=data.blocks)
        except CLIENT_ERRORS as exc:
            raise classify_network_error(exc) from exc
        error = classify_webhook_response(response)
        if error is not None:
            raise error
        return SendWebhookMessageOutput(ok=True, status=response.status_code)
