"""Time-ordered identifiers, so that ids sort by creation time and indexes stay append-mostly."""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["new_id"]


def new_id() -> str:
    """A UUIDv7 string (48-bit millisecond timestamp, then randomness)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 64) & 0xFFF) << 64 | (0b10 << 62)
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))
