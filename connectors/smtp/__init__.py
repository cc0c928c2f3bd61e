"""SMTP: send email through any mail server (a provider's submission port or a local relay)."""

from __future__ import annotations

from connectors.base import Connector
from connectors.smtp.connection import SmtpConnection
from connectors.smtp.send_email import SendEmail

__all__ = ["SendEmail", "SmtpConnection", "connector"]

connector = Connector(
    key="smtp",
    title="Email (SMTP)",
    description="Send email through an SMTP server.",
    actions=(SendEmail,),
    connection=SmtpConnection,
)
