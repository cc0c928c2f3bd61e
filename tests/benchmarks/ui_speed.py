"""How long the UI's pages take on a big database: server-side times, median of many requests.

    python -m tests.benchmarks.ui_data DIR          # once: ~1,000,000 runs (a few minutes)
    python -m tests.benchmarks.ui_speed DIR         # then, as often as needed
    python -m tests.benchmarks.ui_speed DIR --database-url URL   # the same on PostgreSQL

The app is served for real (uvicorn on 127.0.0.1, workers off, as ``maillon serve --workers 0``
would) and signed in through the sign-in form; each page is requested ``--requests`` times after
two warm-up requests, one request at a time. The server-side time of a request runs from the
moment the app receives it to the moment it has handed over the last byte of its answer (an
ASGI wrapper around the app measures it); the client's time, which adds the loopback and the
HTTP client, is printed beside it, and so is the CPU the process used for the request (server
and client share it; the client's part is a fraction of a millisecond): on a machine whose
cores other work shares, the CPU time says what a page costs when waiting times do not.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from maillon.engine.ids import id_floor
from maillon.engine.models import RunStatus
from maillon.engine.runtime import Runtime
from maillon.web.app import create_app
from tests.benchmarks.ui_data import settings_for
from tests.support.server import LiveServer
from tests.support.services import Blocking
from tests.support.web import sign_in_client

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The targets, in milliseconds, by kind of page.
TARGETS = {"runs": 100, "run": 100, "flows": 100, "dashboard": 200}


class Timed:
    """An ASGI app that records how long each HTTP request takes inside ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: list[float] = []

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times.append(time.perf_counter() - start)

        await self.app(scope, receive, timed_send)


def pages(runtime: Runtime) -> list[tuple[str, str, str]]:
    """(kind, what, path) of every page timed, chosen from what the database holds."""
    services = Blocking(runtime.services)
    names = services.flows.names()
    [newest_failed] = services.runs.list_runs(status=RunStatus.FAILED, limit=1)
    [succeeded] = services.runs.list_runs(status=RunStatus.SUCCEEDED, limit=1)
    # The flow with the most runs, and the one whose runs fail least (its failed runs are the
    # rarest in its index: the costliest combination of the two filters).
    activity = services.stats.activity(list(names))
    busiest = max(names, key=lambda f: activity[f].runs_24h)
    steadiest = min(
        (f for f in names if activity[f].runs_24h),
        key=lambda f: activity[f].failed_24h / activity[f].runs_24h,
    )
    fortnight = id_floor(time.time() - 15 * 86_400)
    return [
        ("runs", "runs list, newest", "/runs"),
        ("runs", "runs list, one flow", f"/runs?flow={busiest}"),
        ("runs", "runs list, failed", "/runs?status=failed"),
        ("runs", "runs list, last 24 h", "/runs?period=24h"),
        ("runs", "runs list, older page (15 days back)", f"/runs?before={fortnight}"),
        ("runs", "runs list, older page of one flow", f"/runs?flow={busiest}&before={fortnight}"),
        (
            "runs",
            "runs list, the steadiest flow's failed runs",
            f"/runs?flow={steadiest}&status=failed",
        ),
        ("runs", "runs search, every event matches (a page at once)", "/runs?q=ada@example.com"),
        ("runs", "runs search, no match (reads its 5,000 runs)", "/runs?q=nobody@example.org"),
        ("runs", "runs search of one flow, no match", f"/runs?flow={busiest}&q=nobody@example.org"),
        ("run", "a failed run's page", f"/runs/{newest_failed.id}"),
        ("run", "a succeeded run's page", f"/runs/{succeeded.id}"),
        ("dashboard", "dashboard", "/"),
        ("flows", "flows list", "/flows"),
    ]


def measure(directory: Path, database_url: str | None, requests: int) -> None:
    """Serve the app on the database, time every page, print a Markdown table."""
    runtime = Runtime(settings_for(directory, database_url))
    timed = Timed(create_app(runtime=runtime, workers=False))
    with LiveServer(timed) as url, sign_in_client(url) as client:
        print("| Page | Server, median (ms) | min-max | CPU, median (ms) | Client (ms) | Target |")
        print("|---|---:|---:|---:|---:|---:|")
        for kind, what, path in pages(runtime):
            first = client.get(path)
            if first.status_code == 404 and kind == "flows":
                print(f"| {what} | not built yet (404) | | | |")
                continue
            first.raise_for_status()
            client.get(path)
            timed.times.clear()
            client_times, cpu_times = [], []
            for _ in range(requests):
                began, cpu = time.perf_counter(), time.process_time()
                client.get(path).raise_for_status()
                client_times.append(time.perf_counter() - began)
                cpu_times.append(time.process_time() - cpu)
            server = [t * 1000 for t in timed.times]
            print(
                f"| {what} | {statistics.median(server):.1f} | "
                f"{min(server):.1f}-{max(server):.1f} | "
                f"{statistics.median(cpu_times) * 1000:.1f} | "
                f"{statistics.median(client_times) * 1000:.1f} | ≤ {TARGETS[kind]} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="the data directory ui_data.py made")
    parser.add_argument("--database-url", help="the PostgreSQL URL ui_data.py was given")
    parser.add_argument("--requests", type=int, default=15, help="timed requests per page")
    args = parser.parse_args()
    measure(args.directory, args.database_url, args.requests)


if __name__ == "__main__":
    main()
