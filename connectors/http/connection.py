"""The optional HTTP connection: a base URL plus credentials kept out of flow definitions."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from maillon.connectors.sdk import Connection

__all__ = ["HttpConnection"]


class HttpConnection(Connection):
    """Settings shared by the requests of one API: where it lives and how to authenticate.

    Every field is optional, so ``HttpConnection()`` is a valid "no connection": steps calling
    a public URL name none. When ``base_url`` is set, steps may give relative URLs, and the
    credentials are only ever sent to that origin (an absolute URL elsewhere is refused).
    """

    base_url: str | None = Field(
        default=None,
        title="Base URL",
        description="Prefix of relative step URLs; credentials are sent to this origin only.",
        examples=["https://api.example.com/v1/"],
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        title="Headers",
        description=(
            "Headers added to every request (steps can override them). Not secret: put "
            "credentials in the token, password or API key fields."
        ),
        examples=[{"Accept": "application/json"}],
    )
    bearer_token: SecretStr | None = Field(
        default=None,
        title="Bearer token",
        description="Sent as 'Authorization: Bearer <token>'.",
    )
    basic_username: str | None = Field(
        default=None, title="Basic auth user name", description="For HTTP Basic authentication."
    )
    basic_password: SecretStr | None = Field(
        default=None, title="Basic auth password", description="For HTTP Basic authentication."
    )
    api_key: SecretStr | None = Field(
        default=None,
        title="API key",
        description="Sent in the header named below, for APIs that authenticate that way.",
    )
    api_key_header: str = Field(
        default="X-API-Key",
        title="API key header",
        description="Name of the header that carries the API key.",
        examples=["X-API-Key", "Api-Key"],
    )

    test_url: str | None = Field(
        default=None,
        title="Test URL",
        description="Requested with GET and these credentials when the connection is tested; "
        "a 2xx answer means they work. Absolute, or relative to the base URL (default: the "
        "base URL itself).",
        examples=["https://api.example.com/v1/me", "me"],
    )

    @field_validator("test_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("base_url")
    @classmethod
    def _http_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _one_auth_scheme(self) -> HttpConnection:
        if self.bearer_token is not None and self.basic_username is not None:
            raise ValueError("set either a bearer token or basic auth, not both")
        if self.basic_password is not None and self.basic_username is None:
            raise ValueError("basic_password needs basic_username")
        return self

    def __hash__(self) -> int:
        # The generated hash of frozen models chokes on the headers dict: hash its items
        # instead. A session pool looks the connection up for every request, so no dump or
        # JSON here (secrets hash by their value, as equality compares them).
        return hash(
            tuple(
                tuple(sorted(value.items())) if isinstance(value, dict) else value
                for value in self.__dict__.values()
            )
        )
