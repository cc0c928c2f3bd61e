"""The runtime's life cycle: what stopping the workers releases."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from maillon.connectors.registry import Registry
from maillon.connectors.sdk import Connector
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings


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
