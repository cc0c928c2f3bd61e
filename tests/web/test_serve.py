"""What ``maillon serve`` loads to start: libraries that only some requests need wait for them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from maillon.engine.db import SCHEMA_HEAD, migrate
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]

#: Imported on first use, never to start serving: Alembic (a migration runs in a child process),
#: cryptography (the first read or save of a connection's secrets), PostgreSQL's dialect and
#: driver (on SQLite), websockets (no route is one), and the connectors' client libraries (the
#: first step or call that needs one), and Babel's catalogue tools (the first page in a language
#: other than English).
DEFERRED = (
    "alembic",
    "cryptography",
    "sqlalchemy.dialects.postgresql",
    "psycopg",
    "websockets",
    "slack_sdk",
    "googleapiclient",
    "google.auth",
    "httpx",
    "aiohttp",
    "babel.messages.pofile",
)

# `maillon serve` as run from the command line, except that uvicorn, instead of serving, loads
# its configuration (and with it the protocol classes the options name), takes the app through
# its startup (migration check, writer, one worker) until the worker's first claim of the queue
# is committed, then through its shutdown, and prints every module imported by then. The worker
# runs in the web process here (`--worker-processes 0`). The subprocess's timeout bounds the
# wait.
_SERVE = """
import asyncio
import sys

import uvicorn

from maillon.web.cli import main


def start_and_stop(app, **options):
    uvicorn.Config(app, **options).load()  # the protocol classes the options name

    async def lifespan():
        async with app.lifespan():
            while app.state.runtime.writer.commits == 0:
                await asyncio.sleep(0.01)

    asyncio.run(lifespan())
    print(*sorted(sys.modules))


uvicorn.run = start_and_stop
main(["serve", "--workers", "1", "--worker-processes", "0"])
"""


@pytest.mark.parametrize("migrated", [True, False], ids=["migrated", "fresh"])
def test_serve_starts_without_the_libraries_it_needs_only_on_use(
    tmp_path: Path, migrated: bool
) -> None:
    # A data directory that does not exist yet, as on a first start.
    url = f"sqlite:///{tmp_path / 'data' / 'maillon.db'}"
    if migrated:
        migrate(url)
    env = {
        **os.environ,
        "MAILLON_DATA_DIR": str(tmp_path / "data"),
        "MAILLON_DATABASE_URL": url,
        "MAILLON_SECRET_KEY": "serve-test",
        # Serve checks that its address is free: one that is, whatever else runs here.
        "MAILLON_PORT": str(free_port()),
    }
    result = subprocess.run(
        [sys.executable, "-c", _SERVE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    modules = result.stdout.split()
    assert "maillon.web.app" in modules  # the app was built and started
    loaded = {p for p in DEFERRED for m in modules if m == p or m.startswith(p + ".")}
    assert sorted(loaded) == []
    # A fresh database was migrated, by a child process.
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_HEAD
    engine.dispose()
