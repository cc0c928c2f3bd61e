"""Intake: races on dedup keys, app events fanned out in batches, and index use."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from sqlalchemy import text

import maillon.engine.db
import maillon.engine.intake
from maillon.connectors.registry import Registry
from maillon.engine.flows import FlowDocument
from maillon.engine.hooks import SourceKey
from maillon.engine.intake import Accepted, Delivery, SourceDelivery, UnknownHook
from maillon.engine.runtime import Runtime
from tests.support.flows import ECHO, deliver, make_flow, webhook
from tests.support.probe import probe
from tests.support.services import Blocking


def test_a_key_stored_after_the_look_up_makes_a_duplicate_not_an_error(
    runtime: Runtime, services: Blocking, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = make_flow(services, ECHO)
    original = deliver(runtime, token, key="k-1")

    # The first dedup look-up misses the committed row, as if it had been committed by another
    # process between that look-up and our insert: the insert then violates the unique key.
    real = maillon.engine.db.driver_query
    missed: list[str] = []

    def late(conn: Any, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        if "dedup_key IN" in sql and not missed:
            missed.append(sql)
            return []
        return real(conn, sql, params)

    monkeypatch.setattr(maillon.engine.intake, "driver_query", late)

    async def batch() -> tuple[Accepted, Accepted]:
        return await asyncio.gather(
            runtime.writer.submit(Delivery(token, {}, "{}", {}, "k-1")),
            runtime.writer.submit(Delivery(token, {}, "{}", {}, "k-2")),
        )

    again, fresh = asyncio.run(batch())
    assert missed
    assert again.duplicate and again.event_id == original.event_id
    assert again.run_ids == original.run_ids
    assert not fresh.duplicate
    assert len(services.runs.list_events()) == 2


def _app_source(
    runtime: Runtime, services: Blocking, *flows_enabled: bool
) -> tuple[str, list[str]]:
    """An app connection with a hook token and flows on its ``deal_created`` event.

    Set up in the tables directly: the probe connector has no app trigger of its own.
    """
    services.connections.create("probe", "app-conn", {"label": "l", "api_key": "k"})
    flow_ids = [make_flow(services, {**ECHO, "key": f"s{i}"})[0] for i in range(len(flows_enabled))]
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
                {
                    "key": str(SourceKey(str(source_id), "deal_created")),
                    "on": enabled,
                    "id": flow_id,
                },
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


def test_app_deliveries_in_one_batch_fan_out_and_dedup(
    runtime: Runtime, services: Blocking
) -> None:
    _, (on, _off, also_on) = _app_source(runtime, services, True, False, True)

    async def batch() -> tuple[Accepted | BaseException, ...]:
        return await asyncio.gather(
            runtime.writer.submit(_app_delivery("deal-1")),
            runtime.writer.submit(_app_delivery("deal-1")),
            runtime.writer.submit(_app_delivery("deal-2")),
            runtime.writer.submit(_app_delivery("deal-3", token="no-such-token")),
            runtime.writer.submit(_app_delivery(None)),
            return_exceptions=True,
        )

    first, copy, second, unknown, keyless = asyncio.run(batch())
    assert isinstance(first, Accepted) and isinstance(copy, Accepted)
    assert isinstance(second, Accepted) and isinstance(keyless, Accepted)
    assert isinstance(unknown, UnknownHook)
    assert len(first.run_ids) == 2  # one run per enabled flow
    assert {services.runs.history(r)[0].flow_id for r in first.run_ids} == {on, also_on}
    assert copy.duplicate and (copy.event_id, copy.run_ids) == (first.event_id, first.run_ids)
    assert not second.duplicate and not keyless.duplicate
    assert len(services.runs.list_events()) == 3


def test_an_app_key_older_than_its_window_is_given_up(runtime: Runtime, services: Blocking) -> None:
    _app_source(runtime, services, True)
    first = asyncio.run(runtime.writer.submit(_app_delivery("deal-1", window=0)))
    again = asyncio.run(runtime.writer.submit(_app_delivery("deal-1", window=0)))
    assert not again.duplicate and again.event_id != first.event_id
    within = asyncio.run(runtime.writer.submit(_app_delivery("deal-1", window=60)))
    assert within.duplicate and within.event_id == again.event_id
    assert services.runs.get_event(first.event_id)[0].dedup_key is None


def test_intake_look_ups_use_indexes(
    runtime: Runtime, services: Blocking, monkeypatch: pytest.MonkeyPatch
) -> None:
    if runtime.db.dialect.name != "sqlite":
        pytest.skip("query plans are read with SQLite's EXPLAIN QUERY PLAN")
    _, token = make_flow(services, ECHO)
    _app_source(runtime, services, True)
    statements: list[tuple[str, Any]] = []
    real = maillon.engine.db.driver_query

    def record(conn: Any, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        statements.append((sql, list(params)))
        return real(conn, sql, params)

    monkeypatch.setattr(maillon.engine.intake, "driver_query", record)
    deliver(runtime, token, key="k-1")
    deliver(runtime, token, key="k-1")
    asyncio.run(runtime.writer.submit(_app_delivery("deal-1")))
    asyncio.run(runtime.writer.submit(_app_delivery("deal-1")))
    assert statements
    with runtime.db.connect() as conn:
        for sql, params in statements:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(params)).all()
            scans = [row[-1] for row in plan if str(row[-1]).startswith("SCAN")]
            assert not scans, f"{sql} scans: {scans}"


def _in_one_batch(runtime: Runtime, *ops: Any, prepare: Any = None) -> list[Any]:
    """Submit ``ops`` while the writer is busy, so that they are applied in one batch.

    ``prepare(conn)``, if given, runs first on the writer's connection.
    """
    import threading

    from maillon.engine.writer import Op

    started, release = threading.Event(), threading.Event()

    class Hold(Op[None]):
        def apply(self, conn: Any) -> None:
            if prepare is not None:
                prepare(conn)
            started.set()
            release.wait(5)

    async def run() -> list[Any]:
        held = asyncio.ensure_future(runtime.writer.submit(Hold()))
        await asyncio.to_thread(started.wait, 5)
        tasks = [asyncio.ensure_future(runtime.writer.submit(op)) for op in ops]
        await asyncio.sleep(0)  # each task enqueues its op
        release.set()
        await held
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    return asyncio.run(run())


@pytest.mark.parametrize("kind", ["webhook", "app"])
def test_a_hook_token_with_a_nul_byte_is_unknown_and_fails_no_other_delivery(
    runtime: Runtime, services: Blocking, kind: str
) -> None:
    # PostgreSQL text cannot hold NUL; psycopg refuses the token look-up, which runs
    # outside any savepoint, and the whole group commit fails (every sender in it gets a 500).
    _, token = make_flow(services, ECHO)
    _app_source(runtime, services, True)
    if kind == "webhook":
        good: Any = Delivery(token, {}, "{}", {}, None)
        bad: Any = Delivery("nul\x00token", {}, "{}", {}, None)
    else:
        good, bad = _app_delivery("deal-1"), _app_delivery("deal-2", token="nul\x00token")
    fine, refused = _in_one_batch(runtime, good, bad)
    assert isinstance(fine, Accepted), fine
    assert isinstance(refused, UnknownHook), refused


def test_a_dedup_key_with_a_nul_byte_is_stored_and_fails_no_other_delivery(
    runtime: Runtime, services: Blocking
) -> None:
    # A body field rendered into the dedup key reaches the INSERT as is; on PostgreSQL
    # the NUL fails the whole batch.
    _, token = make_flow(services, ECHO, trigger={"type": "webhook", "dedup": "{{ event.id }}"})
    # Keys as the hooks service renders them (flow version 1) before handing deliveries over.
    good = Delivery(token, {"id": "fine"}, '{"id": "fine"}', {}, None, (1, "fine"))
    odd = Delivery(token, {"id": "a\x00b"}, '{"id": "a\\u0000b"}', {}, None, (1, "a\x00b"))
    fine, stored = _in_one_batch(runtime, good, odd)
    assert isinstance(fine, Accepted), fine
    assert isinstance(stored, Accepted), stored
    again = deliver(runtime, token, {"id": "a\x00b"})
    assert again.duplicate and again.event_id == stored.event_id


def test_long_dedup_keys_that_differ_past_the_stored_length_are_different_events(
    runtime: Runtime, services: Blocking
) -> None:
    _, token = make_flow(services, ECHO, trigger={"type": "webhook", "dedup": "{{ event.ref }}"})
    prefix = "x" * 600
    first = deliver(runtime, token, {"ref": prefix + "-order-1"})
    second = deliver(runtime, token, {"ref": prefix + "-order-2"})
    assert not second.duplicate and second.event_id != first.event_id
    again = deliver(runtime, token, {"ref": prefix + "-order-1"})
    assert again.duplicate and again.event_id == first.event_id
    stored = services.runs.get_event(first.event_id)[0].dedup_key
    assert stored is not None and len(stored) <= 500 and stored.startswith("x" * 400)


def test_a_duplicate_says_whether_the_first_copys_runs_are_held(
    runtime: Runtime, services: Blocking
) -> None:
    trigger = {"type": "webhook", "dedup": "{{ event.ref }}"}
    flow_id, token = make_flow(services, ECHO, trigger=trigger, enabled=False)
    first = deliver(runtime, token, {"ref": "r-1"})
    again = deliver(runtime, token, {"ref": "r-1"})
    assert first.held and again.duplicate and again.held
    assert again.run_ids == first.run_ids
    services.runs.release_held(flow_id)
    released = deliver(runtime, token, {"ref": "r-1"})
    assert released.duplicate and not released.held


def test_a_batch_of_only_nul_tokens_is_unknown(runtime: Runtime, services: Blocking) -> None:
    (refused,) = _in_one_batch(runtime, Delivery("\x00", {}, "{}", {}, None))
    assert isinstance(refused, UnknownHook)
    (refused,) = _in_one_batch(runtime, _app_delivery("deal-1", token="\x00"))
    assert isinstance(refused, UnknownHook)


def test_a_batch_fanned_out_past_the_drivers_parameter_limit_is_stored(
    runtime: Runtime, services: Blocking
) -> None:
    # Every run of a batch went into one INSERT; 500 app deliveries to 19 flows are
    # 9,500 runs, 66,500 parameters: past PostgreSQL's 65,535 and SQLite's default 32,766
    # (Debian builds SQLite with 250,000; upstream's default is set here), and the whole
    # batch failed.
    import sqlite3

    def upstream_sqlite_limit(conn: Any) -> None:
        if conn.dialect.name == "sqlite":
            dbapi = conn.connection.driver_connection
            dbapi.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)

    _app_source(runtime, services, *[True] * 19)
    ops = [_app_delivery(f"deal-{i}") for i in range(500)]
    results = _in_one_batch(runtime, *ops, prepare=upstream_sqlite_limit)
    failed = [r for r in results if not isinstance(r, Accepted)]
    assert not failed, failed[0]
    assert all(len(r.run_ids) == 19 for r in results)


def test_a_slow_dedup_template_does_not_stall_other_deliveries(
    make_settings: Any, services: Blocking
) -> None:
    # The dedup template used to be rendered in the writer thread: every delivery of every
    # flow waited for it. It is rendered before the writer now, within its budget.
    rt = Runtime(make_settings(template_time_budget=0.5), registry=Registry([probe]))
    rt.open()
    try:
        own = Blocking(rt.services)
        slow = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"
        _, token = make_flow(own, ECHO, trigger={"type": "webhook", "dedup": slow})
        _, other = make_flow(own, {**ECHO, "key": "quick"})

        async def main() -> tuple[Accepted, float]:
            await webhook(rt, other)  # the writer's first batch opens its connection
            pending = asyncio.ensure_future(webhook(rt, token))
            await asyncio.sleep(0.1)
            started = time.monotonic()
            await webhook(rt, other)
            took = time.monotonic() - started
            return await pending, took

        accepted, other_took = asyncio.run(main())
        assert other_took < 0.3
        # Past its budget, the key is not computed: the delivery is kept, without dedup.
        assert not accepted.duplicate and accepted.run_ids
    finally:
        rt.close()


def test_a_dedup_key_follows_the_flow_after_an_edit(runtime: Runtime, services: Blocking) -> None:
    # The dedup template is remembered per hook with its flow version: an edit is seen.
    flow_id, token = make_flow(
        services, ECHO, trigger={"type": "webhook", "dedup": "{{ event.id }}"}
    )
    first = deliver(runtime, token, {"id": "a", "n": 1})
    assert deliver(runtime, token, {"id": "a", "n": 2}).duplicate
    doc = FlowDocument.model_validate(
        {"name": "test", "steps": [ECHO], "trigger": {"type": "webhook", "dedup": "{{ event.n }}"}}
    )
    services.flows.save(doc, flow_id)
    assert not deliver(runtime, token, {"id": "a", "n": 3}).duplicate
    assert deliver(runtime, token, {"id": "b", "n": 3}).duplicate
    assert first.event_id
