"""Intake: races on dedup keys, app events fanned out in batches, and index use."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text

import engine.db
import engine.intake
from engine.intake import Accepted, Delivery, SourceDelivery, UnknownHook, source_key
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


def _app_source(runtime: Runtime, store: Store, *flows_enabled: bool) -> tuple[str, list[str]]:
    """An app connection with a hook token and flows on its ``deal_created`` event.

    Set up in the tables directly: the probe connector has no app trigger of its own.
    """
    store.save_connection("probe", "app-conn", {"label": "l", "api_key": "k"})
    flow_ids = [make_flow(store, {**ECHO, "key": f"s{i}"})[0] for i in range(len(flows_enabled))]
    with runtime.db.begin() as conn:
        conn.execute(
            text("UPDATE connections SET hook_token = 'app-token' WHERE name = 'app-conn'")
        )
        source_id = conn.execute(
            text("SELECT id FROM connections WHERE name = 'app-conn'")
        ).scalar()
        for flow_id, enabled in zip(flow_ids, flows_enabled, strict=True):
            conn.execute(
                text("UPDATE flows SET source_key = :key, enabled = :on WHERE id = :id"),
                {"key": source_key(str(source_id), "deal_created"), "on": enabled, "id": flow_id},
            )
    return str(source_id), flow_ids


def _app_delivery(key: str | None, token: str = "app-token", window: float = 60) -> SourceDelivery:
    return SourceDelivery(
        token=token,
        body={"id": key},
        body_text=json.dumps({"id": key}),
        meta={},
        app="probe",
        event="deal_created",
        dedup_key=key,
        dedup_window=window,
    )


def test_app_deliveries_in_one_batch_fan_out_and_dedup(runtime: Runtime, store: Store) -> None:
    _, (on, _off, also_on) = _app_source(runtime, store, True, False, True)

    async def batch() -> tuple[Accepted | BaseException, ...]:
        return await asyncio.gather(
            runtime.deliver(_app_delivery("deal-1")),
            runtime.deliver(_app_delivery("deal-1")),
            runtime.deliver(_app_delivery("deal-2")),
            runtime.deliver(_app_delivery("deal-3", token="no-such-token")),
            runtime.deliver(_app_delivery(None)),
            return_exceptions=True,
        )

    first, copy, second, unknown, keyless = asyncio.run(batch())
    assert isinstance(first, Accepted) and isinstance(copy, Accepted)
    assert isinstance(second, Accepted) and isinstance(keyless, Accepted)
    assert isinstance(unknown, UnknownHook)
    assert len(first.run_ids) == 2  # one run per enabled flow
    assert {store.get_run(r)[0].flow_id for r in first.run_ids} == {on, also_on}
    assert copy.duplicate and (copy.event_id, copy.run_ids) == (first.event_id, first.run_ids)
    assert not second.duplicate and not keyless.duplicate
    assert len(store.list_events()) == 3


def test_an_app_key_older_than_its_window_is_given_up(runtime: Runtime, store: Store) -> None:
    _app_source(runtime, store, True)
    first = asyncio.run(runtime.deliver(_app_delivery("deal-1", window=0)))
    again = asyncio.run(runtime.deliver(_app_delivery("deal-1", window=0)))
    assert not again.duplicate and again.event_id != first.event_id
    within = asyncio.run(runtime.deliver(_app_delivery("deal-1", window=60)))
    assert within.duplicate and within.event_id == again.event_id
    assert store.get_event(first.event_id)[0].dedup_key is None


def test_intake_look_ups_use_indexes(
    runtime: Runtime, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    if runtime.db.dialect.name != "sqlite":
        pytest.skip("query plans are read with SQLite's EXPLAIN QUERY PLAN")
    _, token = make_flow(store, ECHO)
    _app_source(runtime, store, True)
    statements: list[tuple[str, Any]] = []
    real = engine.db.driver_query

    def record(conn: Any, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        statements.append((sql, list(params)))
        return real(conn, sql, params)

    monkeypatch.setattr(engine.intake, "driver_query", record)
    deliver(runtime, token, key="k-1")
    deliver(runtime, token, key="k-1")
    asyncio.run(runtime.deliver(_app_delivery("deal-1")))
    asyncio.run(runtime.deliver(_app_delivery("deal-1")))
    assert statements
    with runtime.db.connect() as conn:
        for sql, params in statements:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(params)).all()
            scans = [row[-1] for row in plan if str(row[-1]).startswith("SCAN")]
            assert not scans, f"{sql} scans: {scans}"
