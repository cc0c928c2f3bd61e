"""The SMTP connection: which server, how to secure the session, how to log in."""

from __future__ import annotations

import ssl
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from maillon.connectors.mailmessage import parse_address
from maillon.connectors.sdk import Connection, choice_labels

__all__ = ["DEFAULT_PORTS", "SmtpConnection"]

#: The usual port of each security mode: submission (587), submissions (465), relay (25).
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class SmtpConnection(Connection):
    """An SMTP server that Maillon submits mail to."""

    host: str = Field(title="Server", examples=["smtp.example.com"])
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        title="Port",
        description="Leave empty for the usual port of the security mode (587, 465 or 25).",
        examples=[587],
    )
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        title="Security",
        json_schema_extra=choice_labels(
            {
                "starttls": "STARTTLS (port 587)",
                "tls": "TLS from the first byte (port 465)",
                "none": "No encryption (port 25, local relays only)",
            }
        ),
        description="starttls: upgrade a plain connection (port 587); tls: TLS from the first "
        "byte (port 465); none: no encryption (local relays only).",
    )
    username: str | None = Field(default=None, title="Username", examples=["noreply@example.com"])
    password: SecretStr | None = Field(default=None, title="Password")
    from_address: str | None = Field(
        default=None,
        title="Default sender",
        description="Used when an action does not name its own From address.",
        examples=["Particeep Notifications <noreply@example.com>"],
    )
    tls_verify: bool = Field(
        default=True,
        title="Verify the server certificate",
        description="Turn off only for a test server: without it, anyone on the path can read "
        "the password and the mail.",
    )
    tls_ca_pem: str | None = Field(
        default=None,
        title="CA certificate (PEM)",
        description="Trust this certificate authority (or self-signed certificate) instead of "
        "the public ones, for a server with a private certificate.",
    )
    local_hostname: str | None = Field(
        default=None,
        title="EHLO name",
        description="Name Maillon gives itself when greeting the server. Leave empty for this "
        "machine's name.",
    )
    max_attachment_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=0,
        title="Attachment size limit (bytes)",
        description="Largest total size of a message's attachments; larger downloads stop.",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both a username and a password, or neither")
        if self.password is not None and self.security == "none":
            raise ValueError(
                "use starttls or tls security to log in: never send a password in clear"
            )
        if self.from_address is not None:
            parse_address(self.from_address)
        return self

    @property
    def effective_port(self) -> int:
        """The configured port, or the usual one of the security mode."""
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]

    def tls_context(self) -> ssl.SSLContext:
        """The client TLS settings for this server."""
        context = ssl.create_default_context(cadata=self.tls_ca_pem or None)
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
