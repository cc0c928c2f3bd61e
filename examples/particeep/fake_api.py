"""A fake Particeep API on 127.0.0.1, for tests and demos, on the standard library's HTTP server
(the PTP signature checks use Maillon's own signing module).

It behaves like Particeep where Maillon depends on it:

- every call except ``GET /v1/ping`` must carry a valid PTP signature (see
  :mod:`maillon.connectors.particeep.signing`) with a ``DateTime`` within 5 minutes of the fake's
  clock, or it gets a 401;
- webhooks live in memory, at most 5 per event name (a 400 beyond that);
- users and transactions can be created (``PUT``), read (``GET``) and edited (``POST``), and doing
  so **delivers** the matching webhook events (``user_created``, ``transaction_updated`` ...) to
  the registered URLs, as Particeep would: the bare entity as JSON, one POST per webhook;
- every call is recorded for tests to inspect.

For demos it also answers one route that Particeep does not have, unauthenticated:
``POST /fake/emit/{event}`` delivers an event (the JSON body as the entity, or, with no body, a
realistic one made up for the event) to the webhooks registered for it, and answers once they
were posted, with how each was answered. ``python -m examples.particeep.emit`` calls it.

Error bodies follow the shape that Particeep's SDKs parse (``{"hasError": true, "errors":
[{"technicalCode": ..., "message": ...}]}``); the exact codes and messages are *inferred*, since
Particeep does not publish them.

Run it for a demo::

    python -m examples.particeep.fake_api --port 8088 --api-key demo-key --api-secret demo-secret

then give Maillon a Particeep connection with environment ``custom`` and base URL
``http://127.0.0.1:8088/v1``.
"""

from __future__ import annotations

import argparse
import copy
import hmac
import json
import queue
import re
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from maillon.connectors.particeep.signing import (
    compute_signature,
    parse_authorization,
    parse_datetime,
)

__all__ = ["EMIT_PREFIX", "Call", "Delivery", "FakeParticeep", "error_body", "main"]

API_PREFIX = "/v1"
#: The demo route that makes the fake deliver an event (not part of Particeep's API).
EMIT_PREFIX = "/fake/emit/"
Entity = dict[str, Any]


def error_body(technical_code: str, message: str) -> dict[str, Any]:
    """An error answer in the shape Particeep's SDKs parse (codes and messages are inferred)."""
    return {"hasError": True, "errors": [{"technicalCode": technical_code, "message": message}]}


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Call:
    """One API call as the fake saw it, with the status it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery the fake made: ``status`` is ``None`` when the POST failed."""

    event: str
    url: str
    entity_id: str
    status: int | None
    error: str | None = None


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_Handler = Callable[["FakeParticeep", re.Match[str], Any], tuple[int, Any]]


