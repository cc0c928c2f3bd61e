"""Delivered work, side by side: Maillon, Node-RED and a bare endpoint, same machine, same run.

    python -m tests.benchmarks.versus              # wrk 32 connections for 20 s per system
    python -m tests.benchmarks.versus --seconds 8  # shorter

Every system gets the same work: a webhook whose flow renders a template from the Particeep body
and POSTs it to the local sink (tests/benchmarks/sink.py). For Maillon that is the suite's flow
(``FLOW_YAML`` of tests/benchmarks/run.py) under ``maillon serve`` as installed (SQLite, its
worker processes); for Node-RED the flow ``http in → template → http request (the sink) →
http response``, on Node-RED installed from npm into ``~/.cache/maillon-bench/node-red``
(skipped, with the reason, when npm is not there). The bare Litestar endpoint stores and delivers
nothing: it is intake's ceiling.

Per system: accepted/s under wrk; actions delivered per second while wrk runs (arrivals at the
sink inside wrk's window); how long after wrk stops the last accepted event reaches the sink
(Node-RED answers after delivering, so it has no backlog; it keeps nothing either); end-to-end
p50/p99 at a paced 1,000 events/s (for Maillon also stage by stage, from the timestamps its
runs and steps record); the CPU each process took per event under wrk; memory of every process
of the system (RSS idle and at the peak of the load, and PSS, which counts the pages processes
share once). Maillon with ``--workers 0`` (no execution) measures intake alone against the bare
endpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.benchmarks.loadgen import summarize
from tests.benchmarks.payload import BODY_TEMPLATE
from tests.benchmarks.run import (
    FLOW_YAML,
    ROOT,
    Maillon,
    Processes,
    Settings,
    cpu_seconds,
    free_port,
    http_get,
    log,
    process_tree,
    run_loadgen,
    run_wrk,
    start_sink,
    wait_http,
    wrk_missing,
)

NODE_RED_DIR = Path.home() / ".cache" / "maillon-bench" / "node-red"
NODE_RED_VERSION = "4"


# -- memory of a system: its processes ------------------------------------------------------


def _kb(path: str, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def memory(pid: int) -> dict[str, Any]:
    """RSS of each process of the tree at ``pid``, their sum, and the sum of their PSS (MB)."""
    pids = process_tree(pid)
    rss = [_kb(f"/proc/{p}/status", "VmRSS") / 1024 for p in pids]
    pss = sum(_kb(f"/proc/{p}/smaps_rollup", "Pss") for p in pids) / 1024
    return {"rss": [round(r, 1) for r in rss], "rss_sum": sum(rss), "pss_sum": pss}


class PeakMemory(threading.Thread):
    """Samples :func:`memory` every 0.25 s; keeps the sample with the largest RSS sum."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak: dict[str, Any] = memory(pid)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.25):
            sample = memory(self.pid)
            if sample["rss_sum"] > self.peak["rss_sum"]:
                self.peak = sample | {"pss_sum": max(sample["pss_sum"], self.peak["pss_sum"])}

    def stop(self) -> dict[str, Any]:
        self._stop_event.set()
        self.join(5)
        return self.peak


# -- Node-RED -------------------------------------------------------------------------------


def install_node_red() -> tuple[Path | None, str]:
    """Node-RED's ``red.js`` (installed from npm into the cache on first use), or ``None`` and
    why not."""
    red = NODE_RED_DIR / "node_modules" / "node-red" / "red.js"
    if red.exists():
        return red, ""
    if shutil.which("npm") is None or shutil.which("node") is None:
        return None, "npm and node are not installed"
    NODE_RED_DIR.mkdir(parents=True, exist_ok=True)
    log(f"installing node-red@{NODE_RED_VERSION} into {NODE_RED_DIR}")
    out = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", f"node-red@{NODE_RED_VERSION}"],
        cwd=NODE_RED_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode != 0 or not red.exists():
        return None, "npm install node-red failed: " + (out.stderr.strip().splitlines() or ["?"])[
            -1
        ]
    return red, ""


