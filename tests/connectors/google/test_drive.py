"""Google Drive through google-api-python-client against a fake Google on a real socket."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import hashlib
import json
from email.message import EmailMessage

import pytest
from pydantic import ValidationError

from maillon.connectors.google import GoogleConnection
from maillon.connectors.google.drive import (
    CopyFile,
    CreateFolder,
    ShareFile,
    UploadFile,
    check_connection,
    connector,
    drive_id_from,
)
from maillon.connectors.sdk import PermanentError, TransientError
from maillon.connectors.testing import FakeServer
from tests.connectors.google.support import google_error
from tests.support.actions import run

FILES = "/drive/v3/files"
UPLOAD = "/upload/drive/v3/files"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 64
CREATED = {
    "id": "F1",
    "name": "bulletin.pdf",
    "mimeType": "application/pdf",
    "size": str(len(PDF)),
    "webViewLink": "https://drive.google.com/file/d/F1/view",
    "parents": ["FOLDER1"],
}


def multipart(body: bytes, content_type: str) -> EmailMessage:
    """The multipart/related body of an upload, parsed."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.message_from_bytes(head + body, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_small_file_from_a_url_goes_up_in_one_multipart_request(
    google: FakeServer, conn: GoogleConnection
) -> None:
    google.on("GET", "/particeep/docs/42", (200, PDF, {"Content-Type": "application/pdf"}))
    google.on("POST", UPLOAD, (200, CREATED))

    out = run(
        UploadFile,
        conn,
        {
            "file": {"url": google.url + "particeep/docs/42", "name": "bulletin.pdf"},
            "folder_id": "https://drive.google.com/drive/folders/FOLDER1abcdef",
            "description": "Bulletin de souscription",
        },
    )

    assert out["file_id"] == "F1" and out["size"] == len(PDF) and out["parent_id"] == "FOLDER1"
    [sent] = google.received("POST", UPLOAD)
    assert sent.headers["authorization"] == "Bearer fresh"
    assert sent.query["uploadType"] == ["multipart"]
    assert sent.query["supportsAllDrives"] == ["true"]
    metadata, media = multipart(sent.body, sent.headers["content-type"]).iter_parts()
    assert json.loads(metadata.get_content()) == {
        "name": "bulletin.pdf",
        "parents": ["FOLDER1abcdef"],
        "description": "Bulletin de souscription",
        "appProperties": {"maillonStep": hashlib.sha256(b"run-1:step").hexdigest()[:40]},
    }
    assert media.get_content_type() == "application/pdf"
    assert media.get_content() == PDF


def test_a_large_file_goes_up_in_a_resumable_session(
    google: FakeServer, conn: GoogleConnection
) -> None:
    big = bytes(range(256)) * (24 * 1024 + 1)  # just over 6 MiB
    google.on(
        "POST", UPLOAD, (200, {}, {"Location": google.url + "upload/session/s1?upload_id=u1"})
    )
    google.on("PUT", "/upload/session/s1", (200, {**CREATED, "size": str(len(big))}))

    encoded = {"base64": base64.b64encode(big).decode(), "name": "scan.tif"}
    out = run(UploadFile, conn, {"file": encoded, "name": "Scan.tif"})

    assert out["size"] == len(big)
    [start] = google.received("POST", UPLOAD)
    assert start.query["uploadType"] == ["resumable"]
    assert start.headers["x-upload-content-type"] == "image/tiff"
    assert start.json()["name"] == "Scan.tif"
    [chunk] = google.received("PUT", "/upload/session/s1")
    assert chunk.query == {"upload_id": ["u1"]}
    assert chunk.headers["content-range"] == f"bytes 0-{len(big) - 1}/{len(big)}"
    assert chunk.body == big


def test_a_retried_upload_returns_the_file_its_first_attempt_made(
    google: FakeServer, conn: GoogleConnection
) -> None:
    google.on("GET", FILES, (200, {"files": [CREATED]}))
    file = {"text": "hello", "name": "a.txt"}

    out = run(UploadFile, conn, {"file": file}, attempt=2, idempotency_key="r9:upload")

    assert out["file_id"] == "F1"
    assert google.received("POST", UPLOAD) == []
    [search] = google.received("GET", FILES)
    mark = hashlib.sha256(b"r9:upload").hexdigest()[:40]
    assert search.query["q"] == [
        f"appProperties has {{ key='maillonStep' and value='{mark}' }} and trashed = false"
    ]


def test_a_file_over_the_limit_is_not_uploaded(google: FakeServer, conn: GoogleConnection) -> None:
    google.on("GET", "/big.pdf", (200, PDF))

    with pytest.raises(PermanentError, match="larger than the step's limit of 1000 bytes"):
        run(UploadFile, conn, {"file": {"url": google.url + "big.pdf"}, "max_file_bytes": 1000})
    assert google.received("POST", UPLOAD) == []


