"""The ``smtp.send_email`` action."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage, Message

from pydantic import BaseModel, Field

from maillon.connectors.mailmessage import (
    MessageFields,
    build_message,
    idempotent_message_id,
    parse_address,
)
from maillon.connectors.sdk import (
    Action,
    ActionContext,
    ConnectorError,
    PermanentError,
    TransientError,
)
from maillon.connectors.smtp.attachments import Attachment, LoadedAttachment, load_attachments
from maillon.connectors.smtp.connection import SmtpConnection
from maillon.connectors.smtp.session import Session, SslSession

__all__ = [
    "SendEmail",
    "SendEmailInput",
    "SendEmailOutput",
    "classify_smtp_error",
    "open_session",
]


class SendEmailInput(MessageFields):
    """An email to send through an SMTP server."""

    attachments: list[Attachment] = Field(
        default_factory=list,
        title="Attachments",
        description="Files to attach, each given as text or as a URL to download.",
        examples=[[{"filename": "subscription.csv", "content": "email,amount\nada@x.org,2500\n"}]],
    )


class SendEmailOutput(BaseModel):
    """What the server accepted."""

    message_id: str = Field(
        title="Message-ID",
        description="The Message-ID header of the sent email.",
        examples=["<3f2a9c0e5b7d4e1a8c6b2d9f0e1a3c5b.maillon@example.com>"],
    )
    refused: dict[str, str] = Field(
        default_factory=dict,
        title="Refused recipients",
        description="Recipients the server refused while accepting the others, with its reply.",
        examples=[{"typo@exmaple.com": "550 no such user"}],
    )


class SendEmail(Action[SmtpConnection, SendEmailInput, SendEmailOutput]):
    """Send an email through the connection's SMTP server."""

    key = "send_email"
    title = "Send an email"
    advanced_inputs = ("cc", "bcc", "reply_to", "from_address", "attachments")
    description = "Send an email (plain text and/or HTML, with attachments) through SMTP."

    async def run(
        self, ctx: ActionContext, conn: SmtpConnection, data: SendEmailInput
    ) -> SendEmailOutput:
        sender_text = data.from_address or conn.from_address
        if sender_text is None:
            raise PermanentError("no sender: set a From address on the action or the connection")
        sender = parse_address(sender_text)
        message = build_message(
            data,
            sender=sender,
            message_id=idempotent_message_id(ctx.idempotency_key, sender),
            include_bcc=False,
        )
        # Download before connecting, so that a slow download holds no SMTP session open.
        files = await load_attachments(
            data.attachments, timeout=ctx.timeout, max_bytes=conn.max_attachment_bytes
        )
        _attach(message, files)
        # smtplib blocks: in a thread, so that the event loop goes on meanwhile.
        refused = await asyncio.to_thread(
            _submit, conn, ctx.timeout, sender.addr_spec, data.recipients(), message
        )
        if refused:
            ctx.logger.warning("SMTP server refused %d of the recipients", len(refused))
        return SendEmailOutput(message_id=str(message["Message-ID"]), refused=refused)


def _attach(message: EmailMessage, files: list[LoadedAttachment]) -> None:
    for file in files:
        # Let the email package parse the type, so that a text file keeps its charset.
        parsed = Message()
        parsed["Content-Type"] = file.content_type
        charset = parsed.get_param("charset")
        message.add_attachment(
            file.data,
            maintype=parsed.get_content_maintype(),
            subtype=parsed.get_content_subtype(),
            filename=file.filename,
            params={"charset": str(charset)} if charset else {},
        )


