"""Maillon's benchmark suite: one command starts everything it needs, measures, prints a table.

    python -m tests.benchmarks.run            # the full run (about 7 minutes)
    python -m tests.benchmarks.run --quick    # a short smoke run (about 2 minutes)

What it starts, all on 127.0.0.1 and all stopped at the end (or on Ctrl-C, or when the
``--max-seconds`` budget runs out):

- ``maillon serve`` of this checkout on a temporary data directory (SQLite, WAL,
  ``synchronous=FULL`` as engine/db.py sets it; or, with ``--postgres URL``, a fresh database
  of its own on that PostgreSQL server), once with ``--workers 0`` for pure intake (runs stay
  queued) and once with ``--workers 1`` for end-to-end measurements (runs executed by the
  worker processes it starts, one per core; its memory is the sum over all its processes);
- a bare Litestar hook endpoint (tests/benchmarks/bare.py) under uvicorn with the same options;
- an HTTP sink (tests/benchmarks/sink.py) that the flow's ``http.send_request`` step POSTs to.

Load comes from separate processes: ``wrk`` (closed loop, 32 connections) and
tests/benchmarks/loadgen.py (open loop at a fixed rate; its lag and CPU are reported).
See tests/benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.benchmarks.loadgen import summarize
from tests.benchmarks.payload import BODY_TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MB = 1024 * 1024

FLOW_YAML = """\
name: Benchmark - transaction to HTTP
description: Every Particeep transaction_created event is POSTed to the benchmark sink.
steps:
  - key: notify
    action: http.send_request
    input:
      method: POST
      url: {sink_url}
      json_body:
        id: "{{{{ event.id }}}}"
        sent_at: "{{{{ event.custom.bench_sent_at }}}}"
        text: "{{{{ event.custom.investor_name }}}} invested {{{{ event.amount | money('EUR') }}}}"
        fundraise: "{{{{ event.fundraise_id }}}}"
"""


class BudgetExceeded(Exception):
    """The run took longer than --max-seconds."""


@dataclass
class Settings:
    """Durations and rates of one run."""

    quick: bool
    intake_seconds: int
    intake_rounds: int
    warmup_seconds: int
    fixed_rate: int
    fixed_seconds: int
    e2e_rates: tuple[int, ...]
    e2e_seconds: int
    ramp_start: int
    ramp_factor: float
    ramp_max: int
    ramp_seconds: int
    memory_events: int
    connections: int
    wrk_threads: int
    #: A PostgreSQL server URL: each Maillon gets a database of its own there instead of SQLite.
    postgres: str | None

    @classmethod
    def quick_run(cls, postgres: str | None = None, intake_seconds: int | None = None) -> Settings:
        """Quick settings for another benchmark script that drives ``wrk`` and the load
        generator with this suite's defaults (the ramp is not used)."""
        return cls.make(
            argparse.Namespace(
                quick=True,
                intake_seconds=intake_seconds,
                ramp_start=200,
                ramp_factor=1.25,
                ramp_max=3000,
                memory_events=None,
                wrk_threads=2,
                postgres=postgres,
            )
        )

    @classmethod
    def make(cls, args: argparse.Namespace) -> Settings:
        quick = args.quick
        return cls(
            quick=quick,
            intake_seconds=args.intake_seconds or (8 if quick else 20),
            intake_rounds=4,
            warmup_seconds=2 if quick else 3,
            fixed_rate=1000,
            fixed_seconds=5 if quick else 20,
            e2e_rates=(100, 500),
            e2e_seconds=5 if quick else 15,
            ramp_start=args.ramp_start,
            ramp_factor=args.ramp_factor,
            ramp_max=args.ramp_max,
            ramp_seconds=5 if quick else 10,
            memory_events=args.memory_events or (10_000 if quick else 100_000),
            connections=32,
            wrk_threads=args.wrk_threads,
            postgres=args.postgres,
        )


# -- processes -----------------------------------------------------------------------------


