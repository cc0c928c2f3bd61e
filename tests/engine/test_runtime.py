"""The runtime's life cycle: what stopping the workers releases, what worker processes get."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from maillon.connectors.registry import Registry
from maillon.connectors.sdk import Connector
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.engine.supervisor import SUPPORTED
from tests.support.wait import wait_for


def test_stopping_the_workers_closes_the_connectors_pools_in_their_loop(
    make_settings: Callable[..., Settings],
) -> None:
    closed_in: list[asyncio.AbstractEventLoop] = []

    async def close() -> None:
        closed_in.append(asyncio.get_running_loop())

    runtime = Runtime(
        make_settings(),
        registry=Registry([Connector(key="pool", title="P", actions=(), close=close)]),
    )
    runtime.open()
    try:

        async def serve_then_stop() -> asyncio.AbstractEventLoop:
            runtime.start_workers(1)
            await asyncio.sleep(0)
            await runtime.stop_workers()
            return asyncio.get_running_loop()

        loop = asyncio.run(serve_then_stop())
    finally:
        runtime.close()
    assert closed_in == [loop]


@pytest.mark.skipif(not SUPPORTED, reason="no worker processes on this system")
def test_worker_processes_get_the_address_that_serve_listens_on(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # `serve --host/--port` change its settings, not its environment; the worker processes
    # build their settings from the environment they are given.
    seen = tmp_path / "seen"
    script = (
        "import os, pathlib; pathlib.Path(os.environ['SEEN']).write_text("
        "os.environ['MAILLON_HOST'] + ' ' + os.environ['MAILLON_PORT'])"
    )
    runtime = Runtime(make_settings(host="127.0.0.2", port=8123, workers=1, worker_processes=1))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEEN", str(seen))
        runtime.start_worker_processes([sys.executable, "-c", script])
    assert runtime.supervisor is not None
    try:
        wait_for(lambda: seen.exists() and seen.read_text(), 30, what="the worker process")
    finally:
        runtime.supervisor.stop(10)
    assert seen.read_text() == "127.0.0.2 8123"
