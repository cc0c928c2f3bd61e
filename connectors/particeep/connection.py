"""The credentials and settings of one Particeep account."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from maillon.connectors.sdk import Connection, choice_labels

if TYPE_CHECKING:
    from maillon.connectors.particeep.client import ParticeepClient

__all__ = ["BASE_URLS", "Environment", "ParticeepConnection"]

Environment = Literal["production", "test", "custom"]

#: Particeep's two public environments. ``custom`` (a local fake, a proxy) uses ``base_url``.
BASE_URLS: dict[str, str] = {
    "production": "https://api.particeep.com/v1",
    "test": "https://test-api.particeep.com/v1",
}


class ParticeepConnection(Connection):
    """An API key pair, from Particeep's back office, and the environment that it belongs to."""

    api_key: str = Field(
        min_length=1,
        title="API key",
        description="The public half of the key pair (Particeep back office, API menu).",
        examples=["6a1f0c9e-3b2d-4c5e-8f70-1a2b3c4d5e6f"],
    )
    api_secret: SecretStr = Field(
        title="API secret",
        description="The secret half of the key pair. Stored encrypted; never shown again.",
    )
    environment: Environment = Field(
        default="production",
        title="Environment",
        json_schema_extra=choice_labels(
            {"production": "Production", "test": "Test platform", "custom": "Custom base URL"}
        ),
        description="Particeep's production or test platform, or a custom base URL.",
    )
    base_url: str | None = Field(
        default=None,
        title="Custom base URL",
        description="Only for the custom environment, e.g. a proxy or a local fake API. "
        "Include the version path.",
        examples=["http://127.0.0.1:8088/v1"],
    )
    timeout: float = Field(
        default=20.0,
        gt=0,
        title="Timeout (seconds)",
        description="How long to wait for Particeep's answer to one call.",
    )

    @field_validator("base_url")
    @classmethod
    def _http_base_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _custom_needs_base_url(self) -> ParticeepConnection:
        if self.environment == "custom" and not self.base_url:
            raise ValueError("the custom environment needs a base_url")
        return self

    @property
    def api_base_url(self) -> str:
        """The URL that API paths are relative to, without a trailing slash."""
        if self.environment == "custom":
            assert self.base_url is not None  # guaranteed by the validator
            return self.base_url.rstrip("/")
        return BASE_URLS[self.environment]

    def client(self, *, timeout: float | None = None) -> ParticeepClient:
        """An API client for this account; ``timeout`` overrides :attr:`timeout`."""
        # The client module, and httpx behind it, is imported on first use: loading the
        # connector (for an incoming hook, or the catalog) does not need it.
        from maillon.connectors.particeep.client import ParticeepClient

        return ParticeepClient.from_connection(self, timeout=timeout)
