from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from maillon.connectors.sdk import (
    ActionContext,
    PermanentError,
    TransientError,
    aclose_fetch_clients,
)
from maillon.connectors.smtp import SendEmail, SmtpConnection, connector
from maillon.connectors.testing import FakeServer
from tests.support.server import free_port
from tests.support.smtp import PASSWORD, USERNAME, StartServer
from tests.support.tls import Cert


def send(context: ActionContext, connection: SmtpConnection, data: Any) -> Any:
    """Run the action as the engine does, in an event loop (of its own)."""

    async def go() -> Any:
        try:
            return await SendEmail().run(context, connection, data)
        finally:
            await aclose_fetch_clients()

    return asyncio.run(go())


def ctx(key: str = "r1:s1") -> ActionContext:
    return ActionContext(idempotency_key=key, attempt=1, timeout=5)


def conn(port: int, security: str = "none", **fields: Any) -> SmtpConnection:
    return SmtpConnection.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "security": security,
            "from_address": "Maillon <noreply@example.com>",
            "local_hostname": "maillon.test",
            **fields,
        }
    )


def login(cert: Cert) -> dict[str, Any]:
    return {"username": USERNAME, "password": PASSWORD, "tls_ca_pem": cert.pem}


MAIL = SendEmail.Input(to="ada@example.com", subject="Hi", text="hello")


def test_plain_smtp_sends_the_full_message(
    smtp_server: StartServer, fake_server: FakeServer
) -> None:
    server = smtp_server("none")
    fake_server.on(
        "GET",
        "/files/contrat%20sign%C3%A9.pdf",
        (200, b"%PDF-1.4 fake", {"Content-Type": "application/pdf"}),
    )
    data = SendEmail.Input(
        to="Zoë Martin <zoe@example.org>",
        cc="ops@example.com",
        bcc=["archive@example.com"],
        subject="Reçu de souscription ✔",
        text="Bonjour Zoë,\nmerci !",
        html="<p>Bonjour Zoë</p>",
        reply_to="support@example.com",
        attachments=[
            {"filename": "résumé.csv", "content": "email,montant\nzoe@example.org,2500 €\n"},
            {"url": fake_server.url + "files/contrat%20sign%C3%A9.pdf"},
        ],
    )

    out = send(ctx(), conn(server.port), data)

    assert out.refused == {}
    (received,) = server.handler.messages
    assert received.mail_from == "noreply@example.com"
    assert received.rcpt_tos == ["zoe@example.org", "ops@example.com", "archive@example.com"]
    msg = received.message
    head = received.raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()  # RFC 2047 encoded words, not raw UTF-8
    assert msg["Subject"] == "Reçu de souscription ✔"
    assert msg["From"] == "Maillon <noreply@example.com>"
    assert msg["To"].addresses[0].display_name == "Zoë Martin"
    assert msg["Cc"] == "ops@example.com"
    assert "Bcc" not in msg  # hidden recipients travel only in the envelope
    assert msg["Reply-To"] == "support@example.com"
    assert msg["Message-ID"] == out.message_id
    assert out.message_id.endswith("@example.com>")
    assert msg.get_content_type() == "multipart/mixed"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().replace("\r\n", "\n") == "Bonjour Zoë,\nmerci !\n"
    assert "Bonjour Zoë" in html.get_content()
    csv, pdf = msg.iter_attachments()
    assert csv.get_filename() == "résumé.csv"
    assert csv.get_content_type() == "text/csv"
    assert csv.get_content().replace("\r\n", "\n") == "email,montant\nzoe@example.org,2500 €\n"
    assert pdf.get_filename() == "contrat signé.pdf"
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content() == b"%PDF-1.4 fake"


def test_starttls_with_login(smtp_server: StartServer, cert: Cert) -> None:
    server = smtp_server("starttls", auth=True)

    out = send(ctx(), conn(server.port, "starttls", **login(cert)), MAIL)

    assert server.handler.logins == [("PLAIN", USERNAME)]
    assert server.handler.messages[0].message["Message-ID"] == out.message_id


def test_implicit_tls_with_login(smtp_server: StartServer, cert: Cert) -> None:
    server = smtp_server("tls", auth=True)

    send(ctx(), conn(server.port, "tls", **login(cert)), MAIL)

    assert server.handler.logins == [("PLAIN", USERNAME)]
    assert len(server.handler.messages) == 1


def test_wrong_password_is_permanent(smtp_server: StartServer, cert: Cert) -> None:
    server = smtp_server("starttls", auth=True)
    bad = conn(server.port, "starttls", **{**login(cert), "password": "wrong"})

    with pytest.raises(PermanentError, match="refused the username or password: 535") as caught:
        send(ctx(), bad, MAIL)

    assert caught.value.details == {"smtp_code": 535}
    assert server.handler.messages == []


def test_untrusted_certificate_is_permanent(smtp_server: StartServer) -> None:
    server = smtp_server("starttls")

    with pytest.raises(PermanentError, match="certificate is not trusted"):
        send(ctx(), conn(server.port, "starttls"), MAIL)


def test_certificate_check_can_be_turned_off(smtp_server: StartServer) -> None:
    server = smtp_server("tls")

    send(ctx(), conn(server.port, "tls", tls_verify=False), MAIL)

    assert len(server.handler.messages) == 1


def test_starttls_missing_on_the_server_is_permanent(smtp_server: StartServer) -> None:
    server = smtp_server("none")

    with pytest.raises(PermanentError, match="STARTTLS"):
        send(ctx(), conn(server.port, "starttls"), MAIL)

    assert server.handler.messages == []


def test_implicit_tls_against_a_plain_server_is_permanent(smtp_server: StartServer) -> None:
    server = smtp_server("none")

    with pytest.raises(PermanentError, match="check the security setting"):
        send(ctx(), conn(server.port, "tls"), MAIL)


