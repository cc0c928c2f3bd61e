"""Composing an email once for every connector that sends one (Gmail, SMTP).

:class:`MessageFields` is the part of an action's input that describes the message; both the
Gmail and the SMTP ``send_email`` inputs extend it, so the two actions accept the same fields and
build the same MIME. :func:`build_message` turns the fields into an
:class:`email.message.EmailMessage` under ``email.policy.SMTP``, which encodes non-ASCII subjects
and display names per RFC 2047 and ends lines with CRLF.
"""

from __future__ import annotations

import hashlib
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, getaddresses
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, Field, model_validator

__all__ = [
    "AddressList",
    "MessageFields",
    "build_message",
    "idempotent_message_id",
    "parse_address",
    "split_addresses",
]


def split_addresses(value: Any) -> list[str]:
    """Accept ``"a@x.org, B <b@x.org>"`` or a list of such strings; return one address per item.

    Splitting goes through :func:`email.utils.getaddresses`, so that a quoted display name with a
    comma (``"Doe, Jane" <jane@x.org>``) stays one address.
    """
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError("each address must be a string")
        for name, addr in getaddresses([item]):
            if not addr and not name:
                continue
            out.append(_format(name, addr))
    return out


def _format(name: str, addr: str) -> str:
    address = _mailbox(name, addr)
    # str(Address) quotes a display name where needed ("Doe, Jane" <jane@x.org>).
    return str(address) if address.display_name else address.addr_spec


def _mailbox(name: str, addr: str) -> Address:
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or " " in addr:
        shown = f"{name} <{addr}>" if name else addr
        raise ValueError(f"not an email address: {shown!r}")
    return Address(display_name=name, username=local, domain=domain)


def parse_address(value: str) -> Address:
    """One ``Name <user@domain>`` or ``user@domain`` as an :class:`Address`; ``ValueError`` if
    it is not a plausible mailbox."""
    pairs = getaddresses([value])
    if len(pairs) != 1:
        raise ValueError(f"expected one email address, got {value!r}")
    return _mailbox(*pairs[0])


#: A list of addresses that also accepts one comma-separated string.
AddressList = Annotated[list[str], BeforeValidator(split_addresses)]


class MessageFields(BaseModel):
    """The fields of an email, shared by every ``send_email`` action."""

    to: AddressList = Field(
        default_factory=list,
        title="To",
        description="Recipients: a list, or one string with addresses separated by commas.",
        examples=[["ada@example.com", "Zoë Martin <zoe@example.org>"]],
    )
    cc: AddressList = Field(
        default_factory=list,
        title="Cc",
        description="Copied recipients, visible to everyone.",
        examples=["ops@example.com"],
    )
    bcc: AddressList = Field(
        default_factory=list,
        title="Bcc",
        description="Hidden recipients: they receive the message but nobody sees them listed.",
        examples=[["archive@example.com"]],
    )
    subject: str = Field(
        title="Subject",
        description="Any characters; non-ASCII text is encoded for mail transport.",
        examples=["Votre investissement a été reçu"],
    )
    text: str | None = Field(
        default=None,
        title="Plain-text body",
        description="Shown by mail clients that do not display HTML. Give it, the HTML body, "
        "or both (then clients choose).",
        examples=["Hello Ada,\nyour subscription is confirmed."],
    )
    html: str | None = Field(
        default=None,
        title="HTML body",
        description="Rich version of the body.",
        examples=["<p>Hello Ada,<br>your subscription is <b>confirmed</b>.</p>"],
    )
    reply_to: AddressList = Field(
        default_factory=list,
        title="Reply-To",
        description="Where replies should go, when not to the sender.",
        examples=["support@example.com"],
    )
    from_address: str | None = Field(
        default=None,
        title="From",
        description="Sender address, optionally with a display name. Leave empty for the "
        "connection's default.",
        examples=["Particeep Notifications <noreply@example.com>"],
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not (self.to or self.cc or self.bcc):
            raise ValueError("give at least one recipient (to, cc or bcc)")
        if self.text is None and self.html is None:
            raise ValueError("give a plain-text body, an HTML body, or both")
        if self.from_address is not None:
            parse_address(self.from_address)
        return self

    def recipients(self) -> list[str]:
        """Bare addresses of every recipient, for the SMTP envelope."""
        return [parse_address(a).addr_spec for a in (*self.to, *self.cc, *self.bcc)]


def idempotent_message_id(idempotency_key: str, sender: Address) -> str:
    """A ``Message-ID`` that is the same on every attempt of one step.

    A retry after a lost answer then re-sends *the same* message, which mail clients and Gmail
    collapse into one, instead of a second, distinct copy. The sender's domain keeps it unique
    across installations sending for different domains.
    """
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}.maillon@{sender.domain}>"


