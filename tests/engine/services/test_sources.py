"""Webhook registration with several processes on one database: never registered twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from examples.particeep.fake_api import FakeParticeep
from maillon.engine.flows import FlowDocument
from maillon.engine.hooks import SourceKey
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.services import Blocking

KEY, SECRET = "key-race", "secret-race"
STEP = {"method": "POST", "url": "http://127.0.0.1:9/", "json_body": {"id": "{{ event.id }}"}}

pytestmark = pytest.mark.postgres


def test_two_processes_refreshing_one_subscription_register_it_once(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    if not settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("processes share a database on PostgreSQL only")
    # Every API call takes 0.2 s: without a lock across processes, both would list the
    # webhooks, find none, and create one each.
    with FakeParticeep(KEY, SECRET, latency=0.2) as particeep:
        one, other = Runtime(settings), Runtime(settings)
        one.open()
        other.open()
        try:
            services = Blocking(one.services)
            values = {"api_key": KEY, "api_secret": SECRET, "environment": "custom"}
            services.connections.create("particeep", "pt", values | {"base_url": particeep.url})
            doc = {
                "name": "race",
                "trigger": {"type": "particeep.event", "connection": "pt", "event": "user_created"},
                "steps": [{"key": "log", "action": "http.send_request", "input": STEP}],
            }
            row = services.flows.save(FlowDocument.model_validate(doc)).row
            assert row.source_key is not None
            (webhook,) = particeep.webhooks("user_created")
            particeep.remove_webhook(webhook["id"])  # drift: both processes will repair it
            key = SourceKey.parse(row.source_key)

            async def race() -> None:
                await asyncio.gather(
                    one.services.sources.refresh(key), other.services.sources.refresh(key)
                )

            asyncio.run(race())
        finally:
            other.close()
            one.close()
        assert len(particeep.webhooks("user_created")) == 1
