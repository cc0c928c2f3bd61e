"""SMTP's "test connection" against a real aiosmtpd server: STARTTLS, TLS, logins."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from maillon.connectors.sdk import ConnectionCheck, PermanentError, TransientError
from maillon.connectors.smtp import SmtpConnection, connector
from tests.support.server import free_port
from tests.support.smtp import PASSWORD, USERNAME, StartServer
from tests.support.tls import Cert


def check(conn: SmtpConnection) -> ConnectionCheck:
    assert connector.check is not None
    return asyncio.run(connector.check(conn))


def conn_for(port: int, cert: Cert, security: str, password: str = PASSWORD) -> SmtpConnection:
    return SmtpConnection.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "security": security,
            "username": USERNAME,
            "password": SecretStr(password),
            "tls_ca_pem": cert.pem,
        }
    )


@pytest.mark.parametrize(("security", "shown"), [("starttls", "STARTTLS"), ("tls", "TLS")])
def test_a_secured_login_is_accepted_and_nothing_is_sent(
    smtp_server: StartServer, cert: Cert, security: str, shown: str
) -> None:
    server = smtp_server(security, auth=True)

    result = check(conn_for(server.port, cert, security))

    assert result == ConnectionCheck(
        ok=True,
        message=f"127.0.0.1:{server.port} answered ({shown}); accepted the login of {USERNAME}.",
    )
    assert server.handler.logins and server.handler.messages == []


def test_a_wrong_password_is_refused(smtp_server: StartServer, cert: Cert) -> None:
    server = smtp_server("starttls", auth=True)
    with pytest.raises(PermanentError, match="refused the username or password: 535"):
        check(conn_for(server.port, cert, "starttls", password="wrong"))


def test_a_relay_without_login_is_checked_too(smtp_server: StartServer) -> None:
    server = smtp_server("none")
    result = check(SmtpConnection(host="127.0.0.1", port=server.port, security="none"))
    assert result.ok and result.message.endswith("(no encryption); no login was asked.")


def test_an_unreachable_server_is_transient(cert: Cert) -> None:
    with pytest.raises(TransientError, match="could not talk to the SMTP server"):
        check(conn_for(free_port(), cert, "starttls"))
