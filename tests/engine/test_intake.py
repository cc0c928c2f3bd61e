"""Intake under a race: another process stores the same dedup key after our look-up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import engine.db
import engine.intake
from engine.intake import Accepted, Delivery
from engine.runtime import Runtime
from engine.store import Store
from tests.engine.test_executor import ECHO, deliver, make_flow


def test_a_key_stored_after_the_look_up_makes_a_duplicate_not_an_error(
    runtime: Runtime, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = make_flow(store, ECHO)
    original = deliver(runtime, token, key="k-1")

    # The first dedup look-up misses the committed row, as if it had been committed by another
    # process between that look-up and our insert: the insert then violates the unique key.
    real = engine.db.driver_query
    missed: list[str] = []

    def late(conn: Any, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        if "dedup_key IN" in sql and not missed:
            missed.append(sql)
            return []
        return real(conn, sql, params)

    monkeypatch.setattr(engine.intake, "driver_query", late)

    async def batch() -> tuple[Accepted, Accepted]:
        return await asyncio.gather(
            runtime.deliver(Delivery(token, {}, "{}", {}, "k-1")),
            runtime.deliver(Delivery(token, {}, "{}", {}, "k-2")),
        )

    again, fresh = asyncio.run(batch())
    assert missed
    assert again.duplicate and again.event_id == original.event_id
    assert again.run_ids == original.run_ids
    assert not fresh.duplicate
    assert len(store.list_events()) == 2
