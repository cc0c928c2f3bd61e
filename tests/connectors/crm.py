"""What the CRM connectors' tests share: an engine with one connector, to run its OAuth consent
and refresh as the web routes do, and the step of a consent that a browser would take."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from maillon.connectors.registry import Registry
from maillon.connectors.sdk import Connector
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.services import Blocking

PUBLIC_URL = "https://maillon.example.com"


@contextmanager
def engine_with(make_settings: Callable[..., Settings], connector: Connector) -> Iterator[Blocking]:
    """The engine's services, with ``connector`` the only app installed."""
    runtime = Runtime(make_settings(public_url=PUBLIC_URL), registry=Registry([connector]))
    runtime.open()
    try:
        yield Blocking(runtime.services)
    finally:
        runtime.close()


def start_consent(
    services: Blocking, app: str, name: str, values: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    """Start connecting: the consent page's address (no query) and its query parameters."""
    consent = services.oauth.start(app, name, values)
    assert consent.redirect_uri == f"{PUBLIC_URL}/oauth/{app}/callback"
    parts = urlsplit(consent.authorize_url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["redirect_uri"] == consent.redirect_uri and query["response_type"] == "code"
    return f"{parts.scheme}://{parts.netloc}{parts.path}", query


def refresh(services: Blocking, connector: Connector, name: str) -> Any:
    """The connection as a step gets it: its access token refreshed when it expires."""
    values = services.connections.values(name)
    conn = connector.connection.model_validate(values)
    return services.oauth.fresh(name, connector, conn)


def form(recorded: Any) -> dict[str, str]:
    """A form body's fields, one value each."""
    return {k: v[0] for k, v in recorded.form().items()}