class Processes:
    """Children of this run, each in its own session; stopped by pid, never by name."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.children[name] = proc
        return proc

    def stop(self, name: str, timeout: float = 15) -> None:
        proc = self.children.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def stop_all(self) -> None:
        for name in list(self.children):
            self.stop(name)

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def log_abort(self, exc: BaseException) -> None:
        """Say why the benchmark stopped, with the end of each running child's log."""
        for name in list(self.children):
            log(f"--- {name} log ---\n{self.log_tail(name)}")
        log(f"benchmark aborted: {exc!r}")


def wrk_missing() -> bool:
    """Whether ``wrk`` is missing (and say how to install it)."""
    if shutil.which("wrk") is not None:
        return False
    print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
    return True


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process on port {port} exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            status, _ = http_get(port, path)
            if status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port}{path} after {timeout:.0f}s")


def start_sink(procs: Processes) -> int:
    """Start the HTTP sink (tests/benchmarks/sink.py) in its own process; its port, once it
    answers."""
    port = free_port()
    argv = [sys.executable, "-m", "tests.benchmarks.sink", "--port", str(port)]
    wait_http(port, "/stats", procs.start("sink", argv, dict(os.environ, PYTHONPATH=str(ROOT))))
    return port


def http_get(port: int, path: str, method: str = "GET") -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else None
    finally:
        conn.close()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the worker processes of ``maillon serve``)."""
    out = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out += process_tree(int(child))
    return out


def rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    """``field_name`` of /proc/PID/status summed over ``pid`` and its descendants: the memory
    of a Maillon is that of all its processes (for ``VmHWM``, the sum of each one's peak)."""
    total = 0.0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(field_name + ":"):
                    total += int(line.split()[1]) / 1024
    return total


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- Maillon -------------------------------------------------------------------------------


class Database:
    """Where one Maillon keeps its data: SQLite in its data directory, or a PostgreSQL database
    of its own (created afresh unless ``fresh`` is false, dropped by :meth:`drop`) on the server
    ``--postgres`` names."""

    def __init__(
        self, data_dir: Path, name: str, postgres: str | None, *, fresh: bool = True
    ) -> None:
        self.sqlite_path = data_dir / "maillon.db"
        self.url: str | None = None
        self._server = postgres
        if postgres is not None:
            from sqlalchemy.engine import make_url

            self._name = "bench_" + re.sub(r"\W", "_", name)
            if fresh:
                self._admin(f"DROP DATABASE IF EXISTS {self._name}")
                self._admin(f"CREATE DATABASE {self._name}")
            url = make_url(postgres).set(drivername="postgresql+psycopg", database=self._name)
            self.url = url.render_as_string(hide_password=False)

    def _admin(self, sql: str) -> None:
        import psycopg

        assert self._server is not None
        with psycopg.connect(_libpq_url(self._server), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def connect(self) -> Any:
        """A read connection (DB-API) for counting rows."""
        if self.url is None:
            return sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=30)
        import psycopg

        return psycopg.connect(_libpq_url(self.url), autocommit=True)

    def describe(self) -> str:
        """What the report says of the database."""
        if self.url is None:
            return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=FULL)"
        with contextlib.closing(self.connect()) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            sync = conn.execute("SHOW synchronous_commit").fetchone()[0]
        return f"PostgreSQL {version.split()[0]} (synchronous_commit={sync}, on the same cores)"

    def drop(self) -> None:
        if self.url is not None:
            with contextlib.suppress(Exception):
                self._admin(f"DROP DATABASE IF EXISTS {self._name} WITH (FORCE)")


