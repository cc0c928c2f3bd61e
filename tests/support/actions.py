"""Running one action in a test as the engine would, and closing what it pooled afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from maillon.connectors.sdk import Action, aclose_fetch_clients
from maillon.connectors.testing import run_action

__all__ = ["run"]


def run(
    action: type[Action[Any, Any, Any]],
    connection: Any,
    data: Mapping[str, Any],
    **context: Any,
) -> Any:
    """:func:`run_action` in a loop of its own; the download pool of that loop is closed after,
    since a pooled session must be closed in the loop that made it."""

    async def go() -> Any:
        try:
            return await run_action(action, connection, data, **context)
        finally:
            await aclose_fetch_clients()

    return asyncio.run(go())
