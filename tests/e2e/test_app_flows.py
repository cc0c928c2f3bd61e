"""The file, marketing and task apps' example flows as shipped, end to end: Particeep (a fake
API that registers the hooks and delivers events) triggers them in a served Maillon, whose
connectors call fake Google Drive, Dropbox, Mailchimp and Trello servers over real sockets
with their real clients, and download the document from a fake file host."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.particeep.entities import make_transaction, make_user
from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.google.client import _credentials, session
from maillon.connectors.testing import FakeServer
from maillon.engine.flows import load_yaml
from maillon.engine.settings import Settings
from tests.support.server import serve_at_public_url
from tests.support.services import Blocking
from tests.support.wait import wait_for

EXAMPLES = Path(__file__).parents[2] / "examples"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 200
DRIVE_PARENT = "1InvestorsFolder0123456789abcd"
DROPBOX = "/dropbox/content/2/files/upload"
TRELLO_LIST = "5f1d6e7c8b9a0b1c2d3e4f51"
ADA = hashlib.md5(b"ada.lovelace@example.org").hexdigest()


@pytest.fixture
def apps(fake_server: FakeServer) -> Iterator[FakeServer]:
    """One fake server for every app, each under a prefix of its own, and the file host."""
    fake = fake_server
    fake.on("GET", "/files/bulletin-0042", (200, PDF, {"Content-Type": "application/pdf"}))
    # Google: the token endpoint, a folder search that finds nothing, the folder, the upload.
    fake.on("POST", "/token", (200, {"access_token": "fresh", "expires_in": 3600}))
    fake.on("GET", "/drive/v3/files", (200, {"files": []}))
    fake.on("POST", "/drive/v3/files", (200, {"id": "D1", "name": "folder"}))
    fake.on("POST", "/upload/drive/v3/files", (200, {"id": "F1", "name": "b.pdf"}))
    # Dropbox: the upload, then the link.
    fake.on(
        "POST",
        DROPBOX,
        (200, {"id": "id:1", "name": "b.pdf", "path_display": "/Investors/u/b.pdf", "size": 1}),
    )
    fake.on(
        "POST",
        "/dropbox/api/2/sharing/create_shared_link_with_settings",
        (200, {".tag": "file", "url": "https://db.example/s/b.pdf?dl=0", "name": "b.pdf"}),
    )
    # Mailchimp (the member's ID is the MD5 of the address, lower-cased) and Trello.
    fake.on("PUT", f"/mailchimp/3.0/lists/a1b2c3d4e5/members/{ADA}", (200, {"id": ADA}))
    fake.on("POST", f"/mailchimp/3.0/lists/a1b2c3d4e5/members/{ADA}/tags", (204, b""))
    fake.on(
        "POST",
        "/trello/1/cards",
        (200, {"id": "C" * 24, "name": "card", "shortUrl": "https://trello.com/c/x"}),
    )
    fake.on("GET", f"/trello/1/lists/{TRELLO_LIST}", (200, {"idBoard": "B" * 24}))
    fake.on(
        "GET",
        f"/trello/1/boards/{'B' * 24}/labels",
        (200, [{"id": "L" * 24, "name": "Compliance"}]),
    )
    yield fake
    session.cache_clear()
    _credentials.cache_clear()


def _connections(apps: FakeServer, particeep: FakeParticeep) -> list[dict[str, Any]]:
    url = apps.url
    return [
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
                "token_uri": url + "token",
                "api_endpoint": url,
            },
        },
        {
            "app": "dropbox",
            "name": "team-dropbox",
            "values": {
                "access_token": "sl.app-token",
                "api_url": url + "dropbox/api/2/",
                "content_url": url + "dropbox/content/2/",
            },
        },
        {
            "app": "mailchimp",
            "name": "newsletter-mailchimp",
            "values": {"api_key": "key-us6", "api_url": url + "mailchimp/3.0/"},
        },
        {
            "app": "trello",
            "name": "backoffice-trello",
            "values": {"api_key": "k3y", "token": "t0k", "api_url": url + "trello/1/"},
        },
    ]


def test_the_example_flows_file_subscribe_and_open_a_card(
    make_settings: Callable[..., Settings], apps: FakeServer
) -> None:
    with FakeParticeep("k", "s") as particeep, serve_at_public_url(make_settings) as (url, _, app):
        _, token = Blocking(app.state.runtime.services).tokens.create("apps")
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        for connection in _connections(apps, particeep):
            r = api.post("/api/connections", json=connection)
            assert r.status_code == 201, r.text
        for name in (
            "document_to_drive.yaml",
            "document_to_dropbox.yaml",
            "user_to_mailchimp.yaml",
            "transaction_to_trello.yaml",
        ):
            r = api.post("/api/flows", json=load_yaml((EXAMPLES / name).read_text())[0])
            assert r.status_code == 201, r.text
            assert r.json()["subscription"]["status"] == "registered"
            assert r.json()["warnings"] == []  # every field read is in a sample or an output

        investor = particeep.add_user(**make_user())
        document = {
            "id": "5b9e2d71-8f3a-4c6b-9d0e-2a7f1c4e8b36",
            "created_at": "2026-05-02T10:05:12Z",
            "owner_id": investor["id"],
            "target_id": investor["id"],
            "target_type": "USER",
            "name": "bulletin-0042.pdf",
            "content_type": "application/pdf",
            "doc_type": "SUBSCRIPTION",
            "permalink": apps.url + "files/bulletin-0042?signature=abc",
        }
        particeep.emit("document_created", document)
        newcomer = make_user()
        newcomer["email"] = "Ada.Lovelace@Example.org"
        particeep.emit("user_created", newcomer)
        tx = make_transaction()
        tx.update(
            amount=1500000, currency="EUR", status="PENDING", created_at="2026-05-02T09:15:00Z"
        )
        particeep.emit("transaction_created", tx)
        assert particeep.wait_idle()

        wait_for(
            lambda: (
                apps.received("POST", "/upload/drive/v3/files")
                and apps.received("POST", "/dropbox/api/2/sharing/create_shared_link_with_settings")
                and apps.received("POST", f"/mailchimp/3.0/lists/a1b2c3d4e5/members/{ADA}/tags")
                and apps.received("POST", "/trello/1/cards")
            ),
            what=lambda: f"every app called; got {[(r.method, r.path) for r in apps.requests]}",
        )
        api.close()

    # Drive: the investor's folder (named from Particeep's user) is created, the PDF goes in.
    [folder] = apps.received("POST", "/drive/v3/files")
    assert folder.json()["name"] == (
        f"{investor['last_name']} {investor['first_name']} ({investor['id']})"
    )
    assert folder.json()["parents"] == [DRIVE_PARENT]
    [upload] = apps.received("POST", "/upload/drive/v3/files")
    head = f"Content-Type: {upload.headers['content-type']}\r\n\r\n".encode()
    mime = email.message_from_bytes(head + upload.body, policy=email.policy.default)
    assert isinstance(mime, EmailMessage)
    metadata, media = mime.iter_parts()
    assert json.loads(metadata.get_content())["parents"] == ["D1"]
    assert media.get_content_type() == "application/pdf" and media.get_content() == PDF
    # Both document flows downloaded it, each once.
    assert len(apps.received("GET", "/files/bulletin-0042")) == 2

    # Dropbox: the same bytes, then a team link to what was stored.
    [stored] = apps.received("POST", DROPBOX)
    assert json.loads(stored.headers["dropbox-api-arg"])["path"] == (
        f"/Investors/{investor['id']}/bulletin-0042.pdf"
    )
    assert stored.body == PDF
    [link] = apps.received("POST", "/dropbox/api/2/sharing/create_shared_link_with_settings")
    assert link.json()["path"] == "/Investors/u/b.pdf"
    assert link.json()["settings"]["audience"] == "team"

    # Mailchimp: the upsert by the address's hash, then the tags.
    [put] = apps.received("PUT", f"/mailchimp/3.0/lists/a1b2c3d4e5/members/{ADA}")
    assert put.json()["merge_fields"] == {
        "FNAME": newcomer["first_name"],
        "LNAME": newcomer["last_name"],
    }
    [tags] = apps.received("POST", f"/mailchimp/3.0/lists/a1b2c3d4e5/members/{ADA}/tags")
    assert [t["name"] for t in tags.json()["tags"]] == ["investor", "particeep"]

    # Trello: the card, with the amount first and the Compliance label found by name.
    [card] = apps.received("POST", "/trello/1/cards")
    body = card.json()
    assert body["name"] == f"15,000.00 EUR: check transaction {tx['id']}"
    assert body["idList"] == TRELLO_LIST and body["idLabels"] == "L" * 24
    assert f"Investor: {tx['issuer_id']}" in body["desc"]
