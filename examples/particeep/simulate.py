"""Play Particeep: post realistic webhook deliveries to Maillon's hook URLs, and time them.

Each delivery is what Particeep sends: the bare entity as JSON, nothing else, to the URL of
its event (Particeep puts no event name in the body, so Maillon tells events apart by URL)::

    python -m examples.particeep.simulate \\
        --url transaction_created=http://127.0.0.1:8000/hooks/particeep/TOKEN/transaction_created \\
        --url user_created=http://127.0.0.1:8000/hooks/particeep/TOKEN/user_created \\
        --rate 20 --count 200

    python -m examples.particeep.simulate --hook-url URL --event user_created --count 5

Events are sent in turn across the given URLs. Sending is open-loop: request *i* leaves at
``i / rate`` seconds whatever earlier answers are doing, so a slow receiver shows up as
latency, not as a quietly lower rate. The exit status is 0 only if every delivery got a 2xx.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from examples.particeep.entities import make_entity, make_transaction

__all__ = ["Summary", "main", "percentile", "simulate"]


@dataclass
class Summary:
    """What a simulation sent and how Maillon answered."""

    sent: int = 0
    ok: int = 0
    #: Answers that were not 2xx, by status.
    refused: dict[int, int] = field(default_factory=dict)
    #: Deliveries that got no answer at all (connection refused, timeout).
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    duration: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.refused.values()) + self.errors

    def report(self) -> str:
        """The summary as a few lines of text."""
        rate = self.sent / self.duration if self.duration else 0.0
        lines = [
            f"sent {self.sent} in {self.duration:.2f}s ({rate:.1f}/s)",
            f"2xx {self.ok}, other answers {sum(self.refused.values())}, errors {self.errors}",
        ]
        if self.refused:
            statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.refused.items()))
            lines.append(f"non-2xx statuses: {statuses}")
        if self.latencies:
            p50, p99 = percentile(self.latencies, 50), percentile(self.latencies, 99)
            lines.append(f"latency p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
        return "\n".join(lines)


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (no interpolation: it is a value actually observed)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


async def simulate(
    targets: Sequence[tuple[str, str]],
    *,
    count: int,
    rate: float,
    seed: int | None = None,
    request_timeout: float = 10.0,
) -> Summary:
    """Send ``count`` deliveries across ``targets`` (``(event, url)``) at ``rate`` per second.

    ``rate`` 0 sends as fast as the connection pool allows. Transactions reuse the ids of users
    sent earlier in the same run as their investor, as on a real platform.
    """
    if not targets:
        raise ValueError("give at least one (event, url) target")
    rng = random.Random(seed)
    summary = Summary()
    user_ids: list[str] = []

    def body_for(event: str) -> dict[str, object]:
        if event == "transaction_created" and user_ids:
            return make_transaction(rng, issuer_id=rng.choice(user_ids), status="PENDING")
        entity = make_entity(event, rng)
        if event == "user_created":
            user_ids.append(str(entity["id"]))
        return entity

    async def send(client: httpx.AsyncClient, url: str, body: dict[str, object]) -> None:
        started = time.perf_counter()
        try:
            answer = await client.post(url, json=body)
        except httpx.HTTPError:
            summary.errors += 1
            return
        summary.latencies.append(time.perf_counter() - started)
        if answer.is_success:
            summary.ok += 1
        else:
            summary.refused[answer.status_code] = summary.refused.get(answer.status_code, 0) + 1

    # trust_env=False: the hook URLs are the user's own Maillon, never to go through a proxy.
    async with httpx.AsyncClient(
        timeout=request_timeout,
        trust_env=False,
        headers={"User-Agent": "Particeep-Simulator/1.0 (Maillon examples)"},
        limits=httpx.Limits(max_connections=50),
    ) as client:
        start = time.perf_counter()
        tasks: list[asyncio.Task[None]] = []
        for i in range(count):
            if rate > 0:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            event, url = targets[i % len(targets)]
            tasks.append(asyncio.create_task(send(client, url, body_for(event))))
            summary.sent += 1
        await asyncio.gather(*tasks)
        summary.duration = time.perf_counter() - start
    return summary


def _target(value: str) -> tuple[str, str]:
    event, sep, url = value.partition("=")
    if not sep or not event or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected EVENT=http(s)://..., got {value!r}")
    return event, url


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the simulation, print the summary."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.particeep.simulate",
        description="Send realistic Particeep webhook deliveries to Maillon hook URLs.",
    )
    parser.add_argument(
        "--url",
        action="append",
        type=_target,
        default=[],
        metavar="EVENT=URL",
        help="an event and its hook URL; repeat for several events",
    )
    parser.add_argument("--hook-url", help="one hook URL (with --event)")
    parser.add_argument("--event", default="transaction_created", help="event for --hook-url")
    parser.add_argument("--count", type=int, default=10, help="deliveries to send (default 10)")
    parser.add_argument("--rate", type=float, default=5.0, help="per second; 0: no pacing")
    parser.add_argument("--seed", type=int, help="reproduce the same entities")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per delivery")
    args = parser.parse_args(argv)

    targets: list[tuple[str, str]] = list(args.url)
    if args.hook_url:
        targets.append(_target(f"{args.event}={args.hook_url}"))
    if not targets:
        parser.error("give --url EVENT=URL (repeatable) or --hook-url URL --event NAME")
    if args.count < 0 or args.rate < 0:
        parser.error("--count and --rate must not be negative")
    try:
        for event, _ in targets:
            make_entity(event)  # fail before sending anything if an event is unknown
    except KeyError as exc:
        parser.error(str(exc))

    summary = asyncio.run(
        simulate(
            targets, count=args.count, rate=args.rate, seed=args.seed, request_timeout=args.timeout
        )
    )
    print(summary.report())
    return 0 if summary.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
