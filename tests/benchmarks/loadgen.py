"""Open-loop load generator: POST the Particeep body at a fixed rate, whatever the server does.

``wrk`` keeps N requests in flight (closed loop), which hides latency behind backpressure: a
slow answer delays the next request. A fixed-rate (open-loop) generator sends request ``i`` at
``t0 + i / rate`` even if earlier ones are unanswered, opening more keep-alive connections when
all are busy, so a server stall shows in the latencies instead of in a lower rate.

Accuracy is measured, not assumed: the output says how late each request left compared with its
schedule (``lag``), the rate actually achieved, and the generator's own CPU time. Latency is
measured from the moment the request was written; ``latency_from_schedule`` also counts the lag.

Run as its own process (the benchmark runner does)::

    python -m tests.benchmarks.loadgen --url http://127.0.0.1:8000/hooks/TOKEN --rate 1000 \
        --duration 20

and it prints one JSON object. Each body carries ``custom.bench_sent_at`` (wall-clock time at
sending) and a unique ``id``; only 127.0.0.1 may be targeted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from tests.benchmarks.payload import body

__all__ = ["percentile", "summarize"]

_TS_MARK = 1234567890.123456  # a float whose text is as wide as today's timestamps
_ID_MARK = "ffffffff-ffff-4fff-bfff-ffffffffffff"


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (``nan`` if empty)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def summarize(values: list[float]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max of a list (milliseconds in, milliseconds out)."""
    s = sorted(values)
    return {
        "p50": percentile(s, 50),
        "p90": percentile(s, 90),
        "p99": percentile(s, 99),
        "p999": percentile(s, 99.9),
        "max": s[-1] if s else float("nan"),
        "n": len(s),
    }


class _Template:
    """The request bytes with fixed-width slots for the id and the timestamp."""

    def __init__(self, host: str, path: str) -> None:
        raw = json.dumps(
            body(sent_at=_TS_MARK, seq=0) | {"id": _ID_MARK},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        ts = repr(_TS_MARK).encode()
        assert len(ts) == len(f"{time.time():017.6f}"), "timestamp slot width"
        before_id, rest = raw.split(_ID_MARK.encode())
        between, after_ts = rest.split(ts)
        self.parts = (before_id, between, after_ts)
        length = len(raw)
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n"
        ).encode()

    def request(self, seq: int, sent_at: float) -> bytes:
        h = f"{seq:032x}"
        ident = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-b{h[17:20]}-{h[20:]}".encode()
        ts = f"{sent_at:017.6f}".encode()
        a, b, c = self.parts
        return b"".join((self.head, a, ident, b, ts, c))


