"""Run one action as the engine's executor does, for a connector's tests.

Calling ``MyAction().run(ctx, conn, data)`` by hand skips what the engine does around it: the
input arrives as rendered JSON and is validated by the action's ``Input`` model (so defaults,
coercions and validators apply), the connection arrives as saved values validated by its model
(secrets as plain strings turned into ``SecretStr``), a sync ``run`` is sent to a worker thread,
the step timeout bounds it, and the output is recorded as JSON (so a ``datetime`` or a
``SecretStr`` in it shows as the engine would store it). :func:`run_action` does all of that,
with the same calls, without importing the engine: connectors never import it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
from collections.abc import Mapping
from typing import Any

import anyio
from pydantic import BaseModel

from maillon.connectors.base import Action, ActionContext, Connection, ConnT, InputT, OutputT
from maillon.connectors.errors import TransientError

__all__ = ["run_action"]


async def run_action(
    action: type[Action[ConnT, InputT, OutputT]],
    connection: ConnT | Mapping[str, Any] | None,
    input: InputT | Mapping[str, Any],
    *,
    attempt: int = 1,
    idempotency_key: str = "run-1:step",
    # The step timeout the engine would set: enforced here and handed to the action in its
    # context, which a caller's own cancel scope (what ASYNC109 suggests) would not be.
    timeout: float = 30.0,  # noqa: ASYNC109
    logger: logging.Logger | None = None,
) -> Any:
    """Run ``action`` once and return its output as the JSON the engine records.

    ``connection`` is an instance of the action's connection model, or the values a user would
    save (``{"api_token": "..."}``), or ``None`` for a step that names no connection (the model
    must then have defaults for every field). ``input`` is the step's rendered input, or an
    instance of the action's ``Input`` model. ``attempt``, ``idempotency_key`` and ``timeout``
    become the :class:`~maillon.connectors.sdk.ActionContext`, as the engine would set them for
    that attempt (its key is ``<run id>:<step key>``).

    What the engine would decide, raised for the test to see:

    - :class:`~maillon.connectors.sdk.TransientError` and
      :class:`~maillon.connectors.sdk.PermanentError` from the action, as they are (the engine
      retries the first, fails the step on the second);
    - ``pydantic.ValidationError`` for an input or a connection its model refuses (the engine
      fails the step without running the action);
    - a :class:`~maillon.connectors.sdk.TransientError` ``"timed out after ...s"`` when the
      action takes longer than ``timeout`` or raises ``TimeoutError`` itself (the engine retries);
    - any other exception as it is (the engine fails the step with its type name: a bug).

    Like the executor, a sync ``run`` goes to a worker thread that cannot be interrupted: on a
    timeout the error comes when the thread returns, which is why a blocking client must get the
    context's timeout too.
    """
    model = action.ConnectionModel
    if connection is None:
        conn = model()
    elif isinstance(connection, Connection):
        if not isinstance(connection, model):
            raise TypeError(
                f"{action.__qualname__} takes a {model.__name__} connection, "
                f"not {type(connection).__name__}"
            )
        conn = connection
    else:
        conn = model.model_validate(dict(connection))
    data = action.Input.model_validate(input)
    ctx = ActionContext(idempotency_key=idempotency_key, attempt=attempt, timeout=timeout)
    if logger is not None:
        ctx = dataclasses.replace(ctx, logger=logger)
    instance = action()
    try:
        async with asyncio.timeout(timeout):
            if inspect.iscoroutinefunction(instance.run):
                result = await instance.run(ctx, conn, data)
            else:
                result = await anyio.to_thread.run_sync(instance.run, ctx, conn, data)
    except TimeoutError as exc:
        raise TransientError(f"timed out after {timeout:g}s") from exc
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    # Through JSON as the engine stores step outputs (default=str included), so that the test
    # sees what a later step's template, a replay or GET /api/runs would see.
    return json.loads(json.dumps(result, default=str))
