"""The writer thread when the database refuses to connect: callers answered, not left waiting."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from maillon.engine.db import create_db_engine
from maillon.engine.writer import Op, Writer
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
