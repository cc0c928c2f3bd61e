"""The event loop of worker processes."""

from __future__ import annotations

import asyncio

import uvloop

from maillon.web.serving import event_loop_factory


def test_worker_processes_run_on_uvloop_as_serve_does() -> None:
    factory = event_loop_factory()
    assert factory is not None
    with asyncio.Runner(loop_factory=factory) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)
        assert runner.run(asyncio.sleep(0, "ran")) == "ran"
