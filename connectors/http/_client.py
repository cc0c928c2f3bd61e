"""One pooled ``httpx.AsyncClient`` per (connection, running event loop).

An ``AsyncClient`` is bound to the event loop that first uses it (its pooled sockets belong to
that loop), so the cache is keyed on the loop as well as on the connection. Closed loops are
forgotten on the next lookup; :func:`aclose_clients` closes the pools of the running loop at
shutdown.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections import OrderedDict
from functools import cache
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from connectors.http.connection import HttpConnection

__all__ = ["USER_AGENT", "aclose_clients", "client_for"]

USER_AGENT = "Maillon/0.1"

#: Pools per loop. Connections are few; the bound only stops edited connections (each edit is
#: a new key) from piling up pools forever in a long-running worker.
_MAX_CLIENTS_PER_LOOP = 32

_clients: dict[asyncio.AbstractEventLoop, OrderedDict[HttpConnection, httpx.AsyncClient]] = {}
_lock = threading.Lock()  # loops may run in several threads
_closing: set[asyncio.Task[None]] = set()  # keeps close tasks alive until they finish


@cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds and memory: do it once, not per pool.
    # An SSLContext is safe to share between clients and threads.
    return httpx.create_ssl_context()


def _new_client(conn: HttpConnection) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=conn.base_url or "",
        verify=_ssl_context(),
        headers={"User-Agent": USER_AGENT},
        # The pool is shared by every run using this connection: a cookie set in one run's
        # answer must not be sent with another run's request. A policy that allows no domain
        # makes the jar drop every cookie.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


def client_for(conn: HttpConnection) -> httpx.AsyncClient:
    """The pooled client of ``conn`` for the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    with _lock:
        for stale in [other for other in _clients if other.is_closed()]:
            # Its sockets died with the loop; nothing can await their closing any more.
            del _clients[stale]
        pool = _clients.setdefault(loop, OrderedDict())
        client = pool.get(conn)
        if client is not None and not client.is_closed:
            pool.move_to_end(conn)
            return client
        client = pool[conn] = _new_client(conn)
        if len(pool) > _MAX_CLIENTS_PER_LOOP:
            _, evicted = pool.popitem(last=False)
            task = loop.create_task(evicted.aclose())
            _closing.add(task)
            task.add_done_callback(_closing.discard)
        return client


async def aclose_clients() -> None:
    """Close the pools of the running loop; call before the loop ends (worker shutdown)."""
    loop = asyncio.get_running_loop()
    with _lock:
        pool = _clients.pop(loop, None)
    for client in (pool or {}).values():
        await client.aclose()
