"""A test-only connector whose behaviour each test scripts, to exercise the engine itself.

Connectors are tested on the wire in tests/connectors; engine tests need an action whose
failures they control precisely (transient N times, then success; permanent at once).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from maillon.connectors.sdk import (
    Action,
    ActionContext,
    Connection,
    Connector,
    PermanentError,
    TransientError,
)


class ProbeConnection(Connection):
    api_key: SecretStr | None = None
    label: str = ""


class EchoInput(BaseModel):
    text: str = Field(description="Echoed back.")
    number: int | None = None
    fail: str | None = Field(
        None,
        description="'transient:N' fails N times; 'permanent' fails; 'permanent:MESSAGE' fails "
        "with MESSAGE.",
    )
    retry_after: float | None = None
    #: A secret given with the step (as the HTTP action's bearer token is): never recorded.
    secret: SecretStr | None = None


class EchoOutput(BaseModel):
    text: str
    number: int | None
    attempt: int
    idempotency_key: str
    label: str


class Calls:
    """What the probe saw, shared across threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: list[dict[str, Any]] = []
        self.failures: dict[str, int] = defaultdict(int)

    def clear(self) -> None:
        with self.lock:
            self.log.clear()
            self.failures.clear()


calls = Calls()


class SendEcho(Action[ProbeConnection, EchoInput, EchoOutput]):
    key = "send_echo"
    title = "Echo"

    async def run(self, ctx: ActionContext, conn: ProbeConnection, data: EchoInput) -> EchoOutput:
        with calls.lock:
            calls.log.append(
                {
                    "key": ctx.idempotency_key,
                    "text": data.text,
                    "attempt": ctx.attempt,
                    "at": time.monotonic(),
                    "secret": data.secret.get_secret_value() if data.secret else None,
                }
            )
            if data.fail == "permanent":
                raise PermanentError("probe refused", details={"code": "nope"})
            if data.fail and data.fail.startswith("permanent:"):
                raise PermanentError(data.fail.removeprefix("permanent:"))
            if data.fail and data.fail.startswith("transient:"):
                wanted = int(data.fail.split(":")[1])
                if calls.failures[ctx.idempotency_key] < wanted:
                    calls.failures[ctx.idempotency_key] += 1
                    raise TransientError("probe busy", retry_after=data.retry_after)
        return EchoOutput(
            text=data.text,
            number=data.number,
            attempt=ctx.attempt,
            idempotency_key=ctx.idempotency_key,
            label=conn.label,
        )


class SendEchoSync(Action[ProbeConnection, EchoInput, EchoOutput]):
    """The same, as a blocking ``run`` (executed in a thread)."""

    key = "send_echo_sync"
    title = "Echo (blocking)"

    def run(self, ctx: ActionContext, conn: ProbeConnection, data: EchoInput) -> EchoOutput:
        import asyncio

        return asyncio.run(SendEcho().run(ctx, conn, data))


probe = Connector(
    key="probe", title="Probe", actions=(SendEcho, SendEchoSync), connection=ProbeConnection
)
