"""Maillon as a fleet on PostgreSQL: a web-only process in front, worker processes behind.

    python -m tests.benchmarks.fleet --postgres postgresql://postgres@127.0.0.1:5432/postgres

Two measurements, printed as Markdown tables:

1. **Wake-up latency.** ``maillon serve --workers 0`` takes the webhooks; two ``maillon worker``
   processes execute the runs. Events are paced (an open loop at a low rate, so that every event
   finds the workers idle) and the flow's HTTP step posts to the sink, which notes the time from
   sending to arrival. The same fleet runs with ``MAILLON_PG_NOTIFY=false`` alongside, in
   alternating rounds: what the workers' poll alone gives.
2. **Throughput with 1, 2 and 4 worker processes.** ``wrk`` loads the web process for a fixed
   time; the report gives the webhooks accepted per second, the actions delivered per second
   while the load lasted, how long the backlog took to drain, and the CPU of each process (the
   web process, the workers together, and everything else: PostgreSQL, wrk, the sink), so
   that a reader sees where the next bottleneck is.

Everything runs on 127.0.0.1 and is stopped at the end (see tests/benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.loadgen import summarize
from tests.benchmarks.payload import BODY_TEMPLATE
from tests.benchmarks.run import (
    FLOW_YAML,
    Foreign,
    Maillon,
    Processes,
    cpu_seconds,
    http_get,
    log,
    run_loadgen,
    run_wrk,
    start_sink,
    wrk_missing,
)
from tests.benchmarks.run import Settings as RunSettings

__all__ = ["main"]


class Fleet:
    """A web-only Maillon and ``workers`` worker processes on one fresh PostgreSQL database."""

    def __init__(
        self, procs: Processes, name: str, workdir: Path, flow_yaml: str, postgres: str, **env: str
    ) -> None:
        self.web = Maillon(procs, name, workdir, flow_yaml, postgres)
        self.web.env.update(env)
        self.procs = procs
        self.workers: list[str] = []

    def start(self, workers: int) -> None:
        self.web.start(workers=0)
        for i in range(workers):
            name = f"{self.web.name}-worker{i}"
            self.procs.start(name, [*Maillon.command(), "worker"], self.web.env)
            self.workers.append(name)
        time.sleep(2)  # let the workers migrate-check, connect and start listening

    def worker_pids(self) -> list[int]:
        return [self.procs.children[name].pid for name in self.workers]

    def queued(self) -> int:
        counts = self.web.counts()
        return counts.get("queued", 0) + counts.get("running", 0)

    def stop(self) -> None:
        for name in self.workers:
            self.procs.stop(name)
        self.workers.clear()
        self.web.stop()


def reset_sink(sink_port: int) -> int:
    """Empty the sink's latency records; return its request count so far, which a reset keeps
    (the main suite counts every request since the sink started): the baseline of a round."""
    _, answer = http_get(sink_port, "/reset", "POST")
    return int(answer["total"])


def delivered(sink_port: int, baseline: int) -> int:
    """Requests the sink has received since the reset that returned ``baseline``."""
    _, stats = http_get(sink_port, "/stats")
    return int(stats["total"]) - baseline


def wait_sink(sink_port: int, baseline: int, expected: int, timeout: float) -> float | None:
    """Seconds until the sink has seen ``expected`` requests since the reset that returned
    ``baseline`` (None: timed out)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if delivered(sink_port, baseline) >= expected:
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def latency(
    procs: Processes, workdir: Path, flow_yaml: str, args: argparse.Namespace, sink_port: int
) -> dict[str, Any]:
    """Paced events through web + 2 workers, with and without NOTIFY, in alternating rounds."""
    fleets = {
        "notify": Fleet(procs, "fleet-notify", workdir, flow_yaml, args.postgres),
        "poll": Fleet(
            procs, "fleet-poll", workdir, flow_yaml, args.postgres, MAILLON_PG_NOTIFY="false"
        ),
    }
    latencies: dict[str, list[float]] = {name: [] for name in fleets}
    try:
        for name, fleet in fleets.items():
            fleet.start(workers=2)
            # Warm up: the first events would otherwise also time the workers' start-up.
            baseline = reset_sink(sink_port)
            warm = run_loadgen(fleet.web.url, args.rate, 2, warmup=0)
            if wait_sink(sink_port, baseline, warm["ok_total"], 30) is None:
                raise RuntimeError(f"{name}: the warm-up events did not all reach the sink")
        for i in range(args.rounds):
            for name, fleet in fleets.items():
                log(f"latency, {name}: round {i + 1}/{args.rounds}, {args.rate}/s")
                baseline = reset_sink(sink_port)
                r = run_loadgen(fleet.web.url, args.rate, args.seconds, warmup=0)
                if wait_sink(sink_port, baseline, r["ok_total"], 30) is None:
                    raise RuntimeError(f"{name}: not every event reached the sink")
                _, dump = http_get(sink_port, "/dump")
                latencies[name].extend(dump["latencies_ms"])
    finally:
        for fleet in fleets.values():
            fleet.stop()
    return {name: summarize(values) for name, values in latencies.items()}


