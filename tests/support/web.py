"""The whole app served for real, for tests of the UI and of who may call what.

Fixtures ``ui_server`` (workers off: pages only) and ``working_ui_server`` (one worker loop,
which runs what is delivered and replayed): a new install (no user yet) served by uvicorn on
127.0.0.1, on each database of ``make_settings``. Helpers set up its owner through the engine
(fast, for tests that are not about set-up), save flows of one HTTP step and deliver events to
them, and sign in over HTTP the way a browser's form does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from maillon.engine.flows import FlowDocument
from maillon.engine.models import FINISHED_STATUSES
from maillon.engine.runtime import Runtime
from maillon.engine.services.accounts import User
from maillon.engine.settings import Settings
from maillon.web.app import create_app
from tests.support.accounts import OWNER
from tests.support.flows import TRANSACTION, webhook
from tests.support.server import LiveServer, free_port
from tests.support.wait import wait_for

__all__ = [
    "UIServer",
    "csrf_field",
    "served",
    "sign_in_client",
    "ui_server",
    "working_ui_server",
]

T = TypeVar("T")


@dataclass
class UIServer:
    """The served app: its base ``url`` and its engine (``runtime.services.accounts``, ...)."""

    url: str
    runtime: Runtime

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run an engine call to completion from a test, e.g. ``call(accounts.set_up(...))``.

        In a thread of its own: Playwright's sync API keeps an event loop running in the test's
        thread, where ``asyncio.run`` refuses to start another.
        """
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    def set_up_owner(self) -> User:
        """Create the owner (``tests.support.accounts.OWNER``) as the set-up page would."""
        return self.call(self.runtime.services.accounts.set_up(*OWNER)).user

    def http_flow(
        self,
        name: str,
        url: str,
        *,
        enabled: bool = True,
        attempts: int | None = None,
        pause_after: int | None = None,
        flow_id: str | None = None,
        **step_input: Any,
    ) -> tuple[str, str]:
        """Save a flow whose one step (``notify``) POSTs the event's amount to ``url`` (and
        ``step_input`` besides); return (flow id, hook token). ``attempts``: the step's
        ``max_attempts``; ``pause_after``: the flow's ``on_failure.pause_after``; ``flow_id``:
        publish it as that flow's next version."""
        step: dict[str, Any] = {
            "key": "notify",
            "action": "http.send_request",
            "input": {
                "method": "POST",
                "url": url,
                "json_body": {"amount": "{{ event.amount }}"},
                **step_input,
            },
        }
        if attempts is not None:
            step["max_attempts"] = attempts
        flow: dict[str, Any] = {"name": name, "enabled": enabled, "steps": [step]}
        if pause_after is not None:
            flow["on_failure"] = {"pause_after": pause_after}
        doc = FlowDocument.model_validate(flow)
        row = self.call(self.runtime.services.flows.save(doc, flow_id)).row
        return row.id, row.hook_token

    def parked_run(self, duration: str) -> str:
        """Save a flow whose one step (``wait``) is a delay of ``duration``, deliver it an
        event, and return the id of its run once the delay holds it."""
        doc = FlowDocument.model_validate(
            {"name": "Later", "steps": [{"key": "wait", "delay": {"duration": duration}}]}
        )
        [run_id] = self.deliver(self.call(self.runtime.services.flows.save(doc)).row.hook_token)
        runs = self.runtime.services.runs
        wait_for(
            lambda: [s.status for s in self.call(runs.history(run_id))[1]] == ["waiting"],
            what="the delay to park the run",
        )
        return run_id

    def deliver(self, token: str, count: int = 1) -> list[str]:
        """Deliver ``count`` transactions to the hook ``token``; the ids of the runs started."""

        async def send() -> list[str]:
            accepted = [
                await webhook(self.runtime, token, {**TRANSACTION, "n": n}) for n in range(count)
            ]
            return [run_id for a in accepted for run_id in a.run_ids]

        return self.call(send())

    def wait_finished(self, run_ids: list[str]) -> None:
        """Wait until the server's worker has finished (succeeded, failed, filtered) every
        run."""
        runs = self.runtime.services.runs
        done = FINISHED_STATUSES

        def finished() -> bool:
            return all(self.call(runs.history(r))[0].status in done for r in run_ids)

        wait_for(finished, what=f"runs {run_ids} to finish")


@contextmanager
def served(make_settings: Callable[..., Settings], *, workers: bool) -> Iterator[UIServer]:
    """An install of ``make_settings`` served for real, with its workers or without."""
    port = free_port()
    runtime = Runtime(make_settings(public_url=f"http://127.0.0.1:{port}"))
    with LiveServer(create_app(runtime=runtime, workers=workers), port=port) as url:
        yield UIServer(url, runtime)


@pytest.fixture
def ui_server(make_settings: Callable[..., Settings]) -> Iterator[UIServer]:
    """A new install served for real (no user yet); workers off, the UI does not need them.

    Its public URL is the one it is served at, so the links it gives out (a member's
    password link, a hook URL) work in the test's browser.
    """
    with served(make_settings, workers=False) as server:
        yield server


@pytest.fixture
def working_ui_server(make_settings: Callable[..., Settings]) -> Iterator[UIServer]:
    """:func:`ui_server` with its workers on: the flows built in the test run, and replays."""
    with served(make_settings, workers=True) as server:
        yield server


def csrf_field(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


@contextmanager
def sign_in_client(
    url: str, email: str = OWNER[0], password: str = OWNER[2]
) -> Iterator[httpx.Client]:
    """An HTTP client signed in through the sign-in form (cookies kept, as in a browser)."""
    with httpx.Client(base_url=url, timeout=10) as client:
        page = client.get("/sign-in")
        answer = client.post(
            "/sign-in",
            data={"email": email, "password": password, "_csrf_token": csrf_field(page.text)},
        )
        assert answer.status_code == 303, answer.text
        yield client