def test_create_folder_reuses_the_folder_of_that_name(
    google: FakeServer, conn: GoogleConnection
) -> None:
    google.on("GET", FILES, (200, {"files": [{"id": "D1", "name": "O'Brien", "webViewLink": "l"}]}))

    out = run(CreateFolder, conn, {"name": "O'Brien", "parent_id": "PARENT1"})

    assert out == {"folder_id": "D1", "name": "O'Brien", "web_view_link": "l", "created": False}
    [search] = google.received("GET", FILES)
    assert search.query["q"] == [
        "name = 'O\\'Brien' and mimeType = 'application/vnd.google-apps.folder' and "
        "'PARENT1' in parents and trashed = false"
    ]
    assert google.received("POST", FILES) == []


def test_create_folder_creates_it_when_missing(google: FakeServer, conn: GoogleConnection) -> None:
    google.on("GET", FILES, (200, {"files": []}))
    google.on("POST", FILES, (200, {"id": "D2", "name": "Investors"}))

    out = run(CreateFolder, conn, {"name": "Investors"})

    assert out["folder_id"] == "D2" and out["created"] is True
    [search] = google.received("GET", FILES)
    assert "'root' in parents" in search.query["q"][0]
    [create] = google.received("POST", FILES)
    body = create.json()
    assert body["mimeType"] == "application/vnd.google-apps.folder"
    assert body["parents"] == ["root"] and body["name"] == "Investors"


def test_copy_file_renames_a_template_into_a_folder(
    google: FakeServer, conn: GoogleConnection
) -> None:
    google.on("POST", f"{FILES}/TPL0123456789/copy", (200, {**CREATED, "id": "C1"}))

    out = run(
        CopyFile,
        conn,
        {
            "file_id": "https://docs.google.com/document/d/TPL0123456789/edit",
            "name": "Contrat Lovelace",
            "folder_id": "D1",
        },
    )

    assert out["file_id"] == "C1"
    [copy] = google.received("POST", f"{FILES}/TPL0123456789/copy")
    assert copy.json()["name"] == "Contrat Lovelace" and copy.json()["parents"] == ["D1"]


def test_share_file_gives_one_person_access(google: FakeServer, conn: GoogleConnection) -> None:
    path = f"{FILES}/F1abcdefghij/permissions"
    google.on("POST", path, (200, {"id": "P1", "role": "writer", "emailAddress": "ada@ex.com"}))

    out = run(
        ShareFile,
        conn,
        {"file_id": "F1abcdefghij", "email": "ada@ex.com", "role": "writer", "message": "Voici"},
    )

    assert out == {"permission_id": "P1", "role": "writer", "email": "ada@ex.com"}
    [share] = google.received("POST", path)
    assert share.json() == {"type": "user", "role": "writer", "emailAddress": "ada@ex.com"}
    assert share.query["sendNotificationEmail"] == ["true"]
    assert share.query["emailMessage"] == ["Voici"]


def test_sharing_without_an_email_sends_no_message(
    google: FakeServer, conn: GoogleConnection
) -> None:
    path = f"{FILES}/F1abcdefghij/permissions"
    google.on("POST", path, (200, {"id": "P1"}))

    run(
        ShareFile,
        conn,
        {"file_id": "F1abcdefghij", "email": "a@b.c", "notify": False, "message": "x"},
    )

    [share] = google.received("POST", path)
    assert share.query["sendNotificationEmail"] == ["false"] and "emailMessage" not in share.query


def test_errors_are_classified(google: FakeServer, conn: GoogleConnection) -> None:
    path = f"{FILES}/F1abcdefghij/permissions"
    google.on(
        "POST",
        path,
        (429, google_error(429, "Rate limit", "rateLimitExceeded"), {"Retry-After": "12"}),
        (404, google_error(404, "File not found: F1abcdefghij.", "notFound")),
        (400, google_error(400, 'Bad Request. User message: "x"', "invalidSharingRequest")),
    )
    share = {"file_id": "F1abcdefghij", "email": "a@b.c"}

    with pytest.raises(TransientError) as busy:
        run(ShareFile, conn, share)
    assert busy.value.retry_after == 12
    with pytest.raises(PermanentError, match="File not found"):
        run(ShareFile, conn, share)
    with pytest.raises(PermanentError, match="invalidSharingRequest"):
        run(ShareFile, conn, share)


def test_inputs_are_checked_before_anything_is_sent() -> None:
    assert drive_id_from("https://drive.google.com/open?id=1AbCdEfGhIjK") == "1AbCdEfGhIjK"
    with pytest.raises(ValidationError, match="not a Drive ID"):
        ShareFile.Input(file_id="not an id!", email="a@b.c")
    with pytest.raises(ValidationError, match="not an email address"):
        ShareFile.Input(file_id="F1", email="ada")


def test_the_connection_check_names_the_account(google: FakeServer, conn: GoogleConnection) -> None:
    google.on(
        "GET",
        "/drive/v3/about",
        (200, {"user": {"emailAddress": "ada@example.com"}}),
        (403, google_error(403, "Insufficient Permission", "insufficientPermissions")),
    )

    ok = asyncio.run(check_connection(conn))
    assert ok.ok and "ada@example.com" in ok.message
    refused = asyncio.run(check_connection(conn))
    assert not refused.ok and "connect it again to grant Drive access" in refused.message
    assert connector.check is check_connection
