"""SMTP: send email through any mail server (a provider's submission port or a local relay)."""

from __future__ import annotations

from maillon.connectors.mailmessage import MESSAGE_FIELDS_FRENCH
from maillon.connectors.sdk import Connector, aclose_fetch_clients
from maillon.connectors.smtp.check import check_connection
from maillon.connectors.smtp.connection import SmtpConnection
from maillon.connectors.smtp.french import FRENCH
from maillon.connectors.smtp.send_email import SendEmail

__all__ = ["SendEmail", "SmtpConnection", "connector"]

connector = Connector(
    key="smtp",
    title="Email (SMTP)",
    description="Send email through an SMTP server.",
    actions=(SendEmail,),
    connection=SmtpConnection,
    check=check_connection,
    # Attachments given as URLs are downloaded through the file loader's pool.
    close=aclose_fetch_clients,
    translations={"fr": {**MESSAGE_FIELDS_FRENCH, **FRENCH}},
)
