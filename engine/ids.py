"""Time-ordered identifiers, so that ids sort by creation time and indexes stay append-mostly."""

from __future__ import annotations

import random
import time
import uuid

__all__ = ["id_at", "id_floor", "new_id"]


def new_id() -> str:
    """A UUIDv7 string (48-bit millisecond timestamp, then 74 random bits).

    The random bits come from :mod:`random`, not ``os.urandom``: ids are not secrets, and
    ``os.urandom`` is a system call that releases the GIL, so the writer thread, which makes a
    few ids per delivery, had to win the GIL back from the event loop each time, a visible share
    of its time under load. :mod:`random` is re-seeded from the OS in a forked child, so
    processes do not share a sequence.
    """
    return _uuid7(time.time_ns() // 1_000_000)


def id_at(timestamp: float) -> str:
    """A new id as if made at ``timestamp`` (epoch seconds): for history written after the
    fact, such as the benchmarks' database of a month of runs."""
    return _uuid7(max(0, int(timestamp * 1000)))


def _uuid7(ms: int) -> str:
    rand = random.getrandbits(74)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62)
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def id_floor(timestamp: float) -> str:
    """The smallest id made at ``timestamp`` (epoch seconds): ids made earlier sort before it.

    Lists of runs use it to turn a time range into a range of ids, which their indexes serve.
    """
    ms = max(0, int(timestamp * 1000))
    return str(uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62)))
