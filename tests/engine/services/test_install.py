"""What an install says about itself, without creating or migrating anything."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from maillon.engine.errors import NotFound
from maillon.engine.services.install import Install, hide_password, require_database
from maillon.engine.settings import Settings
from tests.support.flows import ECHO, make_flow
from tests.support.services import Blocking


def test_an_install_counts_its_flows_connections_and_queued_runs(
    services: Blocking, make_settings: Callable[..., Settings]
) -> None:
    make_flow(services, ECHO, enabled=False)
    make_flow(services, ECHO)

    info = services.install.info()

    assert info.inventory is not None and info.problem is None
    assert (info.inventory.flows, info.inventory.enabled_flows) == (2, 1)
    assert (info.inventory.connections, info.inventory.queued_runs) == (1, 0)
    assert info.key_file is None  # the tests give the key in the settings
    assert info.version and info.public_url == "http://127.0.0.1:8000"


def test_a_missing_sqlite_database_is_reported_not_created(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "nowhere")
    with pytest.raises(NotFound) as caught:
        require_database(settings)
    assert str(caught.value) == (
        f"no Maillon database at {tmp_path / 'nowhere' / 'maillon.db'} (in the data directory "
        f"{tmp_path / 'nowhere'}, from MAILLON_DATA_DIR): `maillon serve` or `maillon migrate` "
        "creates one there; to use an existing one, set MAILLON_DATA_DIR to its folder"
    )
    info = asyncio.run(Install(settings).info())
    assert info.inventory is None and info.problem is not None
    assert info.problem.startswith("no database yet")
    assert info.key_file == tmp_path / "nowhere" / "secret.key"
    assert not (tmp_path / "nowhere").exists()  # looking created nothing


def test_passwords_are_hidden() -> None:
    shown = hide_password("postgresql+psycopg://maillon:hunter2@db.internal:5432/maillon")
    assert shown == "postgresql+psycopg://maillon:***@db.internal:5432/maillon"
