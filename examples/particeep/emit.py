"""Make the fake Particeep API deliver an event, as Particeep would on a real account.

    python -m examples.particeep.emit transaction_created
    python -m examples.particeep.emit transaction_created --set amount=250000 --set status=SUCCEEDED
    python -m examples.particeep.emit user_created --api http://127.0.0.1:8088

The fake (``python -m examples.particeep.fake_api``) posts the entity to every webhook
registered for the event, which Maillon did when a flow on that event was enabled; this
command prints how each webhook answered. The exit status is 0 only if at least one webhook
received the event and every one answered 2xx.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import httpx

from examples.particeep.entities import make_entity
from examples.particeep.fake_api import EMIT_PREFIX

__all__ = ["main"]


def _field(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, got {text!r}")
    try:
        return name, json.loads(value)  # numbers, booleans, objects
    except ValueError:
        return name, value


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, ask the fake to deliver, print each delivery."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.particeep.emit",
        description="Make the fake Particeep API deliver an event to its registered webhooks.",
    )
    parser.add_argument("event", help="the event, e.g. transaction_created or user_created")
    parser.add_argument(
        "--api", default="http://127.0.0.1:8088", help="the fake API (default %(default)s)"
    )
    parser.add_argument(
        "--set",
        dest="fields",
        action="append",
        type=_field,
        default=[],
        metavar="FIELD=VALUE",
        help="a field of the made-up entity (JSON values allowed); repeatable",
    )
    args = parser.parse_args(argv)
    try:
        entity = {**make_entity(args.event), **dict(args.fields)}
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    url = args.api.rstrip("/") + EMIT_PREFIX + args.event
    try:
        # trust_env=False: the fake API is local, never to be reached through a proxy.
        answer = httpx.post(url, json=entity, timeout=60, trust_env=False)
    except httpx.HTTPError as exc:
        print(f"cannot reach the fake Particeep API at {args.api}: {exc}", file=sys.stderr)
        return 1
    if not answer.is_success:
        print(
            f"the fake Particeep API refused: {answer.status_code} {answer.text}", file=sys.stderr
        )
        return 1
    deliveries = answer.json()["deliveries"]
    print(f"{args.event} {entity['id']}: delivered to {len(deliveries)} webhook(s)")
    for d in deliveries:
        print(
            f"  {d['status'] or 'no answer'}  {d['url']}"
            + (f"  ({d['error']})" if d["error"] else "")
        )
    if not deliveries:
        print(
            f"no webhook is registered for {args.event}: enable a flow on this event in Maillon "
            "(with a Particeep connection to this fake API), which registers one",
            file=sys.stderr,
        )
    ok = deliveries and all(
        d["status"] is not None and 200 <= d["status"] < 300 for d in deliveries
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
