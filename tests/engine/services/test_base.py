"""What every service shares: write sessions take the same turns as the writers."""

from __future__ import annotations

import threading

import pytest

from maillon.engine.db import is_sqlite, write_turns
from maillon.engine.runtime import Runtime


def test_a_write_session_waits_for_the_writers_turn(runtime: Runtime) -> None:
    if not is_sqlite(runtime.db):
        pytest.skip("PostgreSQL's writers need no turns: its rows are locked one by one")
    service = runtime.services.flows
    entered = threading.Event()

    def write() -> None:
        with service.session(write=True):
            entered.set()

    # Another process's writer (here, this thread) holds the turn.
    with write_turns(runtime.db):
        thread = threading.Thread(target=write)
        thread.start()
        assert not entered.wait(0.3), "the session wrote while another writer had the turn"
    assert entered.wait(10)
    thread.join()
    # A session that only reads takes no turn.
    with write_turns(runtime.db), service.session():
        pass