class FakeParticeep:
    """The fake API. ``start()`` it, point a client at :attr:`url`, ``stop()`` it.

    State helpers (:meth:`webhooks`, :meth:`add_user`, :meth:`emit` ...) let a test or a demo set
    the scene without going through the API.
    """

    def __init__(
        self,
        api_key: str = "demo-key",
        api_secret: str = "demo-secret",  # noqa: S107 - a fake's well-known demo value
        *,
        max_webhooks_per_event: int = 5,
        max_clock_skew: float = 300.0,
        deliver: bool = True,
        delivery_timeout: float = 10.0,
        latency: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.max_webhooks_per_event = max_webhooks_per_event
        self.max_clock_skew = max_clock_skew
        self.deliver = deliver
        self.delivery_timeout = delivery_timeout
        #: Seconds each API call takes before it is answered (a slow network, a wider race).
        self.latency = latency
        self.calls: list[Call] = []
        self.deliveries: list[Delivery] = []
        self._webhooks: dict[str, Entity] = {}
        self._users: dict[str, Entity] = {}
        self._transactions: dict[str, Entity] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._outbox: queue.Queue[tuple[str, Entity] | None] = queue.Queue()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        # No proxy: deliveries go to a local Maillon, whatever the environment says.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- life cycle --------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Listen on ``host:port`` (0: any free port) in background threads."""
        self._server = ThreadingHTTPServer((host, port), _make_handler(self))
        self._server.daemon_threads = True
        self._threads = [
            # A short poll interval makes stop() quick (shutdown waits for the next poll).
            threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
            ),
            threading.Thread(target=self._deliver_forever, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and delivering."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API base URL, version included: ``http://127.0.0.1:<port>/v1``."""
        if self._server is None:
            raise RuntimeError("the fake Particeep API is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{API_PREFIX}"

    # -- state helpers -----------------------------------------------------------------------

    def webhooks(self, name: str | None = None) -> list[Entity]:
        """Copies of the registered webhooks (of one event when ``name`` is given)."""
        with self._lock:
            return [dict(w) for w in self._webhooks.values() if name is None or w["name"] == name]

    def add_webhook(self, name: str, url: str) -> Entity:
        """Register a webhook directly, as if through Particeep's back office (no limit check)."""
        webhook = {"id": str(uuid.uuid4()), "created_at": _now_iso(), "name": name, "url": url}
        with self._lock:
            self._webhooks[webhook["id"]] = webhook
        return dict(webhook)

    def remove_webhook(self, webhook_id: str) -> None:
        """Delete a webhook directly, as if through Particeep's back office."""
        with self._lock:
            self._webhooks.pop(webhook_id, None)

    def add_user(self, **fields: Any) -> Entity:
        """Store a user (no delivery); ``id`` and ``created_at`` are filled in if missing."""
        return self._store(self._users, fields)

    def add_transaction(self, **fields: Any) -> Entity:
        """Store a transaction (no delivery); ``id`` and ``created_at`` filled in if missing."""
        return self._store(self._transactions, {"currency": "EUR", **fields})

    def user(self, user_id: str) -> Entity | None:
        """A copy of the stored user, or ``None``."""
        with self._lock:
            found = self._users.get(user_id)
            return copy.deepcopy(found) if found else None

    def transaction(self, transaction_id: str) -> Entity | None:
        """A copy of the stored transaction, or ``None``."""
        with self._lock:
            found = self._transactions.get(transaction_id)
            return copy.deepcopy(found) if found else None

    def received(self, method: str | None = None, path: str | None = None) -> list[Call]:
        """Recorded calls, optionally filtered; ``path`` is relative to :attr:`url`."""
        full = None if path is None else API_PREFIX + path
        with self._lock:
            return [
                c
                for c in self.calls
                if (method is None or c.method == method) and (full is None or c.path == full)
            ]

    def emit(self, event: str, entity: Entity) -> None:
        """Deliver ``entity`` to every webhook registered for ``event`` (in the background)."""
        with self._lock:
            self._pending += 1
        self._outbox.put((event, copy.deepcopy(entity)))

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every emitted event has been delivered; ``False`` on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    # -- internals ---------------------------------------------------------------------------

    def _store(self, table: dict[str, Entity], fields: Entity) -> Entity:
        entity = {"id": str(uuid.uuid4()), "created_at": _now_iso(), **copy.deepcopy(fields)}
        with self._lock:
            table[entity["id"]] = entity
            return copy.deepcopy(entity)

    def _deliver_forever(self) -> None:
        while (item := self._outbox.get()) is not None:
            event, entity = item
            for webhook in self.webhooks(event):
                self._deliver_one(event, webhook["url"], entity)
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _deliver_one(self, event: str, url: str, entity: Entity) -> None:
        entity_id = str(entity.get("id", ""))
        if urlsplit(url).scheme not in ("http", "https"):
            self._record_delivery(Delivery(event, url, entity_id, None, "not an http(s) URL"))
            return
        request = urllib.request.Request(  # noqa: S310 - scheme checked just above
            url,
            data=json.dumps(entity).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "FakeParticeep/1.0"},
            method="POST",
        )
        try:
            with self._opener.open(request, timeout=self.delivery_timeout) as answer:
                delivery = Delivery(event, url, entity_id, answer.status)
        except urllib.error.HTTPError as exc:
            delivery = Delivery(event, url, entity_id, exc.code, exc.reason)
        except (OSError, urllib.error.URLError) as exc:
            delivery = Delivery(event, url, entity_id, None, str(exc))
        self._record_delivery(delivery)

    def _record_delivery(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def _refusal_for_auth(self, headers: dict[str, str]) -> str | None:
        """Why the call is not authenticated, or ``None`` when it is."""
        date_time, authorization = headers.get("datetime"), headers.get("authorization")
        if not date_time or not authorization:
            return "The DateTime and Authorization headers are required"
        try:
            moment = parse_datetime(date_time)
        except ValueError:
            return "DateTime must look like 2026-05-02T09:15:00Z"
        if abs((datetime.now(UTC) - moment).total_seconds()) > self.max_clock_skew:
            return "DateTime is too far from the server's clock"
        parsed = parse_authorization(authorization)
        if parsed is None:
            return "Authorization must look like PTP:<api key>:<signature>"
        api_key, signature = parsed
        expected = compute_signature(self.api_key, self.api_secret, date_time)
        if api_key != self.api_key or not hmac.compare_digest(signature, expected):
            return "Invalid API key or signature"
        return None

    def _handle(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any]:
        if method == "POST" and path.startswith(EMIT_PREFIX):
            return self._emit_now(unquote(path[len(EMIT_PREFIX) :]), raw)
        if not path.startswith(API_PREFIX + "/"):
            return 404, error_body("error.api.not_found", f"No route {method} {path}")
        route = path[len(API_PREFIX) :]
        if method == "GET" and route == "/ping":
            return 200, {"status": "ok"}
        if self.latency:
            time.sleep(self.latency)
        refusal = self._refusal_for_auth(headers)
        if refusal is not None:
            return 401, error_body("error.api.unauthorized", refusal)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return 400, error_body("error.api.json", "The body is not valid JSON")
        for route_method, pattern, handler in _ROUTES:
            match = pattern.fullmatch(route)
            if route_method == method and match:
                try:
                    return handler(self, match, body)
                except _Refusal as exc:
                    return exc.status, error_body(exc.code, exc.message)
        return 404, error_body("error.api.not_found", f"No route {method} {path}")

    def _emit_now(self, event: str, raw: bytes) -> tuple[int, Any]:
        """The demo route: deliver ``event`` now and say how each webhook answered."""
        from examples.particeep.entities import make_entity

        try:
            entity = json.loads(raw) if raw.strip() else make_entity(event)
        except ValueError:
            return 400, error_body("error.fake.json", "The body is not valid JSON")
        except KeyError as exc:
            return 404, error_body("error.fake.event", str(exc.args[0]))
        if not isinstance(entity, dict):
            return 400, error_body("error.fake.entity", "The entity must be a JSON object")
        with self._lock:
            before = len(self.deliveries)
        self.emit(event, entity)
        self.wait_idle(self.delivery_timeout * (1 + len(self.webhooks(event))))
        with self._lock:
            made = [d for d in self.deliveries[before:] if d.entity_id == str(entity.get("id", ""))]
        answers = [{"url": d.url, "status": d.status, "error": d.error} for d in made]
        return 200, {"event": event, "entity": entity, "deliveries": answers}

    # -- routes (each answers (status, JSON body); the lock guards the in-memory tables) -----

    def _list_webhooks(self, match: re.Match[str], body: Any) -> tuple[int, Any]:
        return 200, self.webhooks()

    def _create_webhook(self, match: re.Match[str], body: Any) -> tuple[int, Any]:
        name, url = _webhook_fields(body)
        with self._lock:
            self._check_limit(name)
            webhook = {"id": str(uuid.uuid4()), "created_at": _now_iso(), "name": name, "url": url}
            self._webhooks[webhook["id"]] = webhook
            return 200, dict(webhook)

    def _edit_webhook(self, match: re.Match[str], body: Any) -> tuple[int, Any]:
        name, url = _webhook_fields(body)
        with self._lock:
            webhook = _find(self._webhooks, match["id"], "webhook")
            if name != webhook["name"]:
                self._check_limit(name)
            webhook.update(name=name, url=url)
            return 200, dict(webhook)

    def _delete_webhook(self, match: re.Match[str], body: Any) -> tuple[int, Any]:
        with self._lock:
            webhook = _find(self._webhooks, match["id"], "webhook")
            del self._webhooks[webhook["id"]]
            return 200, dict(webhook)

    def _check_limit(self, name: str) -> None:
        taken = sum(1 for w in self._webhooks.values() if w["name"] == name)
        if taken >= self.max_webhooks_per_event:
            raise _Refusal(
                400,
                "error.webhook.limit_reached",
                f"The event {name} already has {taken} webhooks: "
                f"at most {self.max_webhooks_per_event} are allowed per event",
            )


def _find(table: dict[str, Entity], quoted_id: str, kind: str) -> Entity:
    entity_id = unquote(quoted_id)
    found = table.get(entity_id)
    if found is None:
        raise _Refusal(404, f"error.{kind}.not_found", f"No {kind} with id {entity_id}")
    return found


def _webhook_fields(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise _Refusal(400, "error.webhook.invalid", "A webhook must be a JSON object")
    name, url = body.get("name"), body.get("url")
    if not isinstance(name, str) or not name or not isinstance(url, str) or not url:
        raise _Refusal(400, "error.webhook.invalid", "A webhook needs a name and a url")
    return name, url


def _entity_handlers(kind: str) -> tuple[_Handler, _Handler, _Handler, _Handler]:
    """GET, PUT (create), POST (edit) and DELETE for users or transactions."""

    def table(fake: FakeParticeep) -> dict[str, Entity]:
        return fake._users if kind == "user" else fake._transactions

    def read(fake: FakeParticeep, match: re.Match[str], body: Any) -> tuple[int, Any]:
        with fake._lock:
            return 200, copy.deepcopy(_find(table(fake), match["id"], kind))

    def create(fake: FakeParticeep, match: re.Match[str], body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise _Refusal(400, f"error.{kind}.invalid", f"A {kind} must be a JSON object")
        defaults = {"currency": "EUR", "status": "PENDING"} if kind == "transaction" else {}
        entity = fake._store(table(fake), {**defaults, **body, "id": str(uuid.uuid4())})
        if fake.deliver:
            fake.emit(f"{kind}_created", entity)
        return 200, entity

    def edit(fake: FakeParticeep, match: re.Match[str], body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise _Refusal(400, f"error.{kind}.invalid", f"A {kind} edit must be a JSON object")
        with fake._lock:
            entity = _find(table(fake), match["id"], kind)
            # Top-level fields are replaced as a whole, `custom` included (inferred).
            entity.update({k: v for k, v in body.items() if k not in ("id", "created_at")})
            entity = copy.deepcopy(entity)
        if fake.deliver:
            fake.emit(f"{kind}_updated", entity)
        return 200, entity

    def delete(fake: FakeParticeep, match: re.Match[str], body: Any) -> tuple[int, Any]:
        with fake._lock:
            entity = _find(table(fake), match["id"], kind)
            del table(fake)[entity["id"]]
        if fake.deliver:
            fake.emit(f"{kind}_deleted", entity)
        return 200, entity

    return read, create, edit, delete


def _build_routes() -> list[tuple[str, re.Pattern[str], _Handler]]:
    routes: list[tuple[str, re.Pattern[str], _Handler]] = [
        ("GET", re.compile(r"/webhook/all"), FakeParticeep._list_webhooks),
        ("PUT", re.compile(r"/webhook"), FakeParticeep._create_webhook),
        ("POST", re.compile(r"/webhook/(?P<id>[^/]+)"), FakeParticeep._edit_webhook),
        ("DELETE", re.compile(r"/webhook/(?P<id>[^/]+)"), FakeParticeep._delete_webhook),
    ]
    for kind in ("user", "transaction"):
        read, create, edit, delete = _entity_handlers(kind)
        routes += [
            ("GET", re.compile(rf"/{kind}/(?P<id>[^/]+)"), read),
            ("PUT", re.compile(rf"/{kind}"), create),
            ("POST", re.compile(rf"/{kind}/(?P<id>[^/]+)"), edit),
            ("DELETE", re.compile(rf"/{kind}/(?P<id>[^/]+)"), delete),
        ]
    return routes


_ROUTES = _build_routes()


def _make_handler(fake: FakeParticeep) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the second waits for the
        # client's delayed ACK (~40 ms per call on Linux) on a kept-alive connection.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            # Routed on the raw path, as a real server does: an id with a quoted '/' stays one
            # segment (ids are unquoted when looked up).
            path = urlsplit(self.path).path
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = fake._handle(self.command, path, headers, raw)
            try:
                recorded_body: Any = json.loads(raw) if raw else None
            except ValueError:
                recorded_body = raw
            with fake._lock:
                fake.calls.append(Call(self.command, path, headers, recorded_body, status))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the recorded calls say more, and tests stay quiet

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the fake API until interrupted, with one demo user and transaction already in."""
    from examples.particeep.entities import make_transaction, make_user

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--api-key", default="demo-key")
    parser.add_argument("--api-secret", default="demo-secret")
    parser.add_argument(
        "--no-deliver", action="store_true", help="do not post webhook events on PUT/POST"
    )
    args = parser.parse_args(argv)

    fake = FakeParticeep(args.api_key, args.api_secret, deliver=not args.no_deliver)
    user = fake.add_user(**make_user())
    transaction = fake.add_transaction(**make_transaction(issuer_id=user["id"]))
    try:
        fake.start(args.host, args.port)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"Fake Particeep API on {fake.url}", flush=True)
    print(f"  API key:     {fake.api_key}")
    print(f"  API secret:  {fake.api_secret}")
    print(f"  demo user:         {user['id']} ({user['email']})")
    print(f"  demo transaction:  {transaction['id']}")
    print("  emit an event:     python -m examples.particeep.emit transaction_created")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
