"""Identifiers: valid UUIDv7, ordered by creation time, unique."""

from __future__ import annotations

import time
import uuid

from maillon.engine.ids import new_id


def test_ids_are_uuid7_with_the_creation_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(new_id())
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_ids_sort_by_creation_time_and_do_not_repeat() -> None:
    first = new_id()
    # Ids order by their millisecond: the ones below are made in a later one than ``first``.
    time.sleep(0.002)
    many = [new_id() for _ in range(50_000)]
    assert len(set(many)) == len(many)
    assert all(first < later for later in many)
