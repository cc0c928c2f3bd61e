"""Identifiers: valid UUIDv7, ordered by creation time, unique."""

from __future__ import annotations

import time
import uuid

from maillon.engine.ids import id_at, id_floor, new_id


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


def test_ids_made_for_a_past_time_sort_as_if_made_then() -> None:
    then = 1_780_000_000.25
    value = uuid.UUID(id_at(then))
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert value.int >> 80 == 1_780_000_000_250
    assert id_floor(then) <= str(value) < id_floor(then + 0.001) < new_id()
