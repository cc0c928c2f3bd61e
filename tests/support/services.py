"""Engine services for synchronous tests: every coroutine method runs to completion."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["Blocking"]


class Blocking:
    """Wraps the services (or one service) so that ``flows.save(...)`` returns its result.

    Each call runs in a fresh event loop, as a CLI command does; in a thread of its own when
    the caller is itself inside a loop (a predicate checked while workers run).
    """

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            return lambda *args, **kwargs: _complete(value(*args, **kwargs))
        if type(value).__module__.startswith("maillon.engine.services"):
            return Blocking(value)
        return value


def _complete(work: Coroutine[Any, Any, Any]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()