def open_session(conn: SmtpConnection, timeout: float) -> smtplib.SMTP:
    """A session with the server, secured and logged in as the connection says; raise a
    classified error. The caller sends, then quits; past ``timeout`` the session is shut,
    whatever it is waiting for (:mod:`maillon.connectors.smtp.session`)."""
    smtp: Session
    try:
        if conn.security == "tls":
            smtp = SslSession(
                local_hostname=conn.local_hostname, timeout=timeout, context=conn.tls_context()
            )
        else:
            smtp = Session(local_hostname=conn.local_hostname, timeout=timeout)
    except Exception as exc:
        raise classify_smtp_error(exc) from exc
    try:
        smtp.open_within(conn.host, conn.effective_port, timeout)
        if conn.security == "starttls":
            smtp.ehlo()
            # Refuses (SMTPNotSupportedError) rather than go on in clear if STARTTLS is absent.
            smtp.starttls(context=conn.tls_context())
            smtp.ehlo()
        if conn.username is not None and conn.password is not None:
            smtp.login(conn.username, conn.password.get_secret_value())
    except Exception as exc:
        smtp.close()
        raise classify_smtp_error(exc) from exc
    return smtp


def _submit(
    conn: SmtpConnection, timeout: float, sender: str, recipients: list[str], message: EmailMessage
) -> dict[str, str]:
    """Hand the message to the server; return the recipients it refused among accepted ones."""
    smtp = open_session(conn, timeout)
    try:
        refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
    except Exception as exc:
        smtp.close()
        raise classify_smtp_error(exc) from exc
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        # The message is accepted: a failed goodbye must not turn into a retry and a duplicate.
        smtp.close()
    return {addr: f"{code} {_text(reply)}" for addr, (code, reply) in refused.items()}


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _by_code(code: int, what: str, reply: bytes | str) -> ConnectorError:
    message = f"{what}: {code} {_text(reply)}".rstrip()
    details: dict[str, object] = {"smtp_code": code}
    # RFC 5321: 4yz replies are transient failures, 5yz are permanent.
    if 400 <= code < 500:
        return TransientError(message, details=details)
    return PermanentError(message, details=details)


def classify_smtp_error(exc: BaseException) -> ConnectorError:
    """Turn what smtplib, ssl or the socket raised into a transient or permanent error."""
    # Order matters: SMTP exceptions and SSL errors are OSErrors too.
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = {addr: f"{code} {_text(reply)}" for addr, (code, reply) in exc.recipients.items()}
        listing = "; ".join(f"{addr}: {reply}" for addr, reply in refused.items())
        details: dict[str, object] = {"refused": refused}
        if all(400 <= code < 500 for code, _ in exc.recipients.values()):
            return TransientError(
                f"the SMTP server refused every recipient for now ({listing})", details=details
            )
        return PermanentError(
            f"the SMTP server refused the recipients ({listing})", details=details
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # 535 is a wrong password; 454 a temporary failure of the server's auth backend.
        return _by_code(
            exc.smtp_code, "the SMTP server refused the username or password", exc.smtp_error
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _by_code(
            exc.smtp_code, f"the SMTP server refused the sender {exc.sender}", exc.smtp_error
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        # SMTPDataError, SMTPConnectError, SMTPHeloError and the rest carry the server's reply.
        return _by_code(exc.smtp_code, "the SMTP server refused the message", exc.smtp_error)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientError(f"the SMTP server closed the connection: {exc}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(f"the SMTP server does not support what is needed: {exc}")
    if isinstance(exc, smtplib.SMTPException):
        return PermanentError(f"SMTP failed: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentError(
            f"the SMTP server's certificate is not trusted ({exc.verify_message}): give its CA "
            "certificate on the connection"
        )
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return TransientError(f"the SMTP server closed the TLS session: {exc}")
    if isinstance(exc, ssl.SSLError):
        return PermanentError(
            f"TLS with the SMTP server failed ({exc}): check the security setting and the port "
            "(tls is usually port 465, starttls port 587)"
        )
    if isinstance(exc, OSError):
        # Refused connection, reset, timeout, name resolution: all may pass.
        return TransientError(f"could not talk to the SMTP server: {exc}")
    return PermanentError(f"SMTP failed: {type(exc).__name__}: {exc}")
