"""Post sample Particeep-like events to a Maillon hook URL.

    python examples/post_sample_events.py http://127.0.0.1:8000/hooks/<token> --count 5

Each event is a bare entity, as Particeep sends it (no event name in the body). The exit status
is 0 only if every event was accepted; a server that cannot be reached is said in one line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import uuid

import httpx


def sample_transaction() -> dict[str, object]:
    """A ``transaction_created`` body with realistic values (amounts in cents)."""
    return {
        "id": str(uuid.uuid4()),
        "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "issuer_id": str(uuid.uuid4()),
        "issuer_type": "USER",
        "recipient_id": str(uuid.uuid4()),
        "recipient_type": "ENTERPRISE",
        "fundraise_id": str(uuid.uuid4()),
        "fundraise_type": "FUNDRAISE_LOAN",
        "amount": random.choice([50000, 100000, 150000, 500000, 1000000]),
        "fees": 0,
        "currency": "EUR",
        "status": random.choice(["PENDING", "SUCCEEDED"]),
        "payment_method": random.choice(["WALLET", "CREDIT_CARD", "DIRECT_CASHIN"]),
        "custom": {},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hook_url", help="the flow's hook URL (maillon flows list)")
    parser.add_argument("--count", type=int, default=1, help="how many events to send")
    args = parser.parse_args(argv)
    failures = 0
    # trust_env=False: the hook URL is the user's own Maillon, never to go through a proxy.
    with httpx.Client(timeout=10, trust_env=False) as client:
        for _ in range(args.count):
            body = sample_transaction()
            try:
                answer = client.post(args.hook_url, json=body)
            except httpx.HTTPError as exc:
                # Maillon not started, a wrong port, a URL that is not one: one line, no trace.
                print(f"cannot post to {args.hook_url}: {exc}", file=sys.stderr)
                return 1
            print(answer.status_code, answer.text)
            failures += not answer.is_success
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
