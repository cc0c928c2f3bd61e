"""What a filter step in front of the HTTP action costs: intake and whole runs, side by side.

    python -m tests.benchmarks.filter_cost                 # 4 rounds of 5 s per phase
    python -m tests.benchmarks.filter_cost --rounds 6 --seconds 8

Two ``maillon serve`` of this checkout, each on its own data directory (SQLite), run the
benchmark flow of :mod:`tests.benchmarks.run`: one as it is, one with a filter step in front
of its HTTP action (``event.amount`` greater than 100, which every benchmark event passes, so
that both post every event to the sink). Rounds alternate between the two, so that a busy
neighbour slows both alike, and the script prints each one's figures and their ratio:

1. intake: ``wrk`` against each hook with no worker running (``--workers 0``);
2. whole runs: ``--workers 1``; ``wrk`` posts for the round's seconds, then the round ends when
   the queue is empty; runs per second are the runs that succeeded over that whole time.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from tests.benchmarks.payload import BODY_TEMPLATE
from tests.benchmarks.run import (
    FLOW_YAML,
    Maillon,
    Processes,
    Settings,
    run_wrk,
    start_sink,
)

ROOT = Path(__file__).resolve().parents[2]

#: The benchmark flow's step, with a filter in front of it.
FILTERED = FLOW_YAML.replace(
    "steps:\n",
    "steps:\n"
    "  - key: big_only\n"
    "    filter:\n"
    "      all:\n"
    '        - {{value: "{{{{ event.amount }}}}", op: greater_than, to: 100}}\n',
)


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.quick_run(intake_seconds=args.seconds)


def _drained(m: Maillon, timeout: float = 300) -> tuple[float, dict[str, int]]:
    """When ``m``'s queue is empty (epoch seconds), and its runs by status then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = m.counts()
        if not counts.get("queued") and not counts.get("running"):
            return time.time(), counts
        time.sleep(0.05)
    raise RuntimeError(f"{m.name}: runs still queued after {timeout:.0f}s: {m.counts()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args(argv)
    s = _settings(args)
    with tempfile.TemporaryDirectory(prefix="maillon-filter-bench-") as tmp:
        workdir = Path(tmp)
        body = workdir / "body.json"
        body.write_bytes(BODY_TEMPLATE)
        procs = Processes(workdir)
        try:
            sink_port = start_sink(procs)
            sink_url = f"http://127.0.0.1:{sink_port}/sink"
            flows = {"plain": FLOW_YAML, "filter": FILTERED}
            servers = {
                name: Maillon(procs, name, workdir, text.format(sink_url=sink_url), None)
                for name, text in flows.items()
            }

            intake: dict[str, list[float]] = {name: [] for name in servers}
            for m in servers.values():
                m.start(workers=0)
                run_wrk(m.url, body, 2, s)  # warm-up
            for _ in range(args.rounds):
                for name, m in servers.items():
                    intake[name].append(run_wrk(m.url, body, args.seconds, s)["rps"])
            for m in servers.values():
                procs.stop(m.name)

            runs: dict[str, list[float]] = {name: [] for name in servers}
            for m in servers.values():
                m.start(workers=1)
            for round_number in range(args.rounds + 1):
                for name, m in servers.items():
                    before = m.counts().get("succeeded", 0)
                    started = time.time()
                    run_wrk(m.url, body, args.seconds, s)
                    done, counts = _drained(m)
                    if round_number:  # the first round warms up
                        runs[name].append((counts.get("succeeded", 0) - before) / (done - started))
                    if counts.get("failed"):
                        raise RuntimeError(f"{m.name}: runs failed: {counts}")
        finally:
            for m in locals().get("servers", {}).values():
                with contextlib.suppress(Exception):
                    m.stop()
            procs.stop_all()

    print("| Phase | without filter | with filter | ratio |")
    print("|---|---:|---:|---:|")
    for label, figures in (("intake, requests/s", intake), ("whole runs, runs/s", runs)):
        plain, filtered = statistics.median(figures["plain"]), statistics.median(figures["filter"])
        print(f"| {label} | {plain:,.0f} | {filtered:,.0f} | {filtered / plain:.3f} |")
    print(f"\n(median of {args.rounds} alternating rounds of {args.seconds} s each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
