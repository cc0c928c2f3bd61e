"""Database fixtures: every engine test runs on SQLite, and on PostgreSQL when it is available."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from maillon.connectors.registry import Registry
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.probe import calls, probe
from tests.support.services import Blocking

POSTGRES_URL = os.environ.get("MAILLON_TEST_POSTGRES_URL")

__all__ = ["database_url", "make_settings", "run_until", "runtime", "services"]


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL: SQLite in tmp_path, or the PostgreSQL test database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'maillon.db'}"
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need MAILLON_TEST_POSTGRES_URL (set by .ci/run)")
    _reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "database_url": database_url,
            "secret_key": "test-secret",
            "retry_base_delay": 0.01,
            "retry_max_delay": 0.05,
            "poll_interval": 0.2,
            "step_timeout": 5,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    """An opened runtime with the probe connector; workers are started by the test."""
    calls.clear()
    rt = Runtime(make_settings(), registry=Registry([probe]))
    rt.open()
    yield rt
    rt.close()


@pytest.fixture
def services(runtime: Runtime) -> Blocking:
    """The runtime's engine services, callable from synchronous tests."""
    return Blocking(runtime.services)


def run_until(runtime: Runtime, predicate: Callable[[], bool], timeout: float = 10) -> None:
    """Run the workers in a fresh event loop until ``predicate()`` holds."""

    async def main() -> None:
        runtime.start_workers(1)
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while not predicate():
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError("timed out waiting for the workers")
                await asyncio.sleep(0.01)
        finally:
            await runtime.stop_workers()

    asyncio.run(main())
