"""HTTP connector: call any HTTP API, with or without a connection.

Built on ``aiohttp.ClientSession`` (one pooled session per connection and event loop), which
is imported on the first request only. Steps that name no connection get an empty
:class:`HttpConnection`.
"""

from __future__ import annotations

from maillon.connectors.http._client import aclose_clients, client_for, proxy_for
from maillon.connectors.http.check import check_connection
from maillon.connectors.http.connection import HttpConnection
from maillon.connectors.http.french import FRENCH
from maillon.connectors.http.send_request import SendRequest
from maillon.connectors.sdk import Connector

__all__ = [
    "HttpConnection",
    "SendRequest",
    "aclose_clients",
    "client_for",
    "connector",
    "proxy_for",
]

connector = Connector(
    key="http",
    title="HTTP request",
    description="Call any HTTP API: webhooks, REST endpoints, internal services.",
    actions=(SendRequest,),
    connection=HttpConnection,
    connection_optional=True,
    close=aclose_clients,
    check=check_connection,
    translations={"fr": FRENCH},
)
