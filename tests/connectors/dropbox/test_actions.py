"""Dropbox's actions over httpx against a fake Dropbox on a real socket."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import ValidationError

from maillon.connectors.dropbox import DropboxConnection, connector
from maillon.connectors.dropbox.actions import CreateFolder, CreateSharedLink, UploadFile
from maillon.connectors.sdk import PermanentError, TransientError
from maillon.connectors.testing import FakeServer
from tests.support.actions import run

UPLOAD = "/content/2/files/upload"
MIB = 1024 * 1024
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 64


def stored(path: str, size: int) -> dict[str, object]:
    """Dropbox's metadata of an uploaded file."""
    name = path.rsplit("/", 1)[-1]
    return {"id": "id:F1", "name": name, "path_display": path, "size": size, "rev": "r1"}


def test_a_small_file_goes_up_in_one_request(
    fake_server: FakeServer, conn: DropboxConnection
) -> None:
    fake_server.on("GET", "/docs/42", (200, PDF, {"Content-Type": "application/pdf"}))
    fake_server.on("POST", UPLOAD, (200, stored("/Investors/Zoë/bulletin.pdf", len(PDF))))

    out = run(
        UploadFile,
        conn,
        {
            "file": {"url": fake_server.url + "docs/42", "name": "bulletin.pdf"},
            "folder": "Investors/Zoë/",
        },
    )

    assert out == {
        "id": "id:F1",
        "name": "bulletin.pdf",
        "path": "/Investors/Zoë/bulletin.pdf",
        "size": len(PDF),
        "rev": "r1",
    }
    [sent] = fake_server.received("POST", UPLOAD)
    assert sent.headers["authorization"] == "Bearer sl.at-1"
    assert sent.headers["content-type"] == "application/octet-stream"
    arg = sent.headers["dropbox-api-arg"]
    assert arg.isascii() and "\\u00eb" in arg  # non-ASCII escaped, as Dropbox requires
    assert json.loads(arg) == {
        "path": "/Investors/Zoë/bulletin.pdf",
        "mode": "add",
        "autorename": True,
        "mute": False,
    }
    assert sent.body == PDF


@pytest.mark.parametrize(
    ("if_exists", "mode", "autorename"),
    [("overwrite", "overwrite", False), ("fail", "add", False)],
)
def test_what_happens_to_an_existing_file_is_chosen(
    fake_server: FakeServer, conn: DropboxConnection, if_exists: str, mode: str, autorename: bool
) -> None:
    fake_server.on("POST", UPLOAD, (200, stored("/a.txt", 2)))

    run(
        UploadFile,
        conn,
        {"file": {"text": "hi", "name": "a.txt"}, "folder": "/", "if_exists": if_exists},
    )

    arg = json.loads(fake_server.received("POST", UPLOAD)[0].headers["dropbox-api-arg"])
    assert (arg["path"], arg["mode"], arg["autorename"]) == ("/a.txt", mode, autorename)


def test_a_large_file_goes_up_in_an_upload_session(
    fake_server: FakeServer, conn: DropboxConnection
) -> None:
    big = bytes(range(256)) * (4 * 17 * 1024)  # 17 MiB: a start, an append and a finish
    fake_server.on("GET", "/scan.tif", (200, big))
    fake_server.on("POST", "/content/2/files/upload_session/start", (200, {"session_id": "S1"}))
    fake_server.on("POST", "/content/2/files/upload_session/append_v2", (200, None))
    fake_server.on(
        "POST", "/content/2/files/upload_session/finish", (200, stored("/scans/scan.tif", len(big)))
    )

    out = run(
        UploadFile,
        conn,
        {
            "file": {"url": fake_server.url + "scan.tif"},
            "folder": "/scans",
            "if_exists": "overwrite",
        },
    )

    assert out["size"] == len(big)
    [start] = fake_server.received("POST", "/content/2/files/upload_session/start")
    [append] = fake_server.received("POST", "/content/2/files/upload_session/append_v2")
    [finish] = fake_server.received("POST", "/content/2/files/upload_session/finish")
    assert json.loads(start.headers["dropbox-api-arg"]) == {"close": False}
    assert json.loads(append.headers["dropbox-api-arg"]) == {
        "cursor": {"session_id": "S1", "offset": 8 * MIB}
    }
    assert json.loads(finish.headers["dropbox-api-arg"]) == {
        "cursor": {"session_id": "S1", "offset": 16 * MIB},
        "commit": {
            "path": "/scans/scan.tif",
            "mode": "overwrite",
            "autorename": False,
            "mute": False,
        },
    }
    assert start.body + append.body + finish.body == big
    assert fake_server.received("POST", UPLOAD) == []


def test_create_folder(fake_server: FakeServer, conn: DropboxConnection) -> None:
    route = "/api/2/files/create_folder_v2"
    folder = {"id": "id:D1", "name": "Ada", "path_display": "/Investors/Ada"}
    fake_server.on(
        "POST",
        route,
        (200, {"metadata": folder}),
        (409, {"error_summary": "path/conflict/folder/..", "error": {".tag": "path"}}),
        (409, {"error_summary": "path/conflict/file/...", "error": {".tag": "path"}}),
    )
    fake_server.on("POST", "/api/2/files/get_metadata", (200, {".tag": "folder", **folder}))

    made = run(CreateFolder, conn, {"path": "/Investors/Ada"})
    kept = run(CreateFolder, conn, {"path": "/Investors/Ada"})

    assert made == {"id": "id:D1", "name": "Ada", "path": "/Investors/Ada", "created": True}
    assert kept == {**made, "created": False}
    assert fake_server.received("POST", route)[0].json() == {"path": "/Investors/Ada"}
    assert fake_server.received("POST", "/api/2/files/get_metadata")[0].json() == {
        "path": "/Investors/Ada"
    }
    with pytest.raises(PermanentError, match=r"path/conflict/file \(something exists"):
        run(CreateFolder, conn, {"path": "/Investors/Ada"})


