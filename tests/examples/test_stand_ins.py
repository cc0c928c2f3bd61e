"""The Slack and Google stand-ins answer Maillon's real connectors as Slack and Google do, and
print what they receive."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from examples.stand_ins.google import google_stand_in
from examples.stand_ins.slack import WEBHOOK_PATH, slack_stand_in
from maillon.connectors.google import calendar, gmail, sheets
from maillon.connectors.google.client import _credentials, session
from maillon.connectors.slack import SendMessage, SendWebhookMessage
from maillon.connectors.slack import connector as slack
from maillon.connectors.testing import FakeServer, run_action


@pytest.fixture
def slack_server() -> Iterator[FakeServer]:
    with slack_stand_in() as server:
        yield server


@pytest.fixture
def google_server() -> Iterator[FakeServer]:
    with google_stand_in() as server:
        yield server
    session.cache_clear()
    _credentials.cache_clear()
    sheets.header_cache.clear()


def test_slack_messages_are_answered_and_printed(
    slack_server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = {"bot_token": "xoxb-stand-in", "base_url": slack_server.url + "api/"}
    out = asyncio.run(run_action(SendMessage, conn, {"channel": "#sales", "text": "New deal"}))
    assert out["ok"] and out["channel"] == "#sales" and out["ts"]
    hooked = {"webhook_url": slack_server.url + WEBHOOK_PATH.lstrip("/")}
    asyncio.run(run_action(SendWebhookMessage, hooked, {"text": "Goal reached"}))
    assert capsys.readouterr().out == "#sales: New deal\n(incoming webhook): Goal reached\n"

    assert slack.check is not None
    check = asyncio.run(slack.check(slack.connection.model_validate({**conn, **hooked})))
    assert check.ok, check.message


def test_google_mail_rows_and_events_are_answered_and_printed(
    google_server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = {
        "client_id": "stand-in",
        "client_secret": "stand-in",
        "refresh_token": "stand-in",
        "token_uri": google_server.url + "token",
        "api_endpoint": google_server.url,
    }
    mail = {"to": "backoffice@example.com", "subject": "New deal", "text": "1,500.00 EUR"}
    assert asyncio.run(run_action(gmail.SendEmail, conn, mail))["message_id"]
    row = {
        "spreadsheet": "SID",
        "sheet": "Transactions",
        "values": {"Amount": 1500, "Status": "OK"},
    }
    appended = asyncio.run(run_action(sheets.AppendRow, conn, row))
    assert appended["updated_range"] == "'Transactions'!A2:D2"
    event = {"calendar": "primary", "summary": "Call Ada", "start": "2026-05-04T10:00:00+02:00"}
    assert asyncio.run(run_action(calendar.CreateEvent, conn, event))["event_id"]

    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == ["Gmail: to backoffice@example.com: New deal", "    1,500.00 EUR"]
    assert printed[2] == "Sheets: row 2 of SID/Transactions: Amount=1500, Status=OK"
    assert printed[3].startswith("Calendar: Call Ada at 2026-05-04T10:00:00")

    assert gmail.connector.check is not None
    check = asyncio.run(gmail.connector.check(gmail.connector.connection.model_validate(conn)))
    assert check.message.endswith("for account you@example.com from the refresh token.")
