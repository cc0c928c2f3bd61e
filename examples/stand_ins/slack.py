"""A stand-in for Slack on 127.0.0.1: the Web API's ``chat.postMessage`` and ``auth.test``,
and incoming webhooks, answered as Slack answers them; every message is printed.

    python -m examples.stand_ins.slack [--port 8089]

Point a Slack connection at it (the token is not checked, any ``xoxb-`` value does)::

    maillon connections add slack team-slack --set bot_token=xoxb-stand-in \\
        --set base_url=http://127.0.0.1:8089/api/

or, for ``slack.send_webhook_message``,
``--set webhook_url=http://127.0.0.1:8089/services/T000/B000/STANDIN``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Sequence

from examples.stand_ins._serve import say, serve
from maillon.connectors.testing import Answer, FakeServer, Recorded

__all__ = ["WEBHOOK_PATH", "main", "slack_stand_in"]

#: The incoming webhook the stand-in answers (any path under /services/ does).
WEBHOOK_PATH = "/services/T000/B000/STANDIN"
_seq = itertools.count(1)


def _body(request: Recorded) -> dict[str, object]:
    """A Web API call's arguments: slack_sdk sends JSON, other clients forms."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = request.json()
        return body if isinstance(body, dict) else {}
    return {k: v[0] for k, v in request.form().items()}


def _authed(request: Recorded) -> bool:
    return request.headers.get("authorization", "").startswith("Bearer xox")


def _post_message(request: Recorded) -> Answer:
    if not _authed(request):
        return 200, {"ok": False, "error": "not_authed"}
    args = _body(request)
    channel, text = str(args.get("channel") or ""), str(args.get("text") or "")
    if not channel:
        return 200, {"ok": False, "error": "channel_not_found"}
    if not text and not args.get("blocks"):
        return 200, {"ok": False, "error": "no_text"}
    say(f"{channel}: {text or json.dumps(args.get('blocks'))}")
    # A ts is unique per message in a channel: the time, and a counter for messages at once.
    ts = f"{int(time.time())}.{next(_seq):06d}"
    return 200, {"ok": True, "channel": channel, "ts": ts, "message": {"text": text, "ts": ts}}


def _auth_test(request: Recorded) -> Answer:
    if not _authed(request):
        return 200, {"ok": False, "error": "not_authed"}
    return 200, {
        "ok": True,
        "team": "Stand-in workspace",
        "user": "maillon",
        "team_id": "T000",
        "user_id": "U000",
    }


def _webhook(request: Recorded) -> Answer:
    try:
        message = json.loads(request.body)
    except ValueError:
        return 400, "invalid_payload"
    if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
        return 400, "no_text"  # what Slack answers to an empty message, which it does not post
    say(f"(incoming webhook): {message.get('text') or json.dumps(message.get('blocks'))}")
    return 200, "ok"


def slack_stand_in(port: int = 0) -> FakeServer:
    """The stand-in, not started (``port`` 0: any free port)."""
    server = FakeServer(port=port)
    server.on("POST", "/api/chat.postMessage", _post_message)
    server.on("POST", "/api/auth.test", _auth_test)
    server.on("POST", "/services/*", _webhook)
    return server


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.stand_ins.slack", description="A local stand-in for Slack."
    )
    parser.add_argument("--port", type=int, default=8089, help="default %(default)s")
    args = parser.parse_args(argv)
    base = f"http://127.0.0.1:{args.port}"
    banner = f"""\
Slack stand-in on {base}/ (Ctrl-C stops it)
Point a Slack connection at it:
  .venv/bin/maillon connections add slack team-slack --set bot_token=xoxb-stand-in \\
      --set base_url={base}/api/
  (incoming webhook: --set webhook_url={base}{WEBHOOK_PATH})
Messages posted to it:"""
    return serve(slack_stand_in(args.port), args.port, banner)


if __name__ == "__main__":
    sys.exit(main())
