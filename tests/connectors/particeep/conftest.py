"""Fixtures: a running fake Particeep API, a connection to it, a client and an action context."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.particeep import ParticeepClient, ParticeepConnection
from maillon.connectors.sdk import ActionContext

API_KEY = "key-4f1c"
API_SECRET = "secret-9d2e"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def particeep() -> Iterator[FakeParticeep]:
    with FakeParticeep(API_KEY, API_SECRET) as fake:
        yield fake


@pytest.fixture
def conn(particeep: FakeParticeep) -> ParticeepConnection:
    return ParticeepConnection(
        api_key=API_KEY,
        api_secret=SecretStr(API_SECRET),
        environment="custom",
        base_url=particeep.url,
        timeout=5,
    )


@pytest.fixture
async def client(conn: ParticeepConnection) -> AsyncIterator[ParticeepClient]:
    async with ParticeepClient.from_connection(conn) as api:
        yield api


@pytest.fixture
def ctx() -> ActionContext:
    return ActionContext(idempotency_key="run-1:step-1", attempt=1, timeout=5)
