"""Log lines tagged with the ids of the work in progress, as text or as JSON."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from pydantic import BaseModel

from maillon.connectors.base import Action, ActionContext, Connector, NoConnection
from maillon.connectors.registry import Registry
from maillon.engine.logs import ContextFilter, JsonFormatter, log_ids
from maillon.engine.models import RunStatus
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.flows import deliver, make_flow, wait_status
from tests.support.probe import probe
from tests.support.services import Blocking


class Nothing(BaseModel):
    pass


class Explode(Action[NoConnection, Nothing, Nothing]):
    key = "explode"
    title = "Explode"

    async def run(self, ctx: ActionContext, conn: NoConnection, data: Nothing) -> Nothing:
        raise RuntimeError("a bug in a connector")


broken = Connector(key="broken", title="Broken", actions=(Explode,))


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger writes as JSON, with the context's ids."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield out
    root.removeHandler(handler)


def test_json_lines_carry_the_ids_and_the_traceback(json_lines: io.StringIO) -> None:
    with log_ids(request_id="r-1", flow_id="f-1"):
        try:
            raise ValueError("bad")
        except ValueError:
            logging.getLogger("maillon.test").exception("it failed")
    logging.getLogger("maillon.test").warning("outside")
    inside, outside = (json.loads(line) for line in json_lines.getvalue().splitlines())
    assert inside["message"] == "it failed"
    assert (inside["request_id"], inside["flow_id"]) == ("r-1", "f-1")
    assert "run_id" not in inside
    assert "ValueError: bad" in inside["traceback"]
    assert inside["level"] == "ERROR" and inside["time"].endswith("Z")
    assert "request_id" not in outside


def test_a_runs_lines_carry_its_run_event_and_flow_ids(
    make_settings: Callable[..., Settings], json_lines: io.StringIO
) -> None:
    runtime = Runtime(make_settings(), registry=Registry([probe, broken]))
    runtime.open()
    try:
        services = Blocking(runtime.services)
        flow_id, token = make_flow(services, {"key": "x", "action": "broken.explode"})
        accepted = deliver(runtime, token)
        wait_status(runtime, services, accepted.run_ids[0], RunStatus.FAILED)
    finally:
        runtime.close()
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    [line] = [x for x in lines if x["logger"] == "maillon.engine.executor"]
    assert line["run_id"] == accepted.run_ids[0]
    assert line["event_id"] == accepted.event_id
    assert line["flow_id"] == flow_id
    assert "a bug in a connector" in line["traceback"]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_command_logs_in_the_format_chosen(fmt: str) -> None:
    code = (
        f"import logging; from maillon.engine import logs; logs.configure('INFO', {fmt!r});"
        "logs.request_id.set('req-9'); logging.getLogger('maillon.x').info('hello')"
    )
    err = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stderr
    if fmt == "json":
        line = json.loads(err)
        assert (line["message"], line["request_id"], line["logger"]) == (
            "hello",
            "req-9",
            "maillon.x",
        )
    else:
        assert err.rstrip().endswith("INFO maillon.x: hello [request_id=req-9]")