def node_red_version(red: Path) -> str:
    package = json.loads((red.parent / "package.json").read_text())
    return str(package["version"])


# The same work as Maillon's flow: render the body's fields into a JSON template, POST it to the
# sink, answer the webhook. The change node drops the sink's response headers, which the
# http response node would otherwise send back as its own.
def node_red_flow(sink_url: str) -> list[dict[str, Any]]:
    template = (
        '{"id":"{{payload.id}}","sent_at":"{{payload.custom.bench_sent_at}}",'
        '"text":"{{payload.custom.investor_name}} invested {{payload.amount}}",'
        '"fundraise":"{{payload.fundraise_id}}"}'
    )
    return [
        {"id": "tab", "type": "tab", "label": "bench"},
        {
            "id": "in",
            "type": "http in",
            "z": "tab",
            "url": "/hooks/bench",
            "method": "post",
            "wires": [["render"]],
        },
        {
            "id": "render",
            "type": "template",
            "z": "tab",
            "field": "payload",
            "fieldType": "msg",
            "format": "handlebars",
            "syntax": "mustache",
            "template": template,
            "output": "json",
            "wires": [["send"]],
        },
        {
            "id": "send",
            "type": "http request",
            "z": "tab",
            "method": "POST",
            "ret": "txt",
            "url": sink_url,
            "wires": [["clean"]],
        },
        {
            "id": "clean",
            "type": "change",
            "z": "tab",
            "rules": [{"t": "delete", "p": "headers", "pt": "msg"}],
            "wires": [["out"]],
        },
        {"id": "out", "type": "http response", "z": "tab", "statusCode": "200", "wires": []},
    ]


def start_node_red(procs: Processes, red: Path, workdir: Path, sink_url: str) -> tuple[int, int]:
    """Start Node-RED with the flow; return (its pid, its port)."""
    user_dir = workdir / "node-red"
    user_dir.mkdir()
    (user_dir / "flows.json").write_text(json.dumps(node_red_flow(sink_url)))
    port = free_port()
    (user_dir / "settings.js").write_text(
        "module.exports = { flowFile: 'flows.json', httpAdminRoot: false, "
        "logging: { console: { level: 'warn' } } };\n"
    )
    argv = ["node", str(red), "--userDir", str(user_dir), "--port", str(port)]
    argv += ["--settings", str(user_dir / "settings.js")]
    proc = procs.start("node-red", argv, dict(os.environ))
    # No health route: the hook answers once the flow is deployed.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Node-RED exited:\n{procs.log_tail('node-red')}")
        # Any answer will do (an empty body is not JSON: Node-RED answers with an error page).
        with contextlib.suppress(OSError, ValueError):
            if http_get(port, "/hooks/bench", "POST")[0]:
                return proc.pid, port
        time.sleep(0.2)
    raise RuntimeError("Node-RED did not answer on its hook within 60 s")


# -- the measures ---------------------------------------------------------------------------


@dataclass
class System:
    """What was measured of one system."""

    name: str
    idle: dict[str, Any] = field(default_factory=dict)
    peak: dict[str, Any] = field(default_factory=dict)
    wrk: dict[str, Any] = field(default_factory=dict)
    accepted: int = 0
    delivered_in_window: int = 0
    drain_s: float | None = None
    paced: dict[str, Any] = field(default_factory=dict)
    #: CPU (µs) per event accepted under wrk, of each process (Maillon: web, then workers).
    cpu_us: list[float] = field(default_factory=list)
    #: Maillon only: where the paced runs' time went, stage by stage (see :func:`stages`).
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    note: str = ""


def sink_arrivals(sink_port: int) -> list[float]:
    return list(http_get(sink_port, "/dump")[1]["arrivals"])


