"""run_action: one action run as the executor runs it, outcomes as the engine would see them."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, Field, SecretStr, ValidationError

from maillon.connectors.sdk import (
    Action,
    ActionContext,
    Connection,
    NoConnection,
    PermanentError,
    TransientError,
)
from maillon.connectors.testing import run_action
from tests.support.modules import loaded_by

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the engine's event loop


class Account(Connection):
    api_token: SecretStr
    region: str = "eu"


class Greeting(BaseModel):
    name: str = Field(min_length=1)
    times: int = 1
    fail: str | None = None
    wait: float = 0.0


class Greeted(BaseModel):
    text: str
    at: datetime
    token: SecretStr
    seen: dict[str, Any]


seen_threads: list[int] = []


class Greet(Action[Account, Greeting, Greeted]):
    key = "greet"
    title = "Greet"

    async def run(self, ctx: ActionContext, conn: Account, data: Greeting) -> Greeted:
        return _greet(ctx, conn, data)


class GreetBlocking(Action[Account, Greeting, Greeted]):
    key = "greet_blocking"
    title = "Greet (blocking)"

    def run(self, ctx: ActionContext, conn: Account, data: Greeting) -> Greeted:
        seen_threads.append(threading.get_ident())
        if data.wait:
            threading.Event().wait(data.wait)
        return _greet(ctx, conn, data)


def _greet(ctx: ActionContext, conn: Account, data: Greeting) -> Greeted:
    if data.fail == "transient":
        raise TransientError("busy", retry_after=3)
    if data.fail == "permanent":
        raise PermanentError("no such person", details={"code": "unknown"})
    if data.fail == "bug":
        raise KeyError("oops")
    ctx.logger.info("greeting %s", data.name)
    return Greeted(
        text=" ".join([f"hello {data.name}"] * data.times),
        at=datetime(2025, 3, 10, 14, 0, tzinfo=UTC),
        token=conn.api_token,
        seen={
            "attempt": ctx.attempt,
            "key": ctx.idempotency_key,
            "timeout": ctx.timeout,
            "region": conn.region,
        },
    )


SAVED = {"api_token": "t-123"}  # a connection as a user saves it


async def test_output_is_the_json_the_engine_records() -> None:
    out = await run_action(Greet, SAVED, {"name": "Ada", "times": "2"})
    assert out == {
        "text": "hello Ada hello Ada",  # "2" coerced by the Input model
        "at": "2025-03-10T14:00:00Z",
        "token": "**********",  # a secret never reaches the run history
        "seen": {"attempt": 1, "key": "run-1:step", "timeout": 30.0, "region": "eu"},
    }


async def test_the_context_is_what_the_engine_would_give_that_attempt() -> None:
    out = await run_action(
        Greet,
        Account(api_token=SecretStr("t"), region="us"),
        Greeting(name="Ada"),
        attempt=3,
        idempotency_key="01J:notify",
        timeout=5,
    )
    assert out["seen"] == {"attempt": 3, "key": "01J:notify", "timeout": 5.0, "region": "us"}


async def test_a_blocking_run_goes_to_a_worker_thread() -> None:
    out = await run_action(GreetBlocking, SAVED, {"name": "Ada"})
    assert out["text"] == "hello Ada"
    assert seen_threads[-1] != threading.get_ident()


@pytest.mark.parametrize("action", [Greet, GreetBlocking])
async def test_connector_errors_come_through_as_raised(
    action: type[Action[Account, Greeting, Greeted]],
) -> None:
    with pytest.raises(TransientError, match="busy") as transient:
        await run_action(action, SAVED, {"name": "Ada", "fail": "transient"})
    assert transient.value.retry_after == 3
    with pytest.raises(PermanentError, match="no such person") as permanent:
        await run_action(action, SAVED, {"name": "Ada", "fail": "permanent"})
    assert permanent.value.details == {"code": "unknown"}
    with pytest.raises(KeyError, match="oops"):
        await run_action(action, SAVED, {"name": "Ada", "fail": "bug"})


async def test_an_action_past_its_timeout_is_a_transient_failure() -> None:
    with pytest.raises(TransientError, match=r"timed out after 0\.2s"):
        await run_action(GreetBlocking, SAVED, {"name": "Ada", "wait": 1}, timeout=0.2)


async def test_input_refused_by_its_model_never_runs_the_action() -> None:
    before = len(seen_threads)
    with pytest.raises(ValidationError, match="name"):
        await run_action(GreetBlocking, SAVED, {"name": ""})
    assert len(seen_threads) == before


async def test_connections_by_values_instance_or_none() -> None:
    with pytest.raises(ValidationError, match="api_token"):
        await run_action(Greet, {"region": "eu"}, {"name": "Ada"})
    with pytest.raises(ValidationError, match="api_token"):
        await run_action(Greet, None, {"name": "Ada"})  # no connection: the model's defaults
    with pytest.raises(TypeError, match="takes a Account connection, not NoConnection"):
        await run_action(Greet, NoConnection(), {"name": "Ada"})  # type: ignore[misc]

    class EuAccount(Account):
        tenant: str = "t1"

    out = await run_action(Greet, EuAccount(api_token=SecretStr("t")), {"name": "Ada"})
    assert out["seen"]["region"] == "eu"


async def test_the_log_goes_to_the_given_logger(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tests.greet"):
        await run_action(Greet, SAVED, {"name": "Ada"}, logger=logging.getLogger("tests.greet"))
    assert [r.getMessage() for r in caplog.records] == ["greeting Ada"]


def test_the_kit_does_not_import_pytest() -> None:
    assert loaded_by("maillon.connectors.testing", among=("pytest", "_pytest")) == []
    assert loaded_by("maillon.connectors.testing.pytest_plugin", among=("pytest",)) == ["pytest"]
