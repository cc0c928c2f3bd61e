"""SMTP's "test connection": connect, secure the session (STARTTLS or TLS) and log in, as a
step would before sending, then say goodbye without sending anything."""

from __future__ import annotations

import asyncio
import smtplib

from maillon.connectors.sdk import ConnectionCheck
from maillon.connectors.smtp.connection import SmtpConnection
from maillon.connectors.smtp.send_email import open_session

__all__ = ["check_connection"]

#: Seconds the test waits for the server at each stage.
TIMEOUT = 15.0


async def check_connection(conn: SmtpConnection) -> ConnectionCheck:
    """Open and close a session (in a thread: smtplib blocks); raise a classified error."""
    return await asyncio.to_thread(_check, conn)


def _check(conn: SmtpConnection) -> ConnectionCheck:
    smtp = open_session(conn, TIMEOUT)
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()  # the server was already reached and accepted what was asked
    secured = {"starttls": "STARTTLS", "tls": "TLS", "none": "no encryption"}[conn.security]
    login = f"accepted the login of {conn.username}" if conn.username else "no login was asked"
    return ConnectionCheck(
        ok=True, message=f"{conn.host}:{conn.effective_port} answered ({secured}); {login}."
    )
