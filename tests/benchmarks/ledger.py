"""What the queue's statements cost a writer: a claim, the step records that end runs, an empty
claim. In-process, on a real SQLite file, with nothing else running.

    python -m tests.benchmarks.ledger                # batches of 16 runs, 300 rounds
    python -m tests.benchmarks.ledger --batch 64 --rounds 100

Each round queues ``--batch`` runs of the suite's flow through intake (as deliveries of its
webhook), then times, each inside its own write transaction as the writer thread runs them:
one :class:`~maillon.engine.queue.ClaimRuns` that takes them all, one batch of
:class:`~maillon.engine.queue.RecordStep` that records each run's step (the suite's rendered
request and the sink's answer) and ends it, and one claim that finds nothing. It prints the
best and the median round, per run and per claim: the work of the statements and of SQLite,
without the event loop, the GIL hand-offs or other processes that the end-to-end benchmarks
also measure. Compare two commits by running it on each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from maillon.engine.db import for_writes
from maillon.engine.flows import FlowDocument
from maillon.engine.models import RunStatus, StepStatus
from maillon.engine.queue import ClaimRuns, RecordStep, StepRecord
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.benchmarks.payload import BODY_TEMPLATE
from tests.benchmarks.run import FLOW_YAML

OWNER = "bench-worker"
LEASE = 60.0
#: What the suite's step records: the request it sent, the sink's answer.
SENT = {
    "method": "POST",
    "url": "http://127.0.0.1:9/sink",
    "headers": {"Content-Type": "application/json"},
    "json_body": {
        "id": "00000000-0000-0000-0000-000000000001",
        "sent_at": "1764495600.123456",
        "text": "Jeanne Martin invested €150,000.00",
        "fundraise": "5f3c2a1b-8d4e-4f6a-9b7c-1e2d3f4a5b6c",
    },
}
ANSWER = {"status_code": 200, "headers": {"content-type": "text/plain"}, "body": "ok"}


def _queue(runtime: Runtime, token: str, count: int) -> None:
    body = json.loads(BODY_TEMPLATE)
    text = json.dumps(body)
    meta = {"method": "POST", "query": {}, "headers": {}}

    async def deliver() -> None:
        hooks = runtime.services.hooks
        await asyncio.gather(*(hooks.webhook(token, body, text, meta) for _ in range(count)))

    asyncio.run(deliver())


def _timed(runtime: Runtime, op: Callable[[Any], Any]) -> tuple[float, Any]:
    """Seconds ``op(conn)`` took inside a write transaction, and what it returned."""
    with for_writes(runtime.db).begin() as conn:
        started = time.perf_counter()
        result = op(conn)
        return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.ledger", description=__doc__)
    parser.add_argument("--batch", type=int, default=16, help="runs per round")
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="maillon-ledger-") as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="bench", workers=0)
        runtime = Runtime(settings)
        runtime.open()
        try:
            flow = yaml.safe_load(FLOW_YAML.format(sink_url="http://127.0.0.1:9/sink"))
            saved = asyncio.run(runtime.services.flows.save(FlowDocument.model_validate(flow)))
            token = saved.row.hook_token
            claims, records, empty = [], [], []
            for _ in range(args.rounds):
                _queue(runtime, token, args.batch)
                took, claimed = _timed(runtime, ClaimRuns(OWNER, args.batch, LEASE).apply)
                if len(claimed.runs) != args.batch:
                    raise RuntimeError(f"claimed {len(claimed.runs)} of {args.batch} runs")
                claims.append(took)
                now = time.time()
                step = StepRecord("notify", 0, StepStatus.SUCCEEDED, 1, now, now, SENT, ANSWER)
                ops: list[Any] = [
                    RecordStep(run.id, OWNER, LEASE, step, RunStatus.SUCCEEDED)
                    for run in claimed.runs
                ]
                took, results = _timed(runtime, partial(RecordStep.apply_many, ops=ops))
                if results != [0] * args.batch:
                    raise RuntimeError(f"step records failed: {results}")
                records.append(took)
                took, none = _timed(runtime, ClaimRuns(OWNER, args.batch, LEASE).apply)
                if none.runs:
                    raise RuntimeError("a claim found runs that were all taken")
                empty.append(took)
        finally:
            runtime.close()

    def line(what: str, values: list[float], per: int) -> str:
        best, median = min(values) * 1e6 / per, statistics.median(values) * 1e6 / per
        return f"{what}: best {best:.1f} µs, median {median:.1f} µs"

    n = args.batch
    print(f"{args.rounds} rounds of {n} runs, SQLite on a temporary directory")
    print(line(f"claim of {n} runs, per run", claims, n))
    print(line(f"step records ending {n} runs, per run", records, n))
    print(line("claim that finds nothing", empty, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