def _libpq_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def maillon_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """The environment of a Maillon process of the benchmarks: this checkout's code, its data
    directory (and database, if not SQLite there), quiet logs, and no MAILLON_* of the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILLON_")}
    env.update(
        PYTHONPATH=str(ROOT),
        MAILLON_DATA_DIR=str(data_dir),
        MAILLON_LOG_LEVEL="WARNING",
        MAILLON_HOST="127.0.0.1",
    )
    if database_url is not None:
        env["MAILLON_DATABASE_URL"] = database_url
    return env


class Maillon:
    """One ``maillon serve`` of this checkout on its own temporary data directory."""

    def __init__(
        self,
        procs: Processes,
        name: str,
        workdir: Path,
        flow_yaml: str,
        postgres: str | None,
        settings: dict[str, str] | None = None,
    ) -> None:
        """``settings``: more MAILLON_* variables for this one (e.g. metrics on)."""
        self.procs = procs
        self.name = name
        self.data_dir = workdir / name
        self.data_dir.mkdir()
        self.database = Database(self.data_dir, name, postgres)
        self.env = maillon_env(self.data_dir, self.database.url)
        self.env.update(settings or {})
        flow = self.data_dir / "flow.yaml"
        flow.write_text(flow_yaml)
        # Management commands work on an existing install only: create it as a first start would.
        subprocess.run(
            [*self.command(), "migrate"], cwd=ROOT, env=self.env, capture_output=True, check=True
        )
        out = subprocess.run(
            [*self.command(), "flows", "import", str(flow)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        match = re.search(r"/hooks/([A-Za-z0-9_\-]+)", out.stdout)
        if match is None:
            raise RuntimeError(f"no hook URL in `maillon flows import` output:\n{out.stdout}")
        self.token = match.group(1)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def command() -> list[str]:
        # The `maillon` console script of the virtualenv; PYTHONPATH makes it import this
        # checkout's code (a worktree) rather than wherever the package was installed from.
        script = Path(sys.executable).with_name("maillon")
        if script.exists():
            return [str(script)]
        return [sys.executable, "-c", "from maillon.web.cli import main; main()"]

    def start(self, workers: int) -> None:
        argv = [*self.command(), "serve", "--port", str(self.port), "--workers", str(workers)]
        self.proc = self.procs.start(self.name, argv, self.env)
        wait_http(self.port, "/healthz", self.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{self.token}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def db(self) -> Any:
        return self.database.connect()

    def counts(self) -> dict[str, int]:
        with contextlib.closing(self.db()) as db:
            events = db.execute("SELECT count(*) FROM events").fetchone()[0]
            runs = dict(db.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
        return {"events": events, **runs}

    def stop(self) -> None:
        self.procs.stop(self.name)
        self.database.drop()


class DepthSampler(threading.Thread):
    """Samples the queue depth (runs queued or running) of a Maillon every 0.2 s."""

    def __init__(self, maillon: Maillon) -> None:
        super().__init__(daemon=True)
        self.maillon = maillon
        self.samples: list[tuple[float, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        with contextlib.closing(self.maillon.db()) as db:
            while not self._stop_event.is_set():
                with contextlib.suppress(Exception):  # a busy or restarting database
                    # fetchall: a half-read cursor would hold a snapshot and block checkpoints.
                    n = db.execute(
                        "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')"
                    ).fetchall()[0][0]
                    self.samples.append((time.time(), n))
                self._stop_event.wait(0.2)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)

    def between(self, start: float, end: float) -> list[int]:
        return [d for t, d in self.samples if start <= t <= end]

    def latest(self) -> int:
        return self.samples[-1][1] if self.samples else -1


# -- load ----------------------------------------------------------------------------------


def run_wrk(url: str, body_file: Path, seconds: int, s: Settings) -> dict[str, Any]:
    env = dict(os.environ, MAILLON_BENCH_BODY=str(body_file))
    argv = [
        "wrk",
        f"-t{s.wrk_threads}",
        f"-c{s.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "post.lua"),
        url,
    ]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")
    r: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = sum(
        r[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "status_errors")
    )
    return r


def combine_wrk(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of wrk as one: totals for counts, the median round for each percentile."""

    def median(key: str) -> float:
        values = sorted(r[key] for r in rounds)
        return float(values[len(values) // 2])

    duration_s = sum(r["duration_us"] for r in rounds) / 1e6
    out: dict[str, Any] = {
        k: sum(r[k] for r in rounds) for k in ("requests", "errors", "status_errors")
    }
    out.update(
        rps=out["requests"] / duration_s,
        duration_s=duration_s,
        p50_us=median("p50_us"),
        p99_us=median("p99_us"),
        server_cpu_percent=100 * sum(r["server_cpu_s"] for r in rounds) / duration_s,
        foreign_cores={
            k: round(sum(r["foreign_cores"][k] for r in rounds) / len(rounds), 2)
            for k in ("others", "steal")
        },
        rounds=rounds,
    )
    return out


def run_loadgen(url: str, rate: float, seconds: float, warmup: float = 1.0) -> dict[str, Any]:
    argv = [
        sys.executable,
        "-m",
        "tests.benchmarks.loadgen",
        "--url",
        url,
        "--rate",
        str(rate),
        "--duration",
        str(seconds),
        "--warmup",
        str(warmup),
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.time()
    out = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + warmup + 90
    )
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout)
    result["window"] = (t0 + warmup, time.time())
    return result


# -- the run -------------------------------------------------------------------------------


@dataclass
class Results:
    machine: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    intake: dict[str, Any] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    e2e: dict[str, Any] = field(default_factory=dict)
    ramp: list[dict[str, Any]] = field(default_factory=list)
    throughput: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
    }


