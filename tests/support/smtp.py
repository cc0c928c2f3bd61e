"""A real SMTP server (aiosmtpd) on 127.0.0.1: plain, STARTTLS or implicit TLS, with AUTH.

Fixture ``smtp_server``: ``smtp_server(security="none"|"starttls"|"tls", auth=False)`` starts
one and gives its port and what it recorded.
"""

from __future__ import annotations

import email
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.server import free_port
from tests.support.tls import Cert

USERNAME = "mailer"
PASSWORD = "s3cret"


@dataclass
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class Recorder:
    """aiosmtpd handler: records messages; scripted replies refuse recipients or data."""

    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    #: Reply to RCPT TO for an address, e.g. ``{"typo@x.org": "550 5.1.1 no such user"}``.
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    #: Reply to DATA instead of accepting, e.g. ``"451 4.3.0 try later"``.
    data_reply: str | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        raw = bytes(envelope.original_content or envelope.content)
        message = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, raw))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((mechanism, login))
        if (login, password) == (USERNAME, PASSWORD):
            return AuthResult(success=True)
        # handled=False lets aiosmtpd answer 535 itself; True would leave the client waiting.
        return AuthResult(success=False, handled=False)


@dataclass
class SmtpServer:
    """A running server and what it recorded."""

    port: int
    handler: Recorder


StartServer = Callable[..., SmtpServer]


@pytest.fixture
def smtp_server(cert: Cert) -> Iterator[StartServer]:
    """Start a server: ``smtp_server(security="none"|"starttls"|"tls", auth=False)``."""
    controllers: list[Controller] = []

    def start(security: str = "none", *, auth: bool = False) -> SmtpServer:
        handler = Recorder()
        port = free_port()  # aiosmtpd cannot be given port 0
        options: dict[str, Any] = {"hostname": "127.0.0.1", "port": port}
        if security == "starttls":
            options |= {"tls_context": cert.server_context(), "require_starttls": True}
        elif security == "tls":
            # aiosmtpd only counts STARTTLS as TLS when deciding to offer AUTH, so let it offer
            # AUTH on this connection, which is TLS from the first byte.
            options |= {"ssl_context": cert.server_context(), "auth_require_tls": False}
        if auth:
            options["authenticator"] = handler.authenticate
            # (aiosmtpd warns against requiring AUTH where it does not see TLS, as above.)
            options["auth_required"] = security != "tls"
        controller = Controller(handler, **options)
        controller.start()
        controllers.append(controller)
        return SmtpServer(port, handler)

    yield start
    for controller in controllers:
        controller.stop()
