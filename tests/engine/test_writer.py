"""The writer thread: callers answered, not left waiting, when the database refuses to
connect; an op that fails its batch fails alone."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from maillon.engine.db import create_db_engine
from maillon.engine.writer import Op, TransactionLost, Writer
from tests.support.wait import wait_for


class _Count(Op[int]):
    """Adds a row; the rows counted."""

    def apply(self, conn: Connection) -> int:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        return int(conn.execute(text("SELECT count(*) FROM t")).scalar_one())


def test_a_writer_that_cannot_connect_refuses_what_it_is_given_until_it_can(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "data"
    engine = create_db_engine(f"sqlite:///{folder / 'maillon.db'}")
    shutil.rmtree(folder)  # made by create_db_engine: without it, SQLite cannot open the file
    writer = Writer(engine)
    writer.start()
    try:
        with ThreadPoolExecutor(1) as pool:
            # Answered within the writer's first attempts, not left waiting.
            attempt = pool.submit(writer.submit_sync, _Count())
            with pytest.raises(OperationalError, match="unable to open database file"):
                attempt.result(timeout=20)
        assert writer.alive

        folder.mkdir()

        def written() -> int | None:
            try:
                return writer.submit_sync(_Count())
            except OperationalError:
                return None

        assert wait_for(written, 30, what="the writer to connect") == 1
    finally:
        writer.stop()
        engine.dispose()


class _Gate(Op[None]):
    """Holds the writer until ``opened``: what is submitted meanwhile makes one batch."""

    def __init__(self, opened: threading.Event) -> None:
        self.opened = opened
        self.entered = threading.Event()

    def apply(self, conn: Connection) -> None:
        self.entered.set()
        assert self.opened.wait(20)


class _Row(Op[int]):
    """Inserts its value; batched in one statement, which any bad value makes fail whole."""

    def __init__(self, value: int, bad: bool = False) -> None:
        self.value, self.bad = value, bad

    def apply(self, conn: Connection) -> int:
        if self.bad:
            raise ValueError(f"bad row {self.value}")
        conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": self.value})
        return self.value

    @classmethod
    def apply_many(cls, conn: Connection, ops: list[Op[Any]]) -> list[Any]:
        rows = cast("list[_Row]", ops)
        conn.execute(text("INSERT INTO t VALUES (:x)"), [{"x": r.value} for r in rows])
        if any(r.bad for r in rows):
            raise ValueError("a value this batch did not foresee")
        return [r.value for r in rows]


def _one_batch(tmp_path: Path, ops: list[Op[Any]], *tables: str) -> tuple[list[Any], Engine]:
    """Submit ``ops`` in order while the writer is held, so that they make one batch; what
    each was answered (its result, or the exception it raised), and the database's engine."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'maillon.db'}")
    with engine.begin() as conn:
        for table in tables:
            conn.execute(text(table))
    writer = Writer(engine)
    writer.start()
    opened = threading.Event()
    try:
        with ThreadPoolExecutor(8) as pool:
            held = _Gate(opened)
            gate = pool.submit(writer.submit_sync, held)
            assert held.entered.wait(20)
            futures = []
            for op in ops:
                futures.append(pool.submit(writer.submit_sync, op))
                count = len(futures)
                wait_for(partial(_queued, writer, count), what="the op to wait its turn")
            opened.set()
            gate.result(timeout=20)
            answers = [f.exception(timeout=20) or f.result() for f in futures]
    finally:
        writer.stop()
    return answers, engine


def _queued(writer: Writer, count: int) -> bool:
    return writer._queue.qsize() == count


def test_an_op_that_fails_its_batch_fails_alone(tmp_path: Path) -> None:
    rows: list[Op[Any]] = [_Row(i, bad=i == 3) for i in range(6)]
    answers, engine = _one_batch(tmp_path, rows, "CREATE TABLE t (x INTEGER)")
    assert isinstance(answers[3], ValueError) and str(answers[3]) == "bad row 3"
    assert [a for i, a in enumerate(answers) if i != 3] == [0, 1, 2, 4, 5]
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all()
    engine.dispose()
    assert stored == [0, 1, 2, 4, 5]  # the batch's own insert was undone, each row once


class _Small(Op[str]):
    def __init__(self, name: str) -> None:
        self.name = name

    def apply(self, conn: Connection) -> str:
        conn.execute(text("INSERT INTO t2 VALUES (:x)"), {"x": self.name})
        return self.name


class _Big(_Small):
    """Fills a disk made small: SQLite then rolls back the whole transaction, not a statement."""

    @classmethod
    def apply_many(cls, conn: Connection, ops: list[Op[Any]]) -> list[Any]:
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()
        conn.execute(text(f"PRAGMA max_page_count = {pages + 3}"))
        for i in range(20):
            conn.execute(text("INSERT INTO t2 VALUES (:x)"), {"x": f"{i}" + "x" * 20_000})
        return [cast("_Big", op).name for op in ops]


def test_a_batch_whose_transaction_is_lost_fails_whole_and_stores_nothing(
    tmp_path: Path,
) -> None:
    # In this order: the small ones' group is applied first, then the big ones fill the disk.
    ops: list[Op[Any]] = [_Small("a"), _Small("b"), _Big("c"), _Big("d")]
    answers, engine = _one_batch(tmp_path, ops, "CREATE TABLE t2 (x TEXT)")
    # Nobody is told their write landed when the transaction that held it is gone.
    for answer in answers:
        assert isinstance(answer, TransactionLost), answer
        assert "database or disk is full" in str(answer)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t2")).scalar_one() == 0
    engine.dispose()


def test_a_lone_op_of_its_class_that_fails_leaves_the_batchs_others_written(
    tmp_path: Path,
) -> None:
    ops: list[Op[Any]] = [_Small("a"), _Row(1, bad=True), _Small("b")]
    tables = ("CREATE TABLE t (x INTEGER)", "CREATE TABLE t2 (x TEXT)")
    answers, engine = _one_batch(tmp_path, ops, *tables)
    assert answers[0] == "a" and answers[2] == "b"
    assert isinstance(answers[1], ValueError)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t2 ORDER BY x")).scalars().all() == ["a", "b"]
    engine.dispose()
