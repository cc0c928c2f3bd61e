"""``maillon backup FILE`` while the server takes deliveries: a consistent copy and the key file,
from which a restored install opens its connections' secrets."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from maillon.connectors.registry import Registry
from maillon.engine.flows import FlowDocument
from maillon.engine.runtime import Runtime
from maillon.engine.settings import SECRET_KEY_FILE, Settings
from maillon.web.app import create_app
from maillon.web.cli import main
from tests.support.probe import probe
from tests.support.server import LiveServer
from tests.support.services import Blocking


def _env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("MAILLON_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MAILLON_DATABASE_URL", settings.resolved_database_url)


def test_a_backup_of_a_running_install_is_consistent_and_restores(
    make_settings: Callable[..., Settings],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL is backed up with pg_dump (its refusal is tested below)")
    settings = make_settings(secret_key=None)
    runtime = Runtime(settings, registry=Registry([probe]))
    target = tmp_path / "saved" / "maillon-backup.db"
    target.parent.mkdir()
    with LiveServer(create_app(runtime=runtime, workers=False)) as url:
        services = Blocking(runtime.services)
        services.connections.create("probe", "p", {"api_key": "the-secret"})
        flow = services.flows.save(FlowDocument.model_validate({"name": "f", "enabled": False}))
        hook_url = url + "/hooks/" + flow.row.hook_token
        answered: list[int] = []
        stop = threading.Event()

        def deliver() -> None:
            with httpx.Client() as client:
                while not stop.is_set():
                    if client.post(hook_url, json={"n": len(answered)}).status_code == 200:
                        answered.append(1)

        sender = threading.Thread(target=deliver)
        sender.start()
        try:
            while len(answered) < 20:
                stop.wait(0.01)
            _env(monkeypatch, settings)
            before = len(answered)
            result = CliRunner().invoke(main, ["backup", str(target)], catch_exceptions=False)
        finally:
            stop.set()
            sender.join()
    assert result.exit_code == 0, result.output
    assert f"database copied to {target}" in result.output
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = copy.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        copy.close()
    assert stored >= before  # every delivery answered before the backup began is in it
    key_copy = target.with_name(target.name + ".key")
    assert key_copy.read_text() == (settings.data_dir / SECRET_KEY_FILE).read_text()
    assert key_copy.stat().st_mode & 0o777 == 0o600

    # Restored as docs/deploy.md says: both files into an empty data directory.
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    target.rename(restored_dir / "maillon.db")
    key_copy.rename(restored_dir / SECRET_KEY_FILE)
    restored = Runtime(Settings(data_dir=restored_dir), registry=Registry([probe]))
    restored.open()
    try:
        assert Blocking(restored.services).connections.values("p")["api_key"] == "the-secret"
    finally:
        restored.close()


def test_a_backup_refuses_to_overwrite_and_points_postgres_to_pg_dump(
    make_settings: Callable[..., Settings],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(secret_key=None)
    runtime = Runtime(settings)
    runtime.open()
    runtime.close()
    _env(monkeypatch, settings)
    target = tmp_path / "b.db"
    target.write_text("precious")
    result = CliRunner().invoke(main, ["backup", str(target)])
    assert result.exit_code == 1
    if database_url.startswith("sqlite"):
        assert f"{target} exists" in result.output
    else:
        assert "back PostgreSQL up with pg_dump" in result.output
    assert target.read_text() == "precious"
