"""Identifiers: valid UUIDv7, ordered by creation time, unique."""

from __future__ import annotations

import threading
import time
import uuid

from maillon.engine.ids import id_at, id_floor, new_id


def test_ids_are_uuid7_with_the_creation_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    text = new_id()
    value = uuid.UUID(text)
    after = time.time_ns() // 1_000_000
    # The canonical text: lower-case hex in 8-4-4-4-12 groups.
    assert text == str(value)
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


def test_ids_of_one_process_grow_within_a_millisecond_and_across_threads() -> None:
    # 20,000 ids take a few milliseconds: several per millisecond, in the order made.
    made = [new_id() for _ in range(20_000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    per_thread: list[list[str]] = [[] for _ in range(4)]

    def make(into: list[str]) -> None:
        into.extend(new_id() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(ids,)) for ids in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in per_thread for i in ids]
    assert all(ids == sorted(ids) for ids in per_thread)
    assert len(set(every)) == len(every)


def test_ids_made_for_a_past_time_sort_as_if_made_then() -> None:
    then = 1_780_000_000.25
    value = uuid.UUID(id_at(then))
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert value.int >> 80 == 1_780_000_000_250
    assert id_floor(then) == str(uuid.UUID(id_floor(then)))
    assert id_floor(then) <= str(value) < id_floor(then + 0.001) < new_id()
