"""The seed use case with the example flows as shipped: Particeep posts a new transaction, and
the back office gets a Gmail e-mail and a Google Sheets row (real Google client libraries,
fake Google and fake Particeep servers on real sockets)."""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.particeep.entities import make_transaction
from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.google.client import _credentials, session
from maillon.connectors.google.sheets import header_cache
from maillon.connectors.testing import FakeServer
from maillon.engine.flows import load_yaml
from maillon.engine.settings import Settings
from tests.support.server import serve_at_public_url
from tests.support.services import Blocking
from tests.support.wait import wait_for

EXAMPLES = Path(__file__).parents[2] / "examples"
SID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
HEADERS = f"/v4/spreadsheets/{SID}/values/%27Transactions%27%211%3A1"
APPEND = f"/v4/spreadsheets/{SID}/values/%27Transactions%27%21A1:append"


@pytest.fixture
def google(fake_server: FakeServer) -> Iterator[FakeServer]:
    fake_server.on("POST", "/token", (200, {"access_token": "fresh", "expires_in": 3600}))
    fake_server.on(
        "POST", "/gmail/v1/users/me/messages/send", (200, {"id": "m1", "threadId": "t1"})
    )
    fake_server.on(
        "GET",
        HEADERS,
        (200, {"values": [["Date", "Amount", "Currency", "Status", "Investor", "Transaction"]]}),
    )
    fake_server.on(
        "POST",
        APPEND,
        (200, {"updates": {"updatedRange": "Transactions!A2:F2", "updatedRows": 1}}),
    )
    yield fake_server
    session.cache_clear()
    _credentials.cache_clear()
    header_cache.clear()


def test_transaction_emails_the_back_office_and_adds_a_sheet_row(
    make_settings: Callable[..., Settings], google: FakeServer
) -> None:
    with FakeParticeep("k", "s") as particeep, serve_at_public_url(make_settings) as (url, _, app):
        _, token = Blocking(app.state.runtime.services).tokens.create("seed")
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        connections: list[dict[str, Any]] = [
            {
                "app": "particeep",
                "name": "particeep-prod",
                "values": {
                    "api_key": "k",
                    "api_secret": "s",
                    "environment": "custom",
                    "base_url": particeep.url,
                },
            },
            {
                "app": "google",
                "name": "backoffice-google",
                "values": {
                    "client_id": "cid",
                    "client_secret": "cs",
                    "refresh_token": "r1",
                    "account_email": "maillon@example.com",
                    "token_uri": google.url + "token",
                    "api_endpoint": google.url,
                },
            },
        ]
        for c in connections:
            assert api.post("/api/connections", json=c).status_code == 201
        for name in ("transaction_to_gmail.yaml", "transaction_to_sheets.yaml"):
            r = api.post("/api/flows", json=load_yaml((EXAMPLES / name).read_text())[0])
            assert r.status_code == 201, r.text
            assert r.json()["subscription"]["status"] == "registered"
        assert len(particeep.webhooks("transaction_created")) == 1  # one URL for both flows

        tx = make_transaction()
        tx.update(
            amount=150000, currency="EUR", status="PENDING", created_at="2026-05-02T09:15:00Z"
        )
        particeep.emit("transaction_created", tx)
        assert particeep.wait_idle()

        wait_for(
            lambda: (
                google.received("POST", APPEND)
                and google.received("POST", "/gmail/v1/users/me/messages/send")
            ),
            what="the e-mail and the sheet row",
        )
        api.close()

    [sent] = google.received("POST", "/gmail/v1/users/me/messages/send")
    assert sent.headers["authorization"] == "Bearer fresh"
    mime = email.message_from_bytes(
        base64.urlsafe_b64decode(sent.json()["raw"]), policy=email.policy.default
    )
    assert mime["To"] == "backoffice@example.com"
    assert mime["Subject"] == "Nouvelle transaction : 1,500.00 EUR"  # RFC 2047 round trip
    body = mime.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Amount:   1,500.00 EUR" in text and "Date:     02/05/2026 11:15" in text
    assert f"Id:       {tx['id']}" in text

    [row] = google.received("POST", APPEND)
    assert row.query["valueInputOption"] == ["USER_ENTERED"]
    assert row.json() == {
        "values": [["2026-05-02 11:15", 1500.0, "EUR", "PENDING", tx["issuer_id"], tx["id"]]]
    }
