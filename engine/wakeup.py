"""Telling workers that there is new work: within a process, and across processes.

Within a process, :class:`Wakeup` sets an asyncio event in every worker's loop. Across
processes sharing PostgreSQL (web-only ``maillon serve --workers 0`` processes and ``maillon
worker`` processes), :class:`PgWakeups` relays the same signal with ``NOTIFY``: the process that
queued runs notifies once its transaction has committed, and every process with workers
``LISTEN``\\s and wakes its own. The worker processes that ``maillon serve`` starts itself are
woken through a socket instead (:mod:`maillon.engine.supervisor`), on SQLite as on PostgreSQL.
The workers' poll stays as a safety net for a wake-up lost on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import make_url

if TYPE_CHECKING:
    import psycopg

__all__ = ["CHANNEL", "SCHEDULES_CHANNEL", "PgWakeups", "Wakeup"]

log = logging.getLogger(__name__)

#: The PostgreSQL notification channel for "runs were queued".
CHANNEL = "maillon_runs"
#: The channel for "a flow was saved, switched or deleted": schedulers read the schedules again.
SCHEDULES_CHANNEL = "maillon_schedules"


class Wakeup:
    """A thread-safe "there is new work" signal for workers in any event loop of this process.

    :meth:`notify` also calls the relays, if any, to tell other processes (:class:`PgWakeups`
    on PostgreSQL, the worker processes of ``maillon serve``); :meth:`notify_local` does not.
    """

    def __init__(self) -> None:
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._lock = threading.Lock()
        #: Called by :meth:`notify` after waking this process's workers; none may block.
        self.relays: list[Callable[[], None]] = []
        # The event loops that have relayed a wake-up in their current turn.
        self._relayed_in: set[asyncio.AbstractEventLoop] = set()

    def register(self) -> asyncio.Event:
        """An event that :meth:`notify` sets, bound to the running loop."""
        event = asyncio.Event()
        with self._lock:
            self._waiters.append((asyncio.get_running_loop(), event))
        return event

    def unregister(self, event: asyncio.Event) -> None:
        """Stop notifying ``event``."""
        with self._lock:
            self._waiters = [w for w in self._waiters if w[1] is not event]

    def notify(self) -> None:
        """Runs were queued and committed: wake every worker, here and in other processes.

        In an event loop, other processes are told once per turn of the loop, at the first
        call: the deliveries resuming in one turn were all committed before the turn began, so
        that wake-up covers them all (one per delivery cost the web process two system calls
        per delivery, and the worker processes as many reads).
        """
        self.notify_local()
        if not self.relays:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            if loop in self._relayed_in:
                return
            self._relayed_in.add(loop)
            # Runs at the start of the next turn, before the tasks that resume in it.
            loop.call_soon(self._relayed_in.discard, loop)
        for relay in self.relays:
            relay()

    def notify_local(self) -> None:
        """Wake the workers of this process only."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                event.set()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(event.set)


class PgWakeups:
    """``NOTIFY`` and ``LISTEN`` on PostgreSQL for a :class:`Wakeup`, each in its own thread.

    Both hold a connection of their own, outside the pool: a listening connection must stay in
    session mode for as long as it listens (a transaction-pooling proxy such as PgBouncer in
    transaction mode cannot carry LISTEN), and a notifier that waited for a pool slot behind
    busy request handlers would delay every wake-up.
    """

    #: Seconds between attempts to reconnect after the database went away.
    RETRY = 1.0

    def __init__(self, database_url: str, wakeup: Wakeup, channel: str = CHANNEL) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._wakeup = wakeup
        self._channel = channel
        self._stop = threading.Event()
        self._pending = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listening = False
        #: Set while the listening connection is up (after its LISTEN).
        self.listening = threading.Event()
        #: Notifications sent and received, for tests and diagnostics.
        self.sent = 0
        self.received = 0

    def start_relaying(self) -> None:
        """Tell other processes whenever this one queues runs."""
        self._stop.clear()
        self._wakeup.relays.append(self._pending.set)
        self._spawn(self._notify_loop, "maillon-notify")

    def start_listening(self) -> None:
        """Wake this process's workers when another process queues runs (once per process)."""
        if not self._listening:
            self._listening = True
            self._spawn(self._listen_loop, "maillon-listen")

    def stop(self) -> None:
        """Stop relaying and listening (a wake-up asked for just before is still sent)."""
        with contextlib.suppress(ValueError):
            self._wakeup.relays.remove(self._pending.set)
        self._stop.set()
        self._pending.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        self._listening = False

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _notify_loop(self) -> None:
        import psycopg  # loaded by PostgreSQL's dialect already; a process on SQLite never is

        conn: psycopg.Connection[Any] | None = None
        while True:
            self._pending.wait()
            # Wake-ups asked for while one is being sent are folded into the next one: under
            # load this sends one NOTIFY per round trip, not one per accepted delivery.
            self._pending.clear()
            if self._stop.is_set() and conn is None:
                return
            try:
                if conn is None:
                    conn = psycopg.connect(self._conninfo, autocommit=True)
                conn.execute(f"NOTIFY {self._channel}")
                self.sent += 1
            except psycopg.Error:
                log.warning("could not notify other processes; their workers poll meanwhile")
                _closed(conn)
                conn = None
                self._stop.wait(self.RETRY)
            if self._stop.is_set():
                _closed(conn)
                return

    def _listen_loop(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {self._channel}")
                    self.listening.set()
                    # Runs queued while this process was not listening yet (or had lost its
                    # connection) were announced to nobody here: look at the queue once.
                    self._wakeup.notify_local()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self.received += 1
                            self._wakeup.notify_local()
            except psycopg.Error:
                log.warning("lost the wake-up connection; workers poll until it is back")
            self.listening.clear()
            if not self._stop.is_set():
                self._stop.wait(self.RETRY)


def _closed(conn: psycopg.Connection[Any] | None) -> None:
    """Close ``conn`` if open, whatever state it is in; the caller forgets it."""
    if conn is not None:
        with contextlib.suppress(conn.Error):
            conn.close()