def throughput(
    procs: Processes,
    workdir: Path,
    flow_yaml: str,
    args: argparse.Namespace,
    sink_port: int,
    body_file: Path,
) -> list[dict[str, Any]]:
    """wrk against the web process for ``--load-seconds``, with 1, 2 and 4 worker processes."""
    rows = []
    wrk = RunSettings.quick_run(args.postgres)
    for count in args.workers:
        fleet = Fleet(procs, f"fleet-{count}w", workdir, flow_yaml, args.postgres)
        try:
            fleet.start(workers=count)
            baseline = reset_sink(sink_port)
            pids = {"web": [fleet.web.pid], "workers": fleet.worker_pids()}
            cpu0 = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
            foreign = Foreign(procs)
            log(f"throughput: {count} worker process(es), wrk for {args.load_seconds}s")
            started = time.monotonic()
            r = run_wrk(fleet.web.url, body_file, args.load_seconds, wrk)
            load_wall = time.monotonic() - started
            cores = {
                k: (sum(cpu_seconds(p) for p in v) - cpu0[k]) / load_wall for k, v in pids.items()
            }
            others = foreign.cores()
            delivered_during = delivered(sink_port, baseline)
            # Counted in the database (fresh for each fleet), not from wrk's answers: a request
            # still in flight when wrk stops may be stored without being counted by wrk.
            accepted = fleet.web.counts()["events"]
            drain = wait_sink(sink_port, baseline, accepted, 300)
            rows.append(
                {
                    "workers": count,
                    "accepted_per_s": accepted / load_wall,
                    "delivered_per_s": delivered_during / load_wall,
                    "drain_s": drain,
                    "cores_web": cores["web"],
                    "cores_workers": cores["workers"],
                    "cores_others": others["others"],
                    "steal": others["steal"],
                    "queued_at_end": fleet.queued(),
                    "refused": r["errors"],
                }
            )
        finally:
            fleet.stop()
    return rows


def report(lat: dict[str, Any], rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    out = [
        f"Machine: {os.cpu_count()} cores. Command: `python -m tests.benchmarks.fleet "
        f"--postgres {args.postgres}`.",
        "",
        f"**Wake-up latency**, web-only process + 2 worker processes, {args.rate} events/s, "
        f"{args.rounds} rounds of {args.seconds} s per variant "
        "(webhook sent → HTTP action received):",
        "",
        "| | p50 | p90 | p99 | max | events |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, label in (("notify", "NOTIFY (default)"), ("poll", "poll only (PG_NOTIFY=false)")):
        s = lat[name]
        out.append(
            f"| {label} | {s['p50']:.1f} ms | {s['p90']:.1f} ms | {s['p99']:.1f} ms | "
            f"{s['max']:.1f} ms | {s['n']} |"
        )
    out += [
        "",
        f"**Throughput**, wrk (32 connections) for {args.load_seconds} s against the web process:",
        "",
        "| worker processes | accepted/s | delivered/s during load | backlog drained in | "
        "CPU web | CPU workers | CPU other (PostgreSQL, wrk, sink) | steal | wrk errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        drain = "—" if r["drain_s"] is None else f"{r['drain_s']:.1f} s"
        out.append(
            f"| {r['workers']} | {r['accepted_per_s']:,.0f} | {r['delivered_per_s']:,.0f} | "
            f"{drain} | {r['cores_web']:.2f} | {r['cores_workers']:.2f} | "
            f"{r['cores_others']:.2f} | {r['steal']:.2f} | {r['refused']} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.fleet")
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres", metavar="URL"
    )
    parser.add_argument("--rate", type=int, default=20, help="paced events per second")
    parser.add_argument("--seconds", type=int, default=5, help="per latency round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--load-seconds", type=int, default=10)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--max-seconds", type=int, default=900)
    args = parser.parse_args(argv)
    if not args.skip_throughput and wrk_missing():
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="maillon-fleet-"))
    procs = Processes(workdir)
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("over --max-seconds"))
    signal.alarm(args.max_seconds)
    try:
        body_file = workdir / "body.json"
        body_file.write_bytes(BODY_TEMPLATE)
        sink_port = start_sink(procs)
        flow_yaml = FLOW_YAML.format(sink_url=f"http://127.0.0.1:{sink_port}/sink")
        lat = latency(procs, workdir, flow_yaml, args, sink_port)
        rows = (
            []
            if args.skip_throughput
            else throughput(procs, workdir, flow_yaml, args, sink_port, body_file)
        )
    except BaseException as exc:
        procs.log_abort(exc)
        return 1
    finally:
        signal.alarm(0)
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    print(report(lat, rows, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