def test_create_shared_link_gives_a_file_for_later_steps(
    fake_server: FakeServer, conn: DropboxConnection
) -> None:
    route = "/api/2/sharing/create_shared_link_with_settings"
    link = {
        ".tag": "file",
        "url": "https://www.dropbox.com/scl/fi/abc/bulletin.pdf?rlkey=k1&dl=0",
        "name": "bulletin.pdf",
        "path_lower": "/investors/ada/bulletin.pdf",
        "size": 1234,
    }
    fake_server.on(
        "POST",
        route,
        (200, link),
        (
            409,
            {
                "error_summary": "shared_link_already_exists/metadata/..",
                "error": {
                    ".tag": "shared_link_already_exists",
                    "shared_link_already_exists": {".tag": "metadata", "metadata": link},
                },
            },
        ),
        (409, {"error_summary": "shared_link_already_exists/..", "error": {}}),
    )
    fake_server.on("POST", "/api/2/sharing/list_shared_links", (200, {"links": [link]}))

    first = run(
        CreateSharedLink,
        conn,
        {"path": "/Investors/Ada/bulletin.pdf", "expires": "2026-06-30T00:00:00+02:00"},
    )
    again = run(CreateSharedLink, conn, {"path": "/Investors/Ada/bulletin.pdf"})
    listed = run(CreateSharedLink, conn, {"path": "/Investors/Ada/bulletin.pdf"})

    download = "https://www.dropbox.com/scl/fi/abc/bulletin.pdf?rlkey=k1&dl=1"
    assert first["download_url"] == download
    assert first["file"] == {
        "url": download,
        "name": "bulletin.pdf",
        "mime_type": "application/pdf",
        "size": 1234,
    }
    assert again == first and listed == first
    assert fake_server.received("POST", route)[0].json() == {
        "path": "/Investors/Ada/bulletin.pdf",
        "settings": {"audience": "public", "access": "viewer", "expires": "2026-06-29T22:00:00Z"},
    }
    assert fake_server.received("POST", "/api/2/sharing/list_shared_links")[0].json() == {
        "path": "/Investors/Ada/bulletin.pdf",
        "direct_only": True,
    }


def test_refusals_are_classified(fake_server: FakeServer, conn: DropboxConnection) -> None:
    route = "/api/2/files/create_folder_v2"
    fake_server.on(
        "POST",
        route,
        (
            401,
            {"error_summary": "invalid_access_token/..", "error": {".tag": "invalid_access_token"}},
        ),
        (
            401,
            {
                "error_summary": "missing_scope/..",
                "error": {".tag": "missing_scope", "required_scope": "files.content.write"},
            },
        ),
        (
            429,
            {"error_summary": "too_many_requests/..", "error": {"reason": {}}},
            {"Retry-After": "15"},
        ),
        (429, {"error_summary": "too_many_write_operations/", "error": {"retry_after": 4}}),
        (400, 'Error in call to API function "files/create_folder_v2": bad path'),
        (503, "busy"),
    )
    folder = {"path": "/x"}

    with pytest.raises(PermanentError, match="reconnect this Dropbox account"):
        run(CreateFolder, conn, folder)
    with pytest.raises(
        PermanentError, match=r"give the Dropbox app the files\.content\.write permission"
    ):
        run(CreateFolder, conn, folder)
    with pytest.raises(TransientError, match="rate-limiting") as limited:
        run(CreateFolder, conn, folder)
    assert limited.value.retry_after == 15
    with pytest.raises(TransientError) as limited:
        run(CreateFolder, conn, folder)
    assert limited.value.retry_after == 4
    with pytest.raises(PermanentError, match="refused the request: Error in call"):
        run(CreateFolder, conn, folder)
    with pytest.raises(TransientError, match="HTTP 503"):
        run(CreateFolder, conn, folder)


def test_an_unreachable_dropbox_is_transient(
    conn: DropboxConnection, fake_server: FakeServer
) -> None:
    fake_server.stop()
    with pytest.raises(TransientError, match="could not reach Dropbox"):
        run(CreateFolder, conn, {"path": "/x"})


def test_the_connection_check_names_the_account(
    fake_server: FakeServer, conn: DropboxConnection
) -> None:
    route = "/api/2/users/get_current_account"
    fake_server.on("POST", route, (200, {"name": {"display_name": "Ada L"}, "email": "ada@ex.com"}))

    check = asyncio.run(connector.check(conn))  # type: ignore[misc]

    assert check.ok and check.message == "Connected to Dropbox as Ada L (ada@ex.com)."
    [call] = fake_server.received("POST", route)
    assert call.body == b"" and "content-type" not in call.headers


def test_connections_and_paths_are_checked() -> None:
    with pytest.raises(ValidationError, match="give an access token"):
        DropboxConnection()
    with pytest.raises(ValidationError, match="needs the app key"):
        DropboxConnection.model_validate({"refresh_token": "r"})
    with pytest.raises(ValidationError, match=r"without '\.\.'"):
        CreateFolder.Input(path="/a/../../etc")
    assert CreateFolder.Input(path="a//b/./c/").path == "/a/b/c"