@pytest.mark.parametrize(
    ("reply", "error"),
    [("450 4.2.1 mailbox busy", TransientError), ("550 5.1.1 no such user", PermanentError)],
)
def test_refused_recipients_4xx_transient_5xx_permanent(
    smtp_server: StartServer, reply: str, error: type[Exception]
) -> None:
    server = smtp_server("none")
    server.handler.rcpt_replies["ada@example.com"] = reply

    with pytest.raises(error, match=reply.split(" ", 1)[0]) as caught:
        send(ctx(), conn(server.port), MAIL)

    assert caught.value.details == {"refused": {"ada@example.com": reply}}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("reply", "error"),
    [("451 4.3.0 try again later", TransientError), ("554 5.7.1 rejected as spam", PermanentError)],
)
def test_refused_data_4xx_transient_5xx_permanent(
    smtp_server: StartServer, reply: str, error: type[Exception]
) -> None:
    server = smtp_server("none")
    server.handler.data_reply = reply

    with pytest.raises(error, match=reply):
        send(ctx(), conn(server.port), MAIL)


def test_partly_refused_recipients_are_reported(smtp_server: StartServer) -> None:
    server = smtp_server("none")
    server.handler.rcpt_replies["typo@exmaple.com"] = "550 5.1.1 no such user"
    data = SendEmail.Input(to="ada@example.com, typo@exmaple.com", subject="Hi", text="x")

    out = send(ctx(), conn(server.port), data)

    assert out.refused == {"typo@exmaple.com": "550 5.1.1 no such user"}
    assert server.handler.messages[0].rcpt_tos == ["ada@example.com"]


def test_connection_refused_is_transient() -> None:
    with pytest.raises(TransientError, match="could not talk to the SMTP server"):
        send(ctx(), conn(free_port()), MAIL)


def test_message_id_is_stable_across_attempts(smtp_server: StartServer) -> None:
    server = smtp_server("none")
    first = send(ctx("r9:mail"), conn(server.port), MAIL)
    again = send(ctx("r9:mail"), conn(server.port), MAIL)
    other = send(ctx("r9:other"), conn(server.port), MAIL)

    assert first.message_id == again.message_id != other.message_id


def test_action_sender_overrides_the_connection_default(smtp_server: StartServer) -> None:
    server = smtp_server("none")
    data = MAIL.model_copy(update={"from_address": "Équipe <team@example.org>"})

    send(ctx(), conn(server.port), data)

    (received,) = server.handler.messages
    assert received.mail_from == "team@example.org"
    assert received.message["From"].addresses[0].display_name == "Équipe"


def test_no_sender_anywhere_is_permanent(smtp_server: StartServer) -> None:
    server = smtp_server("none")
    anonymous = conn(server.port).model_copy(update={"from_address": None})

    with pytest.raises(PermanentError, match="no sender"):
        send(ctx(), anonymous, MAIL)


# --- attachments from URLs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        ((404, "nope"), PermanentError, "HTTP 404"),
        ((503, "busy", {"Retry-After": "3"}), TransientError, "HTTP 503"),
        ((200, b"x" * 2048), PermanentError, "larger than the 1000 bytes"),
    ],
)
def test_attachment_downloads_fail_cleanly(
    smtp_server: StartServer,
    fake_server: FakeServer,
    answer: Any,
    error: type[Exception],
    words: str,
) -> None:
    server = smtp_server("none")
    fake_server.on("GET", "/big.bin", answer)
    data = SendEmail.Input(
        to="ada@example.com",
        subject="Hi",
        text="x",
        attachments=[{"url": fake_server.url + "big.bin"}],
    )

    with pytest.raises(error, match=words):
        send(ctx(), conn(server.port, max_attachment_bytes=1000), data)

    assert server.handler.messages == []


def test_attachment_limit_counts_text_too(smtp_server: StartServer) -> None:
    server = smtp_server("none")
    data = SendEmail.Input(
        to="ada@example.com",
        subject="Hi",
        text="x",
        attachments=[
            {"filename": "a.txt", "content": "a" * 600},
            {"filename": "b.txt", "content": "b" * 600},
        ],
    )

    with pytest.raises(PermanentError, match="exceed the connection's limit of 1000 bytes"):
        send(ctx(), conn(server.port, max_attachment_bytes=1000), data)


@pytest.mark.parametrize(
    ("attachment", "complaint"),
    [
        ({"filename": "a.txt"}, "either text content or a URL"),
        ({"content": "x"}, "needs a file name"),
        ({"filename": "a", "content": "x", "url": "https://example.com/a"}, "either text"),
        ({"url": "ftp://example.com/a"}, "URL scheme"),
    ],
)
def test_invalid_attachments(attachment: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        SendEmail.Input(to="a@example.com", subject="s", text="x", attachments=[attachment])


# --- the connection -----------------------------------------------------------------------------


def test_entry_point_names_the_connector() -> None:
    project = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["maillon.connectors"]["smtp"] == (
        "maillon.connectors.smtp:connector"
    )
    assert connector.key == "smtp"
    assert connector.action("send_email") is SendEmail


def test_connection_defaults_and_checks() -> None:
    assert SmtpConnection(host="h").effective_port == 587
    assert SmtpConnection(host="h", security="tls").effective_port == 465
    assert SmtpConnection(host="h", security="none").effective_port == 25
    assert SmtpConnection.secret_fields() == {"password"}
    with pytest.raises(ValidationError, match="never send a password in clear"):
        SmtpConnection(host="h", security="none", username="u", password=SecretStr("p"))
    with pytest.raises(ValidationError, match="both a username and a password"):
        SmtpConnection(host="h", username="u")
