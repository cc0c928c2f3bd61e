"""A real SMTP server (aiosmtpd) on 127.0.0.1: plain, STARTTLS or implicit TLS, with AUTH."""

from __future__ import annotations

import datetime
import email
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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


@dataclass(frozen=True)
class Cert:
    """A self-signed certificate for 127.0.0.1 and localhost."""

    pem: str
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@pytest.fixture(scope="session")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "maillon test smtp")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Cert(pem.decode(), folder / "cert.pem", folder / "key.pem")


def free_port() -> int:
    """A port nobody listens on right now (aiosmtpd cannot be given port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
        port = free_port()
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
