"""Time-ordered identifiers, so that ids sort by creation time and indexes stay append-mostly."""

from __future__ import annotations

import random
import re
import threading
import time

__all__ = ["id_at", "id_floor", "looks_like_id", "new_id"]

#: The millisecond and counter of the last id :func:`new_id` made in this process.
_lock = threading.Lock()
_last_ms = 0
_counter = 0


#: The shape of an id (:func:`new_id`, and the UUIDs of older rows).
_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def looks_like_id(text: str) -> bool:
    """Whether ``text`` has the shape of an id: things named so could not be told from the
    things whose id it is, where either is accepted."""
    return _ID.match(text) is not None


def new_id() -> str:
    """A UUIDv7 string (48-bit millisecond timestamp, 12-bit counter, 62 random bits).

    Ids made by one process only grow, even within a millisecond (the counter, started at a
    random value in each new millisecond as RFC 9562's method 1 allows) and if the clock steps
    back: rows ordered by id are in the order they were made, such as the items of a digest
    collected by runs queued in the same millisecond.

    The random bits come from :mod:`random`, not ``os.urandom``: ids are not secrets, and
    ``os.urandom`` is a system call that releases the GIL, so the writer thread, which makes a
    few ids per delivery, had to win the GIL back from the event loop each time, a visible share
    of its time under load. :mod:`random` is re-seeded from the OS in a forked child, so
    processes do not share a sequence.
    """
    global _last_ms, _counter
    now = time.time_ns() // 1_000_000
    with _lock:
        if now > _last_ms:
            # Half the counter's range at most, so that the millisecond has room to count in.
            _last_ms, _counter = now, random.getrandbits(11)
        else:
            _counter += 1
            if _counter >> 12:  # 4,096 ids in one millisecond: go on in the next one
                _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
    return _uuid7(ms, counter)


def id_at(timestamp: float) -> str:
    """A new id as if made at ``timestamp`` (epoch seconds): for history written after the
    fact, such as the benchmarks' database of a month of runs."""
    return _uuid7(max(0, int(timestamp * 1000)), random.getrandbits(12))


def _uuid7(ms: int, rand_a: int) -> str:
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62)
    return _text(value | random.getrandbits(62))


def _text(value: int) -> str:
    """``str(uuid.UUID(int=value))`` at less than half its cost: a few ids are made for every
    delivery, and a UUID object checks and keeps what the text alone does not need."""
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def id_floor(timestamp: float) -> str:
    """The smallest id made at ``timestamp`` (epoch seconds): ids made earlier sort before it.

    Lists of runs use it to turn a time range into a range of ids, which their indexes serve.
    """
    ms = max(0, int(timestamp * 1000))
    return _text((ms << 80) | (0x7 << 76) | (0b10 << 62))
