"""One pooled ``aiohttp.ClientSession`` per (connection, running event loop).

A session is bound to the event loop it is created in (its pooled sockets belong to that loop),
so the cache is keyed on the loop as well as on the connection. Closed loops are forgotten on
the next lookup; :func:`aclose_clients` closes the sessions of the running loop at shutdown.

aiohttp is imported when the first session is made, not with this module: the registry imports
every connector to list them, and a process that never sends an HTTP request should not carry
aiohttp's memory.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
from collections import OrderedDict
from functools import cache
from typing import TYPE_CHECKING

# proxy_bypass_environment is absent from typeshed, which declares only proxy_bypass (on macOS
# and Windows that one reads the system's settings too): the environment's rules are wanted.
from urllib.request import (  # type: ignore[attr-defined]
    getproxies_environment,
    proxy_bypass_environment,
)

from maillon.connectors.http.connection import HttpConnection
from maillon.connectors.outbound import resolver

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL

__all__ = ["USER_AGENT", "aclose_clients", "client_for", "proxy_for"]

USER_AGENT = "Maillon/0.1"

#: Pools per loop. Connections are few; the bound only stops edited connections (each edit is
#: a new key) from piling up pools forever in a long-running worker.
_MAX_CLIENTS_PER_LOOP = 32
#: Idle pooled connections are dropped after this long. Many servers close theirs soon after
#: (uvicorn and Node.js at 5 s), and a POST written on a connection that the server is closing
#: fails without being retried.
_KEEPALIVE_SECONDS = 5.0

_clients: dict[asyncio.AbstractEventLoop, OrderedDict[HttpConnection, aiohttp.ClientSession]] = {}
_lock = threading.Lock()  # loops may run in several threads
_closing: set[asyncio.Task[None]] = set()  # keeps close tasks alive until they finish


@cache
def _ssl_context() -> ssl.SSLContext:
    # The trust store of the project's other HTTP clients (httpx's default): SSL_CERT_FILE or
    # SSL_CERT_DIR when set, else certifi's CA bundle. Built here rather than by httpx, which
    # a process that only sends with aiohttp would load for this alone (4.5 MB). Loading the
    # bundle takes tens of milliseconds and memory: once, not per session. An SSLContext is
    # safe to share between threads.
    if cafile := os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=cafile)
    if capath := os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=capath)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


@cache
def _env_proxies() -> dict[str, str]:
    # The standard proxy variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), read once.
    # aiohttp's own trust_env reads them, and ~/.netrc, in a thread for every request.
    return getproxies_environment()


def proxy_for(url: URL) -> str | None:
    """The proxy that the environment names for ``url``, or ``None`` to connect directly.

    NO_PROXY is read by the rules of the standard library (urllib.request): a
    comma-separated list of host names, each also matching its subdomains (a leading dot is
    optional), optionally with a port to exempt that port only; ``*`` alone exempts every host.
    """
    proxies = _env_proxies()
    if not proxies or url.host is None:
        return None
    # Host and port together, so that an entry with a port can match; the standard library
    # also tries the host alone. An IPv6 address goes without brackets, as NO_PROXY lists it
    # (the port is split off at the last colon).
    host = url.host if url.port is None else f"{url.host}:{url.port}"
    if proxy_bypass_environment(host, proxies):
        return None
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if proxy and "://" not in proxy:
        proxy = "http://" + proxy
    return proxy


def _new_session() -> aiohttp.ClientSession:
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            ssl=_ssl_context(),
            keepalive_timeout=_KEEPALIVE_SECONDS,
            # Every address a connection goes to, redirects included, passes the policy.
            resolver=resolver(),
        ),
        headers={"User-Agent": USER_AGENT},
        # The session is shared by every run using this connection: a cookie set in one run's
        # answer must not be sent with another run's request.
        cookie_jar=aiohttp.DummyCookieJar(),
        # Callers set Content-Type for the bodies they encode; a raw body goes without one
        # unless the step gives it (aiohttp would add application/octet-stream).
        skip_auto_headers=("Content-Type",),
        # No per-phase limits: the caller bounds the whole exchange, body included, with
        # asyncio.timeout, and unset limits spare aiohttp a timer per request.
        timeout=aiohttp.ClientTimeout(),
    )


def client_for(conn: HttpConnection) -> aiohttp.ClientSession:
    """The pooled session of ``conn`` for the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    with _lock:
        for stale in [other for other in _clients if other.is_closed()]:
            # Their sockets died with the loop, but each session must still be marked closed,
            # or aiohttp logs it as leaked when it is collected. Closing one whose loop is
            # closed touches no socket, so it can run in this loop.
            for session in _clients.pop(stale).values():
                _close_soon(loop, session)
        pool = _clients.setdefault(loop, OrderedDict())
        client = pool.get(conn)
        if client is not None and not client.closed:
            pool.move_to_end(conn)
            return client
        client = pool[conn] = _new_session()
        if len(pool) > _MAX_CLIENTS_PER_LOOP:
            _, evicted = pool.popitem(last=False)
            _close_soon(loop, evicted)
        return client


def _close_soon(loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> None:
    task = loop.create_task(session.close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def aclose_clients() -> None:
    """Close the sessions of the running loop; call before the loop ends (worker shutdown)."""
    loop = asyncio.get_running_loop()
    with _lock:
        pool = _clients.pop(loop, None)
    for client in (pool or {}).values():
        await client.close()
