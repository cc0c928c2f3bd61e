"""A stand-in for Google on 127.0.0.1: the OAuth token endpoint, Gmail's ``messages.send``,
Sheets' header read and ``values.append``, and Calendar's ``events.insert``; every e-mail, row
and event is printed.

    python -m examples.stand_ins.google [--port 8090] [--headers Date,Amount,...]

Point a Google connection at it (no secret is checked)::

    maillon connections add google backoffice-google --set client_id=stand-in \\
        --set client_secret=stand-in --set refresh_token=stand-in \\
        --set account_email=you@example.com \\
        --set token_uri=http://127.0.0.1:8090/token --set api_endpoint=http://127.0.0.1:8090/

Every spreadsheet has one sheet whose first row holds ``--headers`` (by default the columns of
``examples/transaction_to_sheets.yaml``), so that rows given by header find their columns.
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import itertools
import json
import re
import sys
from collections.abc import Sequence
from email.message import EmailMessage
from urllib.parse import unquote

from examples.stand_ins._serve import say, serve
from maillon.connectors.testing import Answer, FakeServer, Recorded, Responder

__all__ = ["DEFAULT_HEADERS", "google_stand_in", "main"]

#: The header row of ``examples/transaction_to_sheets.yaml``'s sheet.
DEFAULT_HEADERS = ("Date", "Amount", "Currency", "Status", "Investor", "Transaction")
_ids = itertools.count(1)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(account: str) -> Answer:
    # An ID token names the account, as Google's does when the consent asked for "email"
    # (Maillon reads it without checking the signature, as OpenID Connect allows over TLS).
    claims = {"iss": "stand-in", "sub": "1", "email": account}
    id_token = (
        ".".join(_b64url(json.dumps(part).encode()) for part in ({"alg": "none"}, claims)) + "."
    )
    return 200, {
        "access_token": f"stand-in-{next(_ids)}",
        "expires_in": 3600,
        "token_type": "Bearer",
        "id_token": id_token,
    }


def _send_mail(request: Recorded) -> Answer:
    raw = base64.urlsafe_b64decode(request.json()["raw"] + "==")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("plain", "html"))
    text = body.get_content().strip() if body is not None else ""
    lines = [f"Gmail: to {message['To']}: {message['Subject']}"]
    lines += [f"    {line}" for line in text.splitlines()]
    say("\n".join(lines))
    number = next(_ids)
    return 200, {"id": f"stand-in-{number}", "threadId": f"stand-in-{number}", "labelIds": ["SENT"]}


_VALUES = re.compile(
    r"/v4/spreadsheets/(?P<sheet_id>[^/]+)/values/(?P<range>[^:]+)(?P<append>:append)?"
)


def _sheets(headers: Sequence[str]) -> tuple[Responder, Responder]:
    """The header read and the append of every sheet, rows counted per sheet."""
    rows: dict[str, int] = {}

    def read(request: Recorded) -> Answer:
        found = _VALUES.fullmatch(request.path)
        if found is None:
            return 404, {"error": {"code": 404, "message": "Requested entity was not found."}}
        return 200, {"range": unquote(found["range"]), "values": [list(headers)]}

    def append(request: Recorded) -> Answer:
        found = _VALUES.fullmatch(request.path)
        if found is None or not found["append"]:
            return 404, {"error": {"code": 404, "message": "Requested entity was not found."}}
        sheet = unquote(found["range"]).split("!")[0].strip("'")
        key = f"{found['sheet_id']}/{sheet}"
        values = request.json()["values"][0]
        rows[key] = rows.get(key, 1) + 1
        cells = ", ".join(
            f"{header}={value}"
            for header, value in zip(headers, values, strict=False)
            if value not in (None, "")
        )
        say(f"Sheets: row {rows[key]} of {key}: {cells}")
        where = f"'{sheet}'!A{rows[key]}:{chr(ord('A') + len(values) - 1)}{rows[key]}"
        return 200, {
            "spreadsheetId": found["sheet_id"],
            "updates": {"updatedRange": where, "updatedRows": 1, "updatedCells": len(values)},
        }

    return read, append


def _calendar_event(request: Recorded) -> Answer:
    event = request.json()
    start = event.get("start", {})
    say(f"Calendar: {event.get('summary')} at {start.get('dateTime') or start.get('date')}")
    number = next(_ids)
    return 200, {
        "id": f"standin{number}",
        "htmlLink": f"https://calendar.example.com/event?eid=standin{number}",
        "status": "confirmed",
        **event,
    }


def google_stand_in(
    port: int = 0, *, account: str = "you@example.com", headers: Sequence[str] = DEFAULT_HEADERS
) -> FakeServer:
    """The stand-in, not started (``port`` 0: any free port)."""
    server = FakeServer(port=port)
    server.on("POST", "/token", lambda request: _token(account))
    server.on("POST", "/gmail/v1/users/me/messages/send", _send_mail)
    read, append = _sheets(headers)
    server.on("GET", "/v4/spreadsheets/*", read)
    server.on("POST", "/v4/spreadsheets/*", append)
    server.on("POST", "/calendar/v3/calendars/*", _calendar_event)
    return server


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.stand_ins.google", description="A local stand-in for Google."
    )
    parser.add_argument("--port", type=int, default=8090, help="default %(default)s")
    parser.add_argument(
        "--account", default="you@example.com", help="the account tokens are for (%(default)s)"
    )
    parser.add_argument(
        "--headers",
        default=",".join(DEFAULT_HEADERS),
        help="the header row of every sheet, comma-separated (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    base = f"http://127.0.0.1:{args.port}"
    banner = f"""\
Google stand-in on {base}/ (Ctrl-C stops it)
Point a Google connection at it:
  .venv/bin/maillon connections add google backoffice-google --set client_id=stand-in \\
      --set client_secret=stand-in --set refresh_token=stand-in \\
      --set account_email={args.account} \\
      --set token_uri={base}/token --set api_endpoint={base}/
E-mails, rows and events it receives:"""
    server = google_stand_in(args.port, account=args.account, headers=args.headers.split(","))
    return serve(server, args.port, banner)


if __name__ == "__main__":
    sys.exit(main())
