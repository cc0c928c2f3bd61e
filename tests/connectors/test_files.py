"""Files between steps: references, inline content, downloads within a size limit."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from maillon.connectors.sdk import (
    FileInput,
    FileRef,
    PermanentError,
    TransientError,
    aclose_fetch_clients,
    open_file,
)
from maillon.connectors.testing import FakeServer
from tests.support.modules import loaded_by

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40


def load(file: FileInput, max_bytes: int = 1_000_000) -> tuple[str, str, int, bytes]:
    """Open ``file`` as an action would; what it holds."""

    async def go() -> tuple[str, str, int, bytes]:
        try:
            async with open_file(file, max_bytes=max_bytes, timeout=5) as loaded:
                return loaded.name, loaded.mime_type, loaded.size, b"".join(loaded.chunks(1000))
        finally:
            await aclose_fetch_clients()

    return asyncio.run(go())


def test_a_download_is_named_and_typed_by_the_server(fake_server: FakeServer) -> None:
    fake_server.on(
        "GET",
        "/docs/42",
        (
            200,
            PDF,
            {
                "Content-Type": "application/pdf",
                "Content-Disposition": "attachment; filename*=UTF-8''bulletin%20sign%C3%A9.pdf",
            },
        ),
    )

    name, mime_type, size, data = load(FileInput(url=fake_server.url + "docs/42?sig=s3cret"))

    assert (name, mime_type, size, data) == ("bulletin signé.pdf", "application/pdf", len(PDF), PDF)
    [request] = fake_server.received("GET", "/docs/42")
    assert request.query == {"sig": ["s3cret"]}


def test_a_file_reference_from_an_earlier_step_is_taken_as_it_is(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/f/b.bin", (200, PDF))
    ref = FileRef(url=fake_server.url + "f/b.bin", name="bulletin.pdf", mime_type="application/pdf")

    name, mime_type, _, data = load(FileInput.model_validate(ref.model_dump()))

    # The reference's name and type win over what the server says (octet-stream here).
    assert (name, mime_type, data) == ("bulletin.pdf", "application/pdf", PDF)


def test_without_a_name_the_url_names_the_file(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/f/r%C3%A9sum%C3%A9.txt", (200, "hello"))

    name, mime_type, *_ = load(FileInput(url=fake_server.url + "f/r%C3%A9sum%C3%A9.txt"))

    assert (name, mime_type) == ("résumé.txt", "text/plain; charset=utf-8")


def test_a_declared_size_over_the_limit_fails_before_reading(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/big", (200, PDF))

    with pytest.raises(
        PermanentError, match=r"larger than the step's limit of 100 bytes"
    ) as caught:
        load(FileInput(url=fake_server.url + "big?token=abc"), max_bytes=100)

    assert "token=abc" not in caught.value.message
    assert caught.value.details["error"] == "file_too_large"


@pytest.fixture
def chunked_server() -> Iterator[str]:
    """A server that streams 64 KiB chunks without a Content-Length: 1 GiB unless the client
    hangs up, which it must."""
    listener = socket.create_server(("127.0.0.1", 0))
    sent: list[int] = []
    hung_up = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"x" * 65536
            try:
                for _ in range(16384):
                    conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent.append(len(chunk))
                conn.sendall(b"0\r\n\r\n")
            except OSError:
                hung_up.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/stream"
    listener.close()
    # The client stopped reading at the limit and closed the connection: the server's writes
    # fail once the socket buffers between them are full.
    assert hung_up.wait(timeout=10)
    assert sum(sent) < 256 * 1024 * 1024


def test_a_download_without_a_length_is_cut_at_the_limit(chunked_server: str) -> None:
    with pytest.raises(PermanentError, match="larger than the step's limit of 200000 bytes"):
        load(FileInput(url=chunked_server), max_bytes=200_000)


def test_refusals_are_classified(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/gone", (404, "no"))
    fake_server.on("GET", "/busy", (429, "slow down", {"Retry-After": "7"}))
    fake_server.on("GET", "/down", (503, "maintenance"))

    with pytest.raises(PermanentError, match="HTTP 404: check the URL"):
        load(FileInput(url=fake_server.url + "gone"))
    with pytest.raises(TransientError, match="HTTP 429") as busy:
        load(FileInput(url=fake_server.url + "busy"))
    assert busy.value.retry_after == 7
    with pytest.raises(TransientError, match="HTTP 503"):
        load(FileInput(url=fake_server.url + "down"))


def test_an_unreachable_server_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the test connects

    with pytest.raises(TransientError, match="could not download"):
        load(FileInput(url=f"http://127.0.0.1:{port}/x.pdf"))


def test_text_and_base64_content() -> None:
    text = FileInput(text="email,amount\nada@example.com,2500\n", name="export.csv")
    assert load(text)[:3] == ("export.csv", "text/csv; charset=utf-8", 34)

    encoded = base64.b64encode(PDF).decode()
    # Line breaks, as base64 tools wrap it, are ignored.
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    assert load(FileInput(base64=wrapped, name="b.pdf")) == (
        "b.pdf",
        "application/pdf",
        len(PDF),
        PDF,
    )

    with pytest.raises(PermanentError, match="not valid base64"):
        load(FileInput(base64="not base64!", name="b.pdf"))
    with pytest.raises(PermanentError, match="larger than the step's limit"):
        load(FileInput(text="x" * 11, name="t.txt"), max_bytes=10)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"name": "a.pdf"}, "exactly one of"),
        ({"url": "https://example.com/a", "text": "x"}, "exactly one of"),
        ({"text": "x"}, "needs a name"),
        ({"base64": "eA==", "name": "a", "mime_type": "pdf"}, "not a MIME type"),
        ({"url": "ftp://example.com/a"}, "URL scheme"),
    ],
)
def test_a_file_input_names_one_usable_source(values: dict[str, str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        FileInput.model_validate(values)


def test_loading_the_connectors_that_take_files_or_call_rest_apis_loads_no_client() -> None:
    loaded = loaded_by(
        "maillon.connectors.sdk",
        "maillon.connectors.dropbox",
        "maillon.connectors.mailchimp",
        "maillon.connectors.trello",
        among=("httpx", "aiohttp", "yarl", "googleapiclient"),
    )
    assert loaded == []