class _Conn(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, gen: _Generator) -> None:
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.sent_at = 0.0  # perf_counter when written
        self.scheduled = 0.0  # perf_counter when due
        self.busy = False
        self.alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, data: bytes, scheduled: float) -> None:
        self.busy = True
        self.scheduled = scheduled
        self.sent_at = time.perf_counter()
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        length = 0
        i = head.find(b"content-length:")
        if i >= 0:
            j = head.find(b"\r\n", i)
            length = int(head[i + 15 : j if j >= 0 else len(head)])
        total = end + 4 + length
        if len(self.buf) < total:
            return
        status = int(head[9:12])
        del self.buf[:total]
        self.busy = False
        self.gen.completed(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        if self.busy:
            self.busy = False
            self.gen.failed(self)


class _Generator:
    def __init__(self, url: str, rate: float, duration: float, warmup: float, max_conns: int):
        parts = urlsplit(url)
        if parts.hostname != "127.0.0.1":
            raise SystemExit("the load generator only sends to 127.0.0.1")
        self.host, self.port = parts.hostname, parts.port or 80
        self.template = _Template(f"{self.host}:{self.port}", parts.path or "/")
        self.rate = rate
        self.duration = duration
        self.warmup = warmup
        self.max_conns = max_conns
        self.idle: list[_Conn] = []
        self.conns: list[_Conn] = []
        self.opening = 0
        self.waiting: list[tuple[int, float]] = []  # (seq, scheduled) with no free connection
        self.latency: list[float] = []
        self.from_schedule: list[float] = []
        self.lag: list[float] = []
        self.statuses: dict[int, int] = {}
        self.failures = 0
        self.ok_total = 0  # 2xx answers, warm-up included
        self.in_flight = 0
        self.measure_from = 0.0
        self.done = asyncio.Event()
        self.sending = True

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        self.opening += 1
        try:
            _, conn = await loop.create_connection(lambda: _Conn(self), self.host, self.port)
        except OSError:
            self.failures += 1
            return
        finally:
            self.opening -= 1
        self.conns.append(conn)
        self._release(conn)

    def _release(self, conn: _Conn) -> None:
        if not conn.alive:
            return
        if self.waiting:
            seq, scheduled = self.waiting.pop(0)
            self._send_on(conn, seq, scheduled)
        else:
            self.idle.append(conn)

    def _send_on(self, conn: _Conn, seq: int, scheduled: float) -> None:
        now = time.perf_counter()
        if scheduled >= self.measure_from:
            self.lag.append((now - scheduled) * 1000)
        conn.send(self.template.request(seq, time.time()), scheduled)

    def submit(self, seq: int, scheduled: float) -> None:
        self.in_flight += 1
        while self.idle:
            conn = self.idle.pop()
            if conn.alive:
                self._send_on(conn, seq, scheduled)
                return
        self.waiting.append((seq, scheduled))
        if len(self.conns) + self.opening < self.max_conns:
            asyncio.get_running_loop().create_task(self._open())

    def completed(self, conn: _Conn, status: int) -> None:
        now = time.perf_counter()
        if 200 <= status < 300:
            self.ok_total += 1
        if conn.scheduled >= self.measure_from:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.latency.append((now - conn.sent_at) * 1000)
            self.from_schedule.append((now - conn.scheduled) * 1000)
        self._finish_one()
        self._release(conn)

    def failed(self, conn: _Conn) -> None:
        if conn.scheduled >= self.measure_from:
            self.failures += 1
        self._finish_one()

    def _finish_one(self) -> None:
        self.in_flight -= 1
        if not self.sending and self.in_flight == 0:
            self.done.set()

    async def run(self, initial_conns: int) -> dict[str, Any]:
        await asyncio.gather(*(self._open() for _ in range(initial_conns)))
        interval = 1.0 / self.rate
        start = time.perf_counter() + 0.05
        self.measure_from = start + self.warmup
        end = self.measure_from + self.duration
        total = int((self.warmup + self.duration) * self.rate)
        cpu0 = time.process_time()
        seq = 0
        while seq < total:
            due = start + seq * interval
            now = time.perf_counter()
            if due > now:
                # Timers tick in milliseconds: asking for less returns at once and spins the
                # CPU that the server needs. Sleep at least 1 ms, then send everything due.
                await asyncio.sleep(max(due - now, 0.001))
                now = time.perf_counter()
            while seq < total and start + seq * interval <= now:
                self.submit(seq + 1, start + seq * interval)
                seq += 1
        sent_for = time.perf_counter() - self.measure_from
        self.sending = False
        if self.in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), timeout=30)
        cpu = time.process_time() - cpu0
        measured = total - int(self.warmup * self.rate)
        ok = sum(n for s, n in self.statuses.items() if 200 <= s < 300)
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.close()
        return {
            "offered_rate": self.rate,
            "duration_s": self.duration,
            "sent": measured,
            "achieved_rate": measured / sent_for if sent_for > 0 else 0.0,
            "ok": ok,
            "ok_total": self.ok_total,
            "non_2xx": sum(n for s, n in self.statuses.items() if not 200 <= s < 300),
            "failed": self.failures,
            "unanswered": self.in_flight,
            "connections": len(self.conns),
            "latency_ms": summarize(self.latency),
            "latency_from_schedule_ms": summarize(self.from_schedule),
            "lag_ms": summarize(self.lag),
            "cpu_s": cpu,
            "cpu_percent": 100 * cpu / max(end - start, 1e-9),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, required=True, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds sent, not measured")
    parser.add_argument("--connections", type=int, default=16, help="opened before starting")
    parser.add_argument("--max-connections", type=int, default=512)
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    gen = _Generator(args.url, args.rate, args.duration, args.warmup, args.max_connections)
    result = runner(gen.run(args.connections))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
