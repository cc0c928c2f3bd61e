from __future__ import annotations

import base64
import email
from email import policy
from email.message import EmailMessage

import pytest
from pydantic import ValidationError

from maillon.connectors.google import GoogleConnection
from maillon.connectors.google.gmail import SendEmail
from maillon.connectors.testing import FakeServer
from tests.connectors.google.support import GMAIL_SEND, ctx


def sent_message(server: FakeServer, index: int = -1) -> EmailMessage:
    """Decode the MIME message the fake Gmail received."""
    request = server.received("POST", GMAIL_SEND)[index]
    raw = base64.urlsafe_b64decode(request.json()["raw"])
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
def gmail(google: FakeServer) -> FakeServer:
    google.on("POST", GMAIL_SEND, (200, {"id": "m1", "threadId": "t1", "labelIds": ["SENT"]}))
    return google


def test_send_email_builds_multipart_mime_with_encoded_headers(
    gmail: FakeServer, conn: GoogleConnection
) -> None:
    data = SendEmail.Input(
        to='Zoë Martin <zoe@example.org>, "Doe, Jane" <jane@example.com>',
        cc=["ops@example.com"],
        bcc="archive@example.com",
        subject="Votre investissement a été reçu ✔",
        text="Bonjour Zoë,\nmerci !",
        html="<p>Bonjour Zoë,<br>merci&nbsp;!</p>",
        reply_to="support@example.com",
    )

    out = SendEmail().run(ctx(), conn, data)

    assert out.model_dump() == {"message_id": "m1", "thread_id": "t1"}
    request = gmail.received("POST", GMAIL_SEND)[0]
    assert request.query == {"alt": ["json"]}
    assert request.headers["authorization"] == "Bearer fresh"
    raw = base64.urlsafe_b64decode(request.json()["raw"])
    # RFC 2047 on the wire: no raw UTF-8 in the headers.
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head

    msg = sent_message(gmail)
    assert msg["Subject"] == "Votre investissement a été reçu ✔"
    assert msg["From"] == "ada@example.com"
    to = msg["To"].addresses
    assert [(a.display_name, a.addr_spec) for a in to] == [
        ("Zoë Martin", "zoe@example.org"),
        ("Doe, Jane", "jane@example.com"),
    ]
    assert msg["Cc"] == "ops@example.com"
    # Gmail learns hidden recipients from the Bcc header and strips it itself.
    assert msg["Bcc"] == "archive@example.com"
    assert msg["Reply-To"] == "support@example.com"
    assert msg["Message-ID"].endswith("@example.com>")
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None
    assert html is not None
    # Lines end with CRLF on the wire (policy SMTP).
    assert plain.get_content() == "Bonjour Zoë,\r\nmerci !\r\n"
    assert html.get_content() == "<p>Bonjour Zoë,<br>merci&nbsp;!</p>\r\n"


def test_send_email_from_alias_and_html_only(gmail: FakeServer, conn: GoogleConnection) -> None:
    data = SendEmail.Input(
        to=["ada@example.com"],
        subject="Hi",
        html="<b>hi</b>",
        from_address="Équipe Particeep <team@example.com>",
    )

    SendEmail().run(ctx(), conn, data)

    msg = sent_message(gmail)
    sender = msg["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Équipe Particeep", "team@example.com")
    assert msg.get_content_type() == "text/html"
    assert "Cc" not in msg
    assert "Bcc" not in msg


def test_message_id_is_stable_across_attempts_of_one_step(
    gmail: FakeServer, conn: GoogleConnection
) -> None:
    data = SendEmail.Input(to="ada@example.com", subject="Hi", text="hi")

    SendEmail().run(ctx("run7:mail"), conn, data)
    SendEmail().run(ctx("run7:mail"), conn, data)
    SendEmail().run(ctx("run8:mail"), conn, data)

    ids = [sent_message(gmail, i)["Message-ID"] for i in range(3)]
    assert ids[0] == ids[1] != ids[2]


def test_without_known_sender_gmail_fills_in_from_and_message_id(
    gmail: FakeServer, conn: GoogleConnection
) -> None:
    anonymous = conn.model_copy(update={"account_email": None})

    SendEmail().run(ctx(), anonymous, SendEmail.Input(to="ada@example.com", subject="Hi", text="x"))

    msg = sent_message(gmail)
    assert "From" not in msg
    assert "Message-ID" not in msg


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"subject": "s", "text": "x"}, "at least one recipient"),
        ({"to": "a@example.com", "subject": "s"}, "plain-text body, an HTML body"),
        ({"to": "not an address", "subject": "s", "text": "x"}, "not an email address"),
        ({"to": "a@example.com", "subject": "s", "text": "x", "from_address": "x"}, "not an"),
    ],
)
def test_invalid_messages_are_refused_before_sending(
    fields: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        SendEmail.Input.model_validate(fields)
