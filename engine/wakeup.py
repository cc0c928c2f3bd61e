"""A thread-safe "there is new work" signal for the workers of this process."""

from __future__ import annotations

import asyncio
import threading

__all__ = ["Wakeup"]


class Wakeup:
    """A thread-safe "there is new work" signal for workers in any event loop of this process.

    It does not cross processes: a worker in another process (``maillon worker`` on
    PostgreSQL) notices new runs when it next looks at the queue, at its poll interval.
    """

    def __init__(self) -> None:
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._lock = threading.Lock()

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
        """Wake every registered worker."""
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
