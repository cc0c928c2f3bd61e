"""FakeServer, the testing kit's recording HTTP server, seen through real clients."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from maillon.connectors.testing import FakeServer, Recorded


def test_answers_come_in_order_and_the_last_repeats(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/status", (503, "busy"), (200, {"ok": True}))
    with httpx.Client(base_url=fake_server.url) as client:
        answers = [client.get("/status") for _ in range(3)]
    assert [r.status_code for r in answers] == [503, 200, 200]
    assert answers[0].text == "busy"
    assert answers[0].headers["content-type"] == "text/plain; charset=utf-8"
    assert answers[2].json() == {"ok": True}


def test_every_request_is_recorded(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/v1/items", (201, {"id": "I-1"}))
    with httpx.Client(base_url=fake_server.url) as client:
        client.post("/v1/items?tag=a&tag=b", json={"name": "Ada"}, headers={"X-Trace": "t1"})
        client.put("/v1/items", data={"name": "Zoë"})

    [post] = fake_server.received("POST", "/v1/items")
    assert (post.method, post.path, post.raw_path) == ("POST", "/v1/items", "/v1/items?tag=a&tag=b")
    assert post.query == {"tag": ["a", "b"]}
    assert post.headers["x-trace"] == "t1"
    assert post.json() == {"name": "Ada"}
    [put] = fake_server.received("put")
    assert put.form() == {"name": ["Zoë"]}
    assert [r.method for r in fake_server.requests] == ["POST", "PUT"]


def test_an_unscripted_request_is_a_404_that_says_so(fake_server: FakeServer) -> None:
    answer = httpx.delete(fake_server.url + "nowhere")
    assert answer.status_code == 404
    assert answer.json() == {"error": "no script for DELETE /nowhere"}


def test_a_path_ending_with_a_star_answers_every_path_below_it(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/v4/*", (200, "any"))
    fake_server.on("GET", "/v4/spreadsheets/*", (200, "sheet"))
    fake_server.on("GET", "/v4/spreadsheets/S1/meta", (200, "exact"))
    with httpx.Client(base_url=fake_server.url) as client:
        answers = [
            client.get(path).text
            for path in ("/v4/x", "/v4/spreadsheets/S2/values/A1", "/v4/spreadsheets/S1/meta")
        ]
        assert client.get("/v5/x").status_code == 404
    assert answers == ["any", "sheet", "exact"]


def test_a_known_port_can_be_asked_for() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FakeServer(port=port) as server:
        assert server.url == f"http://127.0.0.1:{port}/"
        server.on("GET", "/", (200, "here"))
        assert httpx.get(server.url).text == "here"


def test_headers_and_bodies_of_every_kind(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/file", (200, b"\x00\x01", {"content-type": "image/png", "ETag": "v1"}))
    with httpx.Client(base_url=fake_server.url) as client:
        # Twice: the repeated answer keeps its headers.
        answers = [client.get("/file") for _ in range(2)]
    for answer in answers:
        assert answer.content == b"\x00\x01"
        assert answer.headers.get_list("content-type") == ["image/png"]
        assert answer.headers["etag"] == "v1"


def test_a_responder_answers_from_the_request(fake_server: FakeServer) -> None:
    def echo(request: Recorded) -> tuple[int, object]:
        return 200, {"you_sent": request.json(), "key": request.headers.get("idempotency-key")}

    fake_server.on("POST", "/echo", echo)
    answer = httpx.post(fake_server.url + "echo", json=[1, 2], headers={"Idempotency-Key": "k"})
    assert answer.json() == {"you_sent": [1, 2], "key": "k"}


def test_a_chunked_body_is_read_whole(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/upload", (204, b""))

    def parts() -> Iterator[bytes]:
        yield b"first,"
        yield b"second"

    # A generator body has no known length: httpx sends it chunked.
    answer = httpx.post(fake_server.url + "upload", content=parts())
    assert answer.status_code == 204
    [upload] = fake_server.received("POST", "/upload")
    assert upload.headers["transfer-encoding"] == "chunked"
    assert upload.body == b"first,second"


def test_wait_for_a_request_made_in_the_background(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/hook", (200, {}))

    def send() -> None:
        for n in range(2):
            httpx.post(fake_server.url + "hook", json={"n": n})

    sender = threading.Thread(target=send)
    sender.start()
    arrived = fake_server.wait_for("POST", "/hook", count=2, timeout=10)
    sender.join(5)
    assert [r.json() for r in arrived] == [{"n": 0}, {"n": 1}]


def test_wait_for_says_what_came_instead(fake_server: FakeServer) -> None:
    httpx.get(fake_server.url + "other")
    with pytest.raises(
        TimeoutError, match=r"POST /hook not received within 0.1s; got \['GET /other'\]"
    ):
        fake_server.wait_for("POST", "/hook", timeout=0.1)


def test_delay_holds_every_answer(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/slow", (200, "late"))
    fake_server.delay = 0.5
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(fake_server.url + "slow", timeout=0.1)


def test_a_context_manager_listens_only_inside() -> None:
    with FakeServer() as server:
        url = server.url
        assert httpx.get(url + "x").status_code == 404
    port = int(url.rsplit(":", 1)[1].rstrip("/"))
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
        pass
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
