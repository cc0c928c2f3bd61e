from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from maillon.connectors.registry import Registry
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.web.app import create_app
from tests.support.api import Live
from tests.support.probe import calls, probe
from tests.support.server import LiveServer
from tests.support.services import Blocking


@pytest.fixture
def live(make_settings: Callable[..., Settings]) -> Iterator[Live]:
    """The app served for real (uvicorn on 127.0.0.1), with the probe connector installed."""
    calls.clear()
    runtime = Runtime(make_settings(max_body_bytes=64 * 1024), registry=Registry([probe]))
    app = create_app(runtime=runtime)
    with LiveServer(app) as url:
        services = Blocking(runtime.services)
        _, token = services.tokens.create("tests")
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as client:
            yield Live(url, client, services, runtime)