class Foreign:
    """CPU the run did not get, over a phase: other processes, and the hypervisor's steal.

    Other processes: busy time of the machine (/proc/stat) minus the CPU of this process, of the
    children it waited for (wrk, loadgen) and of the servers it started with their worker
    processes, which must not be stopped between ``start`` and ``cores``. Steal: time the
    virtual CPUs were runnable but the host ran something else (a noisy neighbour); it slows
    every process of the run.
    """

    def __init__(self, procs: Processes) -> None:
        self.procs = procs
        self.mark = self._snap()

    def _snap(self) -> tuple[float, float, float, float]:
        parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        tick = os.sysconf("SC_CLK_TCK")
        busy = sum(parts[i] for i in (0, 1, 2, 5, 6)) / tick  # user nice system irq softirq
        steal = parts[7] / tick if len(parts) > 7 else 0.0
        t = os.times()
        ours = t.user + t.system + t.children_user + t.children_system
        for proc in self.procs.children.values():
            # A server's worker processes are its children: not waited for, not in its times.
            for pid in process_tree(proc.pid):
                with contextlib.suppress(OSError, IndexError, ValueError):
                    ours += cpu_seconds(pid)
        return time.monotonic(), busy, steal, ours

    def start(self) -> None:
        self.mark = self._snap()

    def cores(self) -> dict[str, float]:
        """Cores lost since ``start``: ``{"others": ..., "steal": ...}`` (0 on a quiet machine)."""
        t0, busy0, steal0, ours0 = self.mark
        t1, busy1, steal1, ours1 = self._snap()
        wall = max(t1 - t0, 1e-9)
        return {
            "others": round(max(0.0, (busy1 - busy0) - (ours1 - ours0)) / wall, 2),
            "steal": round((steal1 - steal0) / wall, 2),
        }