def _body_cte(body: str) -> str | None:
    # Quoted-printable keeps non-ASCII bodies 7-bit clean for servers without 8BITMIME;
    # ASCII bodies keep the library's own choice.
    return None if body.isascii() else "quoted-printable"


def build_message(
    fields: MessageFields,
    *,
    sender: Address | None,
    message_id: str | None,
    include_bcc: bool,
) -> EmailMessage:
    """Build the MIME message.

    Without ``sender`` there is no ``From`` header (Gmail then fills in the account); without
    ``message_id`` the sending server makes one up. ``include_bcc`` writes a ``Bcc`` header:
    Gmail reads it to find hidden recipients and strips it before delivery; over SMTP hidden
    recipients go only into the envelope.
    """
    msg = EmailMessage(policy=SMTP)
    if sender is not None:
        msg["From"] = sender
    if fields.to:
        msg["To"] = [parse_address(a) for a in fields.to]
    if fields.cc:
        msg["Cc"] = [parse_address(a) for a in fields.cc]
    if include_bcc and fields.bcc:
        msg["Bcc"] = [parse_address(a) for a in fields.bcc]
    if fields.reply_to:
        msg["Reply-To"] = [parse_address(a) for a in fields.reply_to]
    msg["Subject"] = fields.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    if message_id is not None:
        msg["Message-ID"] = message_id

    if fields.text is not None:
        msg.set_content(fields.text, cte=_body_cte(fields.text))
        if fields.html is not None:
            msg.add_alternative(fields.html, subtype="html", cte=_body_cte(fields.html))
    elif fields.html is not None:
        msg.set_content(fields.html, subtype="html", cte=_body_cte(fields.html))
    return msg


#: The texts of :class:`MessageFields` in French, for the connectors that send mail.
MESSAGE_FIELDS_FRENCH: dict[str, str] = {
    "To": "À",
    "Recipients: a list, or one string with addresses separated by commas.": (
        "Les destinataires\xa0: une liste, ou une chaîne d’adresses séparées par des virgules."
    ),
    "Cc": "Cc",
    "Copied recipients, visible to everyone.": "Les destinataires en copie, visibles de tous.",
    "Bcc": "Cci",
    "Hidden recipients: they receive the message but nobody sees them listed.": (
        "Les destinataires cachés\xa0: ils reçoivent le message, mais personne ne les voit dans la "
        "liste."
    ),
    "Subject": "Objet",
    "Any characters; non-ASCII text is encoded for mail transport.": (
        "N’importe quels caractères\u202f; le texte non ASCII est encodé pour le transport du "
        "courrier."
    ),
    "Plain-text body": "Corps en texte brut",
    (
        "Shown by mail clients that do not display HTML. Give it, the HTML body, or both (then "
        "clients choose)."
    ): (
        "Affiché par les logiciels de messagerie qui n’affichent pas le HTML. Indiquez-le, le "
        "corps HTML, ou les deux (les logiciels choisissent alors)."
    ),
    "HTML body": "Corps HTML",
    "Rich version of the body.": "La version enrichie du corps.",
    "Reply-To": "Répondre à",
    "Where replies should go, when not to the sender.": (
        "L’adresse où envoyer les réponses, si ce n’est pas l’expéditeur."
    ),
    "From": "De",
    "Sender address, optionally with a display name. Leave empty for the connection's default.": (
        "L’adresse de l’expéditeur, éventuellement avec un nom affiché. Laissez vide pour celle de "
        "la connexion."
    ),
}
