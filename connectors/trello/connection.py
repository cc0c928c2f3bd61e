"""A Trello account: a Power-Up's API key and a token a member granted it."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from maillon.connectors.sdk import Connection

__all__ = ["API_URL", "TrelloConnection"]

API_URL = "https://api.trello.com/1/"


class TrelloConnection(Connection):
    """An API key and a token: Maillon acts as the member who generated the token."""

    api_key: str = Field(
        min_length=1,
        title="API key",
        description="From trello.com/power-ups/admin → your Power-Up → API key.",
        examples=["0123456789abcdef0123456789abcdef"],
    )
    token: SecretStr = Field(
        title="Token",
        description="Generated next to the API key (the Token link) by the member Maillon "
        "acts as, with read and write access.",
    )
    api_url: str = Field(
        default=API_URL,
        title="API URL",
        description="Where Trello's API calls go. Change only for a proxy.",
    )

    @field_validator("api_url")
    @classmethod
    def _slash_terminated(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("api_url must be an http:// or https:// URL")
        return value if value.endswith("/") else value + "/"
