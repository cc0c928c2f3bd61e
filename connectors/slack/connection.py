"""The Slack connection: a bot token for the Web API and/or an incoming-webhook URL."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from maillon.connectors.sdk import Connection

__all__ = ["DEFAULT_BASE_URL", "SlackConnection"]

DEFAULT_BASE_URL = "https://slack.com/api/"


class SlackConnection(Connection):
    """How Maillon talks to one Slack workspace.

    Both credentials are optional because each action needs only one of them:
    ``send_message`` uses the bot token, ``send_webhook_message`` the webhook URL. An action whose
    credential is missing fails with a permanent error that says which field to fill in.
    """

    bot_token: SecretStr | None = Field(
        default=None,
        title="Bot token",
        description=(
            "Bot User OAuth Token of your Slack app (starts with xoxb-). Needs the chat:write "
            "scope, and the bot must be a member of private channels it posts to."
        ),
        examples=["xoxb-0000000000-0000000000000-xxxxxxxxxxxxxxxxxxxxxxxx"],
    )
    webhook_url: SecretStr | None = Field(
        default=None,
        title="Incoming webhook URL",
        description=(
            "URL of an incoming webhook, which posts to the one channel chosen when the webhook "
            "was created. Secret: anyone who has it can post."
        ),
        examples=["https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"],
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        title="Web API base URL",
        description="Change only for GovSlack (https://slack-gov.com/api/) or a proxy.",
        examples=[DEFAULT_BASE_URL, "https://slack-gov.com/api/"],
    )

    @field_validator("webhook_url")
    @classmethod
    def _absolute(cls, value: SecretStr | None) -> SecretStr | None:
        # Said when the connection is saved, not when the first message fails to post.
        if value is not None and not value.get_secret_value().strip().startswith(
            ("http://", "https://")
        ):
            raise ValueError("webhook_url must be an http:// or https:// URL")
        return value

    @field_validator("base_url")
    @classmethod
    def _slash_terminated(cls, value: str) -> str:
        # Method names are appended to the base URL; a missing slash would eat the last segment.
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        return value if value.endswith("/") else value + "/"