def wait_delivered(sink_port: int, expected: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http_get(sink_port, "/stats")[1]["total"] >= expected:
            return True
        time.sleep(0.05)
    return False


def sink_total(sink_port: int) -> int:
    return int(http_get(sink_port, "/stats")[1]["total"])


def load(
    system: System,
    pid: int,
    url: str,
    sink_port: int,
    body_file: Path,
    s: Settings,
    stored: Callable[[], int] | None,
) -> None:
    """wrk at full speed, then the backlog, then a paced 1,000/s; fills ``system``.

    ``stored``: how many events the system has stored (Maillon: what it accepted); ``None``
    for a system that answers once it has delivered (Node-RED: what wrk saw answered).
    """

    def wrk(seconds: int) -> tuple[dict[str, Any], int]:
        """wrk for ``seconds``; its result and how many events the system accepted."""
        before = stored() if stored is not None else 0
        r = run_wrk(url, body_file, seconds, s)
        return r, (stored() - before if stored is not None else wrk_ok(r))

    system.idle = memory(pid)
    base = sink_total(sink_port)
    _, warm = wrk(2)  # warm-up: connections, caches, lazy imports
    wait_delivered(sink_port, base + warm, 60)
    http_get(sink_port, "/reset", "POST")
    base = sink_total(sink_port)
    peak = PeakMemory(pid)
    peak.start()
    pids = process_tree(pid)
    cpu = [cpu_seconds(p) for p in pids]
    start = time.time()
    system.wrk, system.accepted = wrk(s.intake_seconds)
    system.cpu_us = [
        (cpu_seconds(p) - before) * 1e6 / max(system.accepted, 1)
        for p, before in zip(pids, cpu, strict=True)
    ]
    end = start + system.wrk["duration_us"] / 1e6
    drained = wait_delivered(sink_port, base + system.accepted, 120)
    system.peak = peak.stop()
    arrivals = sink_arrivals(sink_port)
    system.delivered_in_window = sum(1 for t in arrivals if start <= t <= end)
    system.drain_s = max(0.0, max(arrivals) - end) if drained and arrivals else None
    # Paced: the open-loop generator at 1,000 events/s, every latency measured by the sink.
    http_get(sink_port, "/reset", "POST")
    base = sink_total(sink_port)
    r = run_loadgen(url, 1000, s.fixed_seconds, warmup=1)
    wait_delivered(sink_port, base + r["ok_total"], 60)
    system.paced = {
        "intake": r,
        "e2e_ms": summarize(http_get(sink_port, "/dump")[1]["latencies_ms"]),
    }


#: A run's way from intake to its end, as its own timestamps tell: the run is created in the
#: intake transaction, started when first claimed; its step starts before its input is rendered
#: and ends when the sink has answered; the run ends when its last step is recorded.
_STAGES = {
    "queued -> claimed": "r.started_at - r.created_at",
    "claimed -> step starts": "s.started_at - r.started_at",
    "step (render, POST)": "s.finished_at - s.started_at",
    "step -> run recorded": "r.finished_at - s.finished_at",
}


def stages(m: Maillon, since: float) -> dict[str, dict[str, float]]:
    """p50/p99 of each stage (ms) of the runs ``m`` created since ``since`` and finished."""
    columns = ", ".join(_STAGES.values())
    sql = (
        f"SELECT {columns} FROM runs r JOIN steps s ON s.run_id = r.id "
        "WHERE r.created_at >= ? AND r.finished_at IS NOT NULL"
    )
    with contextlib.closing(m.db()) as db:
        rows = db.execute(sql, (since,)).fetchall()
    return {name: summarize([row[i] * 1000 for row in rows]) for i, name in enumerate(_STAGES)}


def wrk_ok(r: dict[str, Any]) -> int:
    return int(r["requests"] - r["status_errors"])


def measure(s: Settings, workdir: Path, procs: Processes, processes: int | None) -> dict[str, Any]:
    body_file = workdir / "body.json"
    body_file.write_bytes(BODY_TEMPLATE)
    py_env = dict(os.environ, PYTHONPATH=str(ROOT))
    sink_port = start_sink(procs)
    sink_url = f"http://127.0.0.1:{sink_port}/sink"
    out: dict[str, Any] = {"loadavg_start": os.getloadavg()}

    # The bare endpoint: intake's ceiling.
    from maillon.web.cli import UVICORN_OPTIONS

    bare_port = free_port()
    argv = [sys.executable, "-m", "tests.benchmarks.bare", "--port", str(bare_port)]
    bare = procs.start("bare", [*argv, "--options", json.dumps(UVICORN_OPTIONS)], py_env)
    wait_http(bare_port, "/healthz", bare)
    b = System("bare Litestar endpoint", idle=memory(bare.pid))
    log(f"bare endpoint: wrk {s.connections} connections, {s.intake_seconds} s")
    run_wrk(f"http://127.0.0.1:{bare_port}/hooks/bench", body_file, 2, s)
    peak = PeakMemory(bare.pid)
    peak.start()
    b.wrk = run_wrk(f"http://127.0.0.1:{bare_port}/hooks/bench", body_file, s.intake_seconds, s)
    b.peak = peak.stop()
    b.accepted = wrk_ok(b.wrk)
    procs.stop("bare")

    settings = {} if processes is None else {"MAILLON_WORKER_PROCESSES": str(processes)}
    flow = FLOW_YAML.format(sink_url=sink_url)

    # Maillon, intake alone (no execution): against the bare endpoint.
    intake = Maillon(procs, "maillon-intake", workdir, flow, None, settings)
    intake.start(workers=0)
    log(f"Maillon intake alone: wrk {s.connections} connections, {s.intake_seconds} s")
    run_wrk(intake.url, body_file, 2, s)
    mi = run_wrk(intake.url, body_file, s.intake_seconds, s)
    intake.stop()

    # Maillon as installed: web process and its worker processes.
    m = Maillon(procs, "maillon", workdir, flow, None, settings)
    m.start(workers=1)
    time.sleep(3)  # the worker processes are up and idle
    ms = System("Maillon (serve on SQLite)")
    log(f"Maillon: wrk {s.connections} connections, {s.intake_seconds} s, then 1,000/s")
    load(ms, m.pid, m.url, sink_port, body_file, s, lambda: m.counts()["events"])
    ms.stages = stages(m, ms.paced["intake"]["window"][0])
    ms.note = f"web process + {len(process_tree(m.pid)) - 1} worker processes"
    m.stop()

    systems = [ms]
    red, why = install_node_red()
    if red is None:
        out["node_red_skipped"] = why
        log(f"Node-RED skipped: {why}")
    else:
        pid, port = start_node_red(procs, red, workdir, sink_url)
        time.sleep(2)
        n = System(f"Node-RED {node_red_version(red)} (not durable)")
        url = f"http://127.0.0.1:{port}/hooks/bench"
        log(f"Node-RED: wrk {s.connections} connections, {s.intake_seconds} s, then 1,000/s")
        load(n, pid, url, sink_port, body_file, s, None)
        procs.stop("node-red")
        systems.append(n)
    procs.stop("sink")
    out.update(
        bare=vars(b),
        maillon_intake=mi,
        systems=[vars(x) for x in systems],
        loadavg_end=os.getloadavg(),
    )
    return out


def report(res: dict[str, Any], s: Settings, command: str) -> str:
    bare, mi = res["bare"], res["maillon_intake"]
    rows = []
    for x in res["systems"]:
        secs = x["wrk"]["duration_us"] / 1e6
        pe = x["paced"]["e2e_ms"]
        name = f"{x['name']}, {x['note']}" if x["note"] else x["name"]
        drain = "-" if x["drain_s"] is None else f"{x['drain_s']:.1f} s"
        rows.append(
            f"| {name} | {x['accepted'] / secs:,.0f} | {x['delivered_in_window'] / secs:,.0f} "
            f"| {drain} "
            f"| {pe['p50']:.1f} / {pe['p99']:.1f} "
            f"| {' + '.join(f'{r:.0f}' for r in x['idle']['rss'])} "
            f"| {x['peak']['rss_sum']:.0f} ({x['peak']['pss_sum']:.0f}) |"
        )
    bsecs = bare["wrk"]["duration_us"] / 1e6
    rows.append(
        f"| {bare['name']} (stores and delivers nothing) | {bare['accepted'] / bsecs:,.0f} | - | - "
        f"| - | {bare['idle']['rss'][0]:.0f} | {bare['peak']['rss_sum']:.0f} "
        f"({bare['peak']['pss_sum']:.0f}) |"
    )
    lines = [
        "| | accepted/s | delivered/s during the load | backlog gone after the load | "
        "e2e p50 / p99 at 1,000/s (ms) | RSS idle (MB, per process) | peak RSS sum (PSS) MB |",
        "|---|---:|---:|---|---:|---|---:|",
        *rows,
        "",
        f"Intake alone (Maillon `--workers 0`): {mi['rps']:,.0f} requests/s, "
        f"{mi['rps'] / (bare['accepted'] / bsecs):.2f} x the bare endpoint.",
    ]
    systems = res["systems"]
    cpu = [
        f"{x['name'].split(' (')[0]} {' + '.join(f'{c:.0f}' for c in x['cpu_us'])}"
        + (f" = {sum(x['cpu_us']):.0f}" if len(x["cpu_us"]) > 1 else "")
        for x in systems
    ]
    lines.append(f"CPU per event accepted under wrk (µs, per process): {'; '.join(cpu)}.")
    if systems[0]["stages"]:
        parts = [f"{k} {v['p50']:.1f} / {v['p99']:.1f}" for k, v in systems[0]["stages"].items()]
        lines.append(f"Maillon at 1,000/s, p50 / p99 (ms) per stage of a run: {'; '.join(parts)}.")
    if len(systems) == 2:
        m, n = systems
        ratio = (m["delivered_in_window"] / (m["wrk"]["duration_us"] / 1e6)) / max(
            n["delivered_in_window"] / (n["wrk"]["duration_us"] / 1e6), 1e-9
        )
        lines.append(f"Delivered during the load: Maillon {ratio:.2f} x Node-RED.")
    elif "node_red_skipped" in res:
        lines.append(f"Node-RED skipped: {res['node_red_skipped']}.")
    la0, la1 = res["loadavg_start"], res["loadavg_end"]
    lines.append(
        f"wrk {s.wrk_threads} threads, {s.connections} connections, {s.intake_seconds} s per "
        f"system; {os.cpu_count()} cores; load average {la0[0]:.2f} at the start, "
        f"{la1[0]:.2f} at the end. Command: `{command}`"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.versus", description=__doc__)
    parser.add_argument("--seconds", type=int, default=20, help="wrk duration per system")
    parser.add_argument("--paced-seconds", type=int, default=10, help="seconds at 1,000/s")
    parser.add_argument("--worker-processes", type=int, help="Maillon's (default: its own)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    if wrk_missing():
        return 2
    s = Settings.quick_run(intake_seconds=args.seconds)
    s.fixed_seconds = args.paced_seconds
    command = f"python -m tests.benchmarks.versus --seconds {args.seconds}"
    workdir = Path(tempfile.mkdtemp(prefix="maillon-versus-"))
    procs = Processes(workdir)
    try:
        res = measure(s, workdir, procs, args.worker_processes)
    except BaseException as exc:
        procs.log_abort(exc)
        return 1
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    text = report(res, s, command)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(res | {"report": text}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
