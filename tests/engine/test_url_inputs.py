"""Values templated into a URL's path are percent-encoded: an event cannot steer a request to
another path of the API. Rendered by the engine, sent by the HTTP action to a real server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from maillon.connectors.http import connector as http
from maillon.connectors.registry import Registry
from maillon.connectors.testing import FakeServer
from maillon.engine.models import RunStatus
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.engine.templating import render_value
from tests.support.flows import deliver, make_flow, wait_status
from tests.support.probe import probe
from tests.support.services import Blocking

URLS = frozenset({"url"})
EVIL = {"id": "../admin?delete=all#x", "path": "a/b", "q": "x&y=1"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "https://api.example.com/orders/{{ event.id }}",
            "https://api.example.com/orders/..%2Fadmin%3Fdelete%3Dall%23x",
        ),
        ("orders/{{ event.path | safe }}/items", "orders/a/b/items"),
        # The query string is the query's: written as it is (Query parameters encode values).
        ("orders/{{ event.path }}?tag={{ event.q }}", "orders/a%2Fb?tag=x&y=1"),
        ("{{ event.callback }}", "https://hooks.example.com/a/b?c=d"),  # a whole URL, kept
        ("orders/{% if event.path %}{{ event.path }}{% endif %}", "orders/a%2Fb"),
    ],
)
def test_path_values_are_encoded_unless_safe(template: str, expected: str) -> None:
    event = {**EVIL, "callback": "https://hooks.example.com/a/b?c=d"}
    rendered = render_value(
        {"url": template, "other": "{{ event.path }}"}, {"event": event}, url_inputs=URLS
    )
    assert rendered == {"url": expected, "other": "a/b"}


def test_a_run_calls_the_encoded_path(
    make_settings: Callable[..., Settings], fake_server: FakeServer
) -> None:
    # What travels: "/", "?" and "#" stay encoded ("=" may be written as is in a path).
    sent = "/orders/..%2Fadmin%3Fdelete=all%23x"
    fake_server.on("GET", sent, (200, {"ok": True}))
    runtime = Runtime(make_settings(), registry=Registry([probe, http]))
    runtime.open()
    try:
        services = Blocking(runtime.services)
        step: dict[str, Any] = {
            "key": "get",
            "action": "http.send_request",
            "input": {"url": fake_server.url + "orders/{{ event.id }}"},
        }
        _, token = make_flow(services, step)
        accepted = deliver(runtime, token, EVIL)
        run, _ = wait_status(
            runtime, services, accepted.run_ids[0], RunStatus.SUCCEEDED, RunStatus.FAILED
        )
        assert run.status == RunStatus.SUCCEEDED, (run.error, fake_server.received())
    finally:
        runtime.close()
    [request] = fake_server.received()
    assert (request.raw_path, request.query) == (sent, {})
