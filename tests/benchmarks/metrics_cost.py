"""What metrics cost intake: two ``maillon serve --workers 0`` side by side, one with metrics on
(``MAILLON_METRICS_TOKEN``) and one without, loaded by wrk in alternating rounds so that a noisy
neighbour slows both alike; the ratio of their requests per second is the figure.

    python -m tests.benchmarks.metrics_cost [--rounds 6] [--seconds 8] [--postgres URL]

Prints the figures of each round and the ratio (metrics on / off); it asserts nothing. Metrics
are scraped once per round, as Prometheus would every few seconds, so that the scrape's own
cost (the queue's two queries) is part of what is measured.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.payload import BODY_TEMPLATE
from tests.benchmarks.run import (
    FLOW_YAML,
    Maillon,
    Processes,
    Settings,
    combine_wrk,
    cpu_seconds,
    log,
    run_wrk,
    wrk_missing,
)

TOKEN = "bench-metrics-token"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.metrics_cost")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration of each round")
    parser.add_argument("--postgres", metavar="URL")
    args = parser.parse_args(argv)
    if wrk_missing():
        return 2
    s = Settings.quick_run(args.postgres, intake_seconds=args.seconds)
    workdir = Path(tempfile.mkdtemp(prefix="maillon-bench-metrics-"))
    procs = Processes(workdir)
    body = workdir / "body.json"
    body.write_bytes(BODY_TEMPLATE)
    flow = FLOW_YAML.format(sink_url="http://127.0.0.1:9/sink")  # runs stay queued
    try:
        servers = {
            "off": Maillon(procs, "metrics-off", workdir, flow, s.postgres),
            "on": Maillon(
                procs, "metrics-on", workdir, flow, s.postgres, {"MAILLON_METRICS_TOKEN": TOKEN}
            ),
        }
        for m in servers.values():
            m.start(workers=0)
        for name, m in servers.items():
            log(f"{name}: warm-up 3s")
            run_wrk(m.url, body, 3, s)
        rounds: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
        for i in range(args.rounds):
            # Alternate which goes first, so that neither always follows the other's load.
            order = ["off", "on"] if i % 2 == 0 else ["on", "off"]
            for name in order:
                m = servers[name]
                cpu0 = cpu_seconds(m.pid)
                r = run_wrk(m.url, body, args.seconds, s)
                r["server_cpu_s"] = cpu_seconds(m.pid) - cpu0
                r["foreign_cores"] = {"others": 0.0, "steal": 0.0}
                rounds[name].append(r)
                log(f"round {i + 1} {name}: {r['rps']:,.0f} requests/s")
            status, _ = _scrape(servers["on"].port)
            if status != 200:
                raise RuntimeError(f"/metrics answered {status}")
        combined = {name: combine_wrk(rs) for name, rs in rounds.items()}
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    off, on = combined["off"], combined["on"]
    print("| metrics | requests/s | p50 (ms) | p99 (ms) | server CPU % |")
    print("|---|---:|---:|---:|---:|")
    for name, c in (("off", off), ("on", on)):
        print(
            f"| {name} | {c['rps']:,.0f} | {c['p50_us'] / 1000:.1f} | {c['p99_us'] / 1000:.1f} "
            f"| {c['server_cpu_percent']:.0f} |"
        )
    per_round = [a["rps"] / b["rps"] for a, b in zip(rounds["on"], rounds["off"], strict=True)]
    print(
        f"\nratio on/off: {on['rps'] / off['rps']:.3f} (rounds: "
        + ", ".join(f"{r:.3f}" for r in per_round)
        + f"); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    return 0


def _scrape(port: int) -> tuple[int, Any]:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, answer.read()


if __name__ == "__main__":
    sys.exit(main())