def lost_before_start(seconds: float = 1.0) -> dict[str, float]:
    """Cores busy with other work, and stolen, while nothing of this run is running yet."""
    foreign = Foreign(Processes(Path(tempfile.gettempdir())))
    time.sleep(seconds)
    return foreign.cores()


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def drain(m: Maillon, sink_port: int, expected: int, sampler: DepthSampler, timeout: float) -> bool:
    """Wait until every event sent so far has reached the sink and the queue is empty."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, stats = http_get(sink_port, "/stats")
        if stats["total"] >= expected and sampler.latest() == 0:
            return True
        time.sleep(0.25)
    return False


def measure(s: Settings, workdir: Path, procs: Processes) -> Results:
    res = Results(machine=machine_info(), settings=vars(s).copy())
    res.machine["lost_before_start"] = lost_before_start()
    body_file = workdir / "body.json"
    body_file.write_bytes(BODY_TEMPLATE)

    # The sink and the bare endpoint, in their own processes.
    py_env = dict(os.environ, PYTHONPATH=str(ROOT))
    sink_port, bare_port = start_sink(procs), free_port()
    from maillon.web.cli import UVICORN_OPTIONS

    bare_argv = [sys.executable, "-m", "tests.benchmarks.bare", "--port", str(bare_port)]
    bare = procs.start("bare", [*bare_argv, "--options", json.dumps(UVICORN_OPTIONS)], py_env)
    wait_http(bare_port, "/healthz", bare)
    bare_url = f"http://127.0.0.1:{bare_port}/hooks/bench"
    flow_yaml = FLOW_YAML.format(sink_url=f"http://127.0.0.1:{sink_port}/sink")

    # 1 + 2: pure intake (workers=0: runs are stored and stay queued).
    intake = Maillon(procs, "maillon-intake", workdir, flow_yaml, s.postgres)
    res.machine["database"] = intake.database.describe()
    intake.start(workers=0)
    time.sleep(1)
    res.memory["idle_rss_mb_workers0"] = rss_mb(intake.pid)
    res.memory["bare_idle_rss_mb"] = rss_mb(bare.pid)
    answered = 0
    foreign = Foreign(procs)
    targets = {"bare": (bare_url, bare.pid), "maillon": (intake.url, intake.pid)}
    for name, (url, _) in targets.items():
        log(f"intake, {name}: wrk warm-up {s.warmup_seconds}s")
        warm = run_wrk(url, body_file, s.warmup_seconds, s)
        if name == "maillon":
            answered += warm["requests"] - warm["status_errors"]
    # Rounds alternate between the two servers, so that a noisy neighbour slows both alike
    # and the ratio stays meaningful on a shared machine.
    seconds = max(1, s.intake_seconds // s.intake_rounds)
    rounds: dict[str, list[dict[str, Any]]] = {"bare": [], "maillon": []}
    for i in range(s.intake_rounds):
        for name, (url, pid) in targets.items():
            log(f"intake, {name}: round {i + 1}/{s.intake_rounds}, {seconds}s")
            cpu0 = cpu_seconds(pid)
            foreign.start()
            r = run_wrk(url, body_file, seconds, s)
            r["foreign_cores"] = foreign.cores()
            r["server_cpu_s"] = cpu_seconds(pid) - cpu0
            rounds[name].append(r)
            if name == "maillon":
                answered += r["requests"] - r["status_errors"]
    for name, rs in rounds.items():
        res.intake[name] = combine_wrk(rs)
    res.intake["ratio"] = res.intake["maillon"]["rps"] / res.intake["bare"]["rps"]
    res.memory["bare_rss_mb_after_load"] = rss_mb(bare.pid)

    for name, url in (("bare", bare_url), ("maillon", intake.url)):
        log(f"fixed rate, {name}: {s.fixed_rate}/s for {s.fixed_seconds}s (open loop)")
        foreign.start()
        r = run_loadgen(url, s.fixed_rate, s.fixed_seconds)
        r["foreign_cores"] = foreign.cores()
        res.fixed[name] = r
        if name == "maillon":
            answered += r["ok_total"]
    counts = intake.counts()
    res.checks["intake_events_stored"] = counts["events"]
    res.checks["intake_2xx_counted"] = answered
    res.checks["intake_every_2xx_stored"] = counts["events"] >= answered
    res.memory["rss_mb_workers0_after_intake"] = rss_mb(intake.pid)
    res.memory["events_workers0"] = counts["events"]
    intake.stop()
    procs.stop("bare")

    # 3, 4, 5: a Maillon that executes the flow (one worker, one HTTP step per event).
    m = Maillon(procs, "maillon-e2e", workdir, flow_yaml, s.postgres)
    m.start(workers=1)
    time.sleep(2)
    res.memory["idle_rss_mb"] = rss_mb(m.pid)
    sampler = DepthSampler(m)
    sampler.start()
    foreign = Foreign(procs)
    sent = 0
    try:
        log("end to end: warm-up 2s at 100/s")
        sent += run_loadgen(m.url, 100, 2, warmup=0)["ok_total"]
        if not drain(m, sink_port, sent, sampler, 30):
            raise RuntimeError("the warm-up events did not all reach the sink")
        for rate in s.e2e_rates:
            log(f"end to end at {rate}/s for {s.e2e_seconds}s")
            http_get(sink_port, "/reset", "POST")
            foreign.start()
            r = run_loadgen(m.url, rate, s.e2e_seconds, warmup=0)
            r["foreign_cores"] = foreign.cores()
            sent += r["ok_total"]
            ok = drain(m, sink_port, sent, sampler, 60)
            _, dump = http_get(sink_port, "/dump")
            res.e2e[str(rate)] = {
                "latency_ms": summarize(dump["latencies_ms"]),
                "intake": r,
                "max_depth": max(sampler.between(*r["window"]) or [0]),
                "drained": ok,
            }

        rate = s.ramp_start
        best: dict[str, Any] | None = None
        while rate <= s.ramp_max:
            log(f"throughput: {rate} events/s for {s.ramp_seconds}s")
            http_get(sink_port, "/reset", "POST")
            foreign.start()
            r = run_loadgen(m.url, rate, s.ramp_seconds, warmup=1)
            sent += r["ok_total"]
            start, end = r["window"]
            mid = start + (end - start) / 2
            _, dump = http_get(sink_port, "/dump")
            done_late = [t for t in dump["arrivals"] if mid <= t <= end]
            depths = sampler.between(start, end)
            step = {
                "offered": rate,
                "intake_rate": r["achieved_rate"],
                "intake_failed": r["failed"] + r["non_2xx"],
                "completed_rate_2nd_half": len(done_late) / max(end - mid, 1e-9),
                "max_depth": max(depths or [0]),
                "end_depth": depths[-1] if depths else -1,
                "e2e_ms": summarize(dump["latencies_ms"]),
                "foreign_cores": foreign.cores(),
            }
            step["sustained"] = (
                step["intake_failed"] == 0
                and step["completed_rate_2nd_half"] >= 0.95 * rate
                and step["max_depth"] <= rate  # never more than a second of backlog
            )
            res.ramp.append(step)
            step["drained"] = drain(m, sink_port, sent, sampler, 120)
            if not step["sustained"] or not step["drained"]:
                break
            best = step
            rate = round(rate * s.ramp_factor)
        res.throughput = {"sustained_rate": best["offered"] if best else 0, "step": best}

        remaining = s.memory_events - m.counts()["events"]
        if remaining > 0:
            # At the highest sustained rate: faster would only grow the queue and the drain.
            top_rate = best["offered"] if best else s.ramp_start
            log(f"memory: {remaining} more events at {top_rate}/s")
            r = run_loadgen(m.url, top_rate, remaining / top_rate, warmup=0)
            sent += r["ok_total"]
            res.memory["topup"] = {"rate": top_rate, "ok": r["ok"], "failed": r["failed"]}
        drained = drain(m, sink_port, sent, sampler, 300)
        time.sleep(2)
        counts = m.counts()
        res.memory.update(
            rss_mb_after_events=rss_mb(m.pid),
            peak_rss_mb=rss_mb(m.pid, "VmHWM"),
            events=counts["events"],
            runs_succeeded=counts.get("succeeded", 0),
            runs_failed=counts.get("failed", 0),
            drained=drained,
        )
    finally:
        sampler.stop()
    m.stop()
    procs.stop("sink")
    return res


# -- report --------------------------------------------------------------------------------


def _ms(v: float) -> str:
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def report(res: Results, s: Settings, command: str) -> str:
    mi, ba = res.intake["maillon"], res.intake["bare"]
    fm, fb = res.fixed["maillon"], res.fixed["bare"]
    e100, e500 = res.e2e.get("100"), res.e2e.get("500")
    thr = res.throughput
    mem = res.memory
    rows: list[tuple[str, str, str, str, str]] = []
    ratio = res.intake["ratio"]
    rows.append(
        (
            f"Intake, wrk {s.connections} connections, {s.intake_seconds} s: requests/s",
            f"{mi['rps']:,.0f}",
            f"{ba['rps']:,.0f}",
            "≥ 3,000 and ≥ 0.5 x bare",
            f"{_yes(mi['rps'] >= 3000 and ratio >= 0.5)} ({ratio:.2f} x bare)",
        )
    )
    rows.append(
        (
            "Intake at 32 connections: p50 / p99 latency (ms)",
            f"{_ms(mi['p50_us'] / 1000)} / {_ms(mi['p99_us'] / 1000)}",
            f"{_ms(ba['p50_us'] / 1000)} / {_ms(ba['p99_us'] / 1000)}",
            "",
            "",
        )
    )
    rows.append(
        (
            f"Intake at a fixed {s.fixed_rate:,}/s: p50 / p99 latency (ms)",
            f"{_ms(fm['latency_ms']['p50'])} / {_ms(fm['latency_ms']['p99'])}",
            f"{_ms(fb['latency_ms']['p50'])} / {_ms(fb['latency_ms']['p99'])}",
            "p99 ≤ 10 ms",
            _yes(fm["latency_ms"]["p99"] <= 10),
        )
    )
    for rate, e in (("100", e100), ("500", e500)):
        if e is None:
            continue
        lat = e["latency_ms"]
        target = "p50 ≤ 10, p99 ≤ 50 ms" if rate == "500" else ""
        met = _yes(lat["p50"] <= 10 and lat["p99"] <= 50) if rate == "500" else ""
        rows.append(
            (
                f"End to end webhook → HTTP action at {rate} events/s: p50 / p99 (ms)",
                f"{_ms(lat['p50'])} / {_ms(lat['p99'])}",
                "",
                target,
                met,
            )
        )
    step = thr.get("step") or {}
    rows.append(
        (
            "Whole runs (one HTTP action each) sustained: events/s (max queue depth)",
            f"{thr.get('sustained_rate', 0):,} ({step.get('max_depth', '-')})",
            "",
            "≥ 1,000",
            _yes(thr.get("sustained_rate", 0) >= 1000),
        )
    )
    rows.append(
        (
            "RSS idle after start (MB, all processes)",
            f"{mem['idle_rss_mb']:.0f}",
            f"{mem['bare_idle_rss_mb']:.0f}",
            "≤ 60",
            _yes(mem["idle_rss_mb"] <= 60),
        )
    )
    rows.append(
        (
            f"RSS after {mem['events']:,} events run (MB; peak)",
            f"{mem['rss_mb_after_events']:.0f} ({mem['peak_rss_mb']:.0f})",
            "",
            "",
            "",
        )
    )
    out = [
        "| Measure | Maillon | Bare Litestar | Target | Met |",
        "|---|---:|---:|---|---|",
        *(f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows),
        "",
    ]
    mach = res.machine
    out.append(
        f"Machine: {mach['cpus']} cores ({mach['cpu_model']}), Python {mach['python']}, "
        f"{mach['database']}, load generators on the same cores; "
        f"before the run {mach['lost_before_start']['others']} cores were busy with other work "
        f"and {mach['lost_before_start']['steal']} stolen by the hypervisor."
    )
    phases = [("intake wrk " + k, v) for k, v in res.intake.items() if isinstance(v, dict)]
    phases += [("fixed rate " + k, v) for k, v in res.fixed.items()]
    phases += [(f"end to end {k}/s", v["intake"]) for k, v in res.e2e.items()]
    phases += [(f"throughput {st['offered']}/s", st) for st in res.ramp]
    noisy = [
        f"{n} ({v['foreign_cores']['others']} cores to other processes, "
        f"{v['foreign_cores']['steal']} stolen by the hypervisor)"
        for n, v in phases
        if sum(v["foreign_cores"].values()) > 0.15
    ]
    out.append(
        "CPU the run did not get (other processes, hypervisor steal): "
        + ("none worth noting." if not noisy else "; ".join(noisy) + ": those figures are low.")
    )
    out.append(f"Command: `{command}`")
    out.append("")
    out.append("Details:")
    out.append(
        f"- Intake rounds alternate {s.intake_rounds} x {s.intake_seconds // s.intake_rounds} s "
        "between the two servers; latencies are those of the median round. Requests/s per "
        "round: Maillon "
        + ", ".join(f"{r['requests'] / (r['duration_us'] / 1e6):,.0f}" for r in mi["rounds"])
        + "; bare "
        + ", ".join(f"{r['requests'] / (r['duration_us'] / 1e6):,.0f}" for r in ba["rounds"])
        + "."
    )
    out.append(
        f"- wrk ({s.wrk_threads} threads, {s.connections} connections): Maillon "
        f"{mi['requests']:,} requests, {mi['errors']} errors, server CPU "
        f"{mi['server_cpu_percent']:.0f}% of a core; bare {ba['requests']:,} requests, "
        f"{ba['errors']} errors, server CPU {ba['server_cpu_percent']:.0f}%."
    )
    out.append(
        f"- Open-loop generator at {s.fixed_rate:,}/s: achieved {fm['achieved_rate']:,.0f}/s, "
        f"send lag p99 {fm['lag_ms']['p99']:.2f} ms, its own CPU {fm['cpu_percent']:.0f}% of a "
        f"core; {fm['ok']:,} answered 2xx, {fm['non_2xx'] + fm['failed']} errors. Against the "
        f"bare endpoint the same generator measures p99 {fb['latency_ms']['p99']:.2f} ms."
    )
    ch = res.checks
    out.append(
        f"- Durability check (workers=0 server): {ch['intake_2xx_counted']:,} 2xx answers "
        f"counted, {ch['intake_events_stored']:,} events in the database "
        + (
            "(every answered event is stored)."
            if ch["intake_every_2xx_stored"]
            else "(EVENTS MISSING)."
        )
    )
    for e_rate, e in res.e2e.items():
        out.append(
            f"- End to end at {e_rate}/s: {e['latency_ms']['n']:,} actions received, max queue "
            f"depth {e['max_depth']}, intake p99 meanwhile "
            f"{e['intake']['latency_ms']['p99']:.1f} ms."
        )
    for st in res.ramp:
        out.append(
            f"- Throughput step {st['offered']:,}/s: intake {st['intake_rate']:,.0f}/s, actions "
            f"completed {st['completed_rate_2nd_half']:,.0f}/s (second half), max depth "
            f"{st['max_depth']}, end-to-end p50/p99 {_ms(st['e2e_ms']['p50'])}/"
            f"{_ms(st['e2e_ms']['p99'])} ms: {'sustained' if st['sustained'] else 'NOT sustained'}."
        )
    out.append(
        f"- Memory: idle {mem['idle_rss_mb']:.0f} MB with one worker, "
        f"{mem['idle_rss_mb_workers0']:.0f} MB with workers=0; after {mem['events']:,} events "
        f"({mem['runs_succeeded']:,} runs succeeded, {mem['runs_failed']} failed) "
        f"{mem['rss_mb_after_events']:.0f} MB, peak {mem['peak_rss_mb']:.0f} MB. Bare Litestar: "
        f"{mem['bare_idle_rss_mb']:.0f} MB idle, {mem['bare_rss_mb_after_load']:.0f} MB after load."
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.run", description="Run Maillon's benchmark suite."
    )
    parser.add_argument("--quick", action="store_true", help="short phases (about 2 minutes)")
    parser.add_argument("--intake-seconds", type=int, help="wrk duration (default 20, quick 5)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--ramp-start", type=int, default=200, help="first throughput step")
    parser.add_argument("--ramp-factor", type=float, default=1.25, help="rate growth per step")
    parser.add_argument("--ramp-max", type=int, default=3000)
    parser.add_argument("--memory-events", type=int, help="default 100,000 (quick: 10,000)")
    parser.add_argument("--max-seconds", type=int, default=1200, help="hard budget for the run")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server (e.g. postgresql://postgres@127.0.0.1:5432/postgres): each "
        "Maillon gets a fresh database there instead of SQLite",
    )
    args = parser.parse_args(argv)
    if wrk_missing():
        return 2
    s = Settings.make(args)
    command = "python -m tests.benchmarks.run" + (" --quick" if s.quick else "")
    if s.postgres:
        command += f" --postgres {s.postgres}"
    workdir = Path(tempfile.mkdtemp(prefix="maillon-bench-"))
    procs = Processes(workdir)

    def over_budget(*_: object) -> None:
        raise BudgetExceeded(f"the run exceeded --max-seconds={args.max_seconds}")

    signal.signal(signal.SIGALRM, over_budget)
    signal.signal(signal.SIGTERM, over_budget)
    signal.alarm(args.max_seconds)
    try:
        res = measure(s, workdir, procs)
    except BaseException as exc:
        procs.log_abort(exc)
        return 1
    finally:
        signal.alarm(0)
        procs.stop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept {workdir}")
    text = report(res, s, command)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(vars(res) | {"report": text}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
