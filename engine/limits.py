"""Failures counted per client address, in this process's memory: who gets a 429 next.

Two abuses are counted this way: wrong API tokens (someone guessing tokens) and requests to
hook URLs that do not exist (someone guessing hook URLs, or a sender misconfigured into a
loop). Each is checked on a path that must stay cheap, the hook endpoints above all: a
check here is a dictionary look-up, where a count kept in the database (as failed sign-ins
are, :mod:`maillon.engine.services.accounts`) would cost every refused request a write
transaction, and would let a flood of bad requests load the very writer that commits the
good ones. The price: each process counts on its own, so an install of N processes lets a
client fail up to N times the limit; the limits are set for that.

A key is allowed ``limit`` failures within ``window`` seconds; the next attempt is refused
until the oldest of them leaves the window. Successes cost nothing and forgive nothing: a
token guesser who also holds a valid token must not reset its count with it.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from maillon.engine.errors import RateLimited

__all__ = ["FailureLimit"]

#: Keys remembered at most; the least recently failed are forgotten first.
_MAX_KEYS = 100_000


class FailureLimit:
    """Failures per key within a sliding window (see the module)."""

    def __init__(
        self,
        what: str,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._what = what
        self._limit = limit
        self._window = window
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, key: str) -> None:
        """Raise :class:`RateLimited` while ``key`` has used up its failures."""
        times = self._failures.get(key)
        if times is None or len(times) < self._limit:
            return
        now = self._clock()
        while times and times[0] <= now - self._window:
            times.popleft()
        if len(times) >= self._limit:
            raise RateLimited(
                f"too many {self._what} from this address: wait before trying again",
                retry_after=times[0] + self._window - now,
            )

    def fail(self, key: str) -> None:
        """Count one failure of ``key``."""
        now = self._clock()
        times = self._failures.pop(key, None)
        if times is None:
            times = deque(maxlen=self._limit)
        self._failures[key] = times  # most recent last
        times.append(now)
        if len(self._failures) > _MAX_KEYS:
            self._failures.popitem(last=False)
