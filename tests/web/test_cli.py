"""The ``maillon`` command line: the install it works on, and errors a person can act on."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from examples.particeep.fake_api import FakeParticeep
from maillon.engine.db import migrate
from maillon.engine.settings import Settings
from maillon.web.cli import main
from tests.support.cli import Cli
from tests.support.server import free_port, maillon_command

ROOT = Path(__file__).parents[2]


def test_migrate_brings_a_fresh_database_to_the_newest_schema(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    monkeypatch.setenv("MAILLON_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("MAILLON_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(main, ["migrate"], catch_exceptions=False)
    assert result.exit_code == 0 and result.stdout == "schema is up to date\n"
    assert not migrate(settings.resolved_database_url)  # nothing left to apply


def test_tokens_create_prints_a_working_token_once(cli: Cli) -> None:
    token = cli("tokens", "create", "ci").stdout.splitlines()[0]
    assert token.startswith("mlt_")
    listing = cli("tokens", "list").stdout
    assert listing.endswith("  ci  (never used)\n") and token not in listing
    assert asyncio.run(cli.runtime.services.tokens.check(token)) is not None
    assert "  ci  (last used 20" in cli("tokens", "list").stdout


def test_info_says_where_the_install_is_and_what_it_holds(cli: Cli) -> None:
    cli.services.connections.create("http", "crm", {"base_url": "https://crm.example.com/"})
    out = cli("info").stdout
    lines = dict(line.split(":", 1) for line in out.splitlines()[1:])
    assert out.startswith("Maillon 0.1.0\n")
    assert lines["data dir"].strip() == f"{cli.settings.data_dir} (from MAILLON_DATA_DIR)"
    assert lines["secret key"].strip() == "from MAILLON_SECRET_KEY"
    assert lines["public URL"].strip() == "https://maillon.example.com"
    assert [lines[k].strip() for k in ("flows", "connections", "queued runs")] == [
        "0 (0 enabled)",
        "1",
        "0",
    ]


def test_info_hides_the_database_password_and_says_why_it_cannot_count(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"postgresql+psycopg://maillon:hunter2@127.0.0.1:{free_port()}/maillon"
    monkeypatch.setenv("MAILLON_DATABASE_URL", url)
    monkeypatch.setenv("MAILLON_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["info"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "hunter2" not in result.output
    assert "database:     postgresql+psycopg://maillon:***@127.0.0.1:" in result.stdout
    assert "contents:     cannot read the database: connection failed: " in result.stdout


def test_a_command_that_finds_no_database_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILLON_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(main, ["flows", "list"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: no Maillon database at {tmp_path / 'data' / 'maillon.db'} (in the data "
        f"directory {tmp_path / 'data'}, from MAILLON_DATA_DIR): `maillon serve` or `maillon "
        "migrate` creates one there; to use an existing one, set MAILLON_DATA_DIR to its folder\n"
    )
    assert not (tmp_path / "data").exists()  # nothing was created there
    info = CliRunner().invoke(main, ["info"], catch_exceptions=False)
    assert info.exit_code == 0
    assert "contents:     no database yet (`maillon serve` or `maillon migrate`" in info.stdout


def test_the_default_data_directory_does_not_depend_on_the_working_folder(
    tmp_path: Path,
) -> None:
    # Two folders, one install: the per-user data directory (XDG_DATA_HOME here).
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "home-data")}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    subprocess.run(maillon_command("migrate"), cwd=tmp_path / "a", env=env, check=True)
    out = subprocess.run(
        maillon_command("info"),
        cwd=tmp_path / "b",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"data dir:     {tmp_path / 'home-data' / 'maillon'} (per-user default)" in out
    assert "flows:        0 (0 enabled)" in out
    assert not (tmp_path / "a" / "maillon-data").exists()


def test_an_older_versions_data_folder_is_pointed_out(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "home-data")}
    migrate(f"sqlite:///{tmp_path / 'maillon-data' / 'maillon.db'}")
    result = subprocess.run(
        maillon_command("info"), cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert result.stderr.startswith(
        f"note: {tmp_path / 'maillon-data'} holds the data of an older Maillon"
    )
    assert f"set MAILLON_DATA_DIR={tmp_path / 'maillon-data'} to keep using them" in result.stderr


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        maillon_command(*args),
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://maillon:hunter2@127.0.0.1:{free_port()}/maillon"
    result = _run("flows", "list", env={"MAILLON_DATABASE_URL": url})
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "Error: cannot use the database postgresql+psycopg://maillon:***@127.0.0.1:"
    )
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


def test_a_setting_that_does_not_parse_is_named(tmp_path: Path) -> None:
    result = _run(
        "flows", "list", env={"MAILLON_PORT": "eighty", "MAILLON_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: a setting is not valid: MAILLON_PORT: Input should")
    assert len(result.stderr.splitlines()) == 1


def test_commands_print_no_library_info_logs(cli: Cli) -> None:
    # The Particeep client (httpx) logs every request at INFO; a command's output must not
    # carry those lines. In a process of its own: logging is configured once per process.
    with FakeParticeep("k", "s") as particeep:
        values = {"api_key": "k", "api_secret": "s", "environment": "custom"}
        cli.services.connections.create("particeep", "p", {**values, "base_url": particeep.url})
        env = {
            "MAILLON_DATABASE_URL": cli.settings.resolved_database_url,
            "MAILLON_DATA_DIR": str(cli.settings.data_dir),
            "MAILLON_SECRET_KEY": "cli-secret",
        }
        result = _run("connections", "test", "p", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok: Connected to Particeep (0 webhook(s) registered).\n"
    assert result.stderr == ""


def test_serve_on_an_address_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("serve", "--port", str(port), env={"MAILLON_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use (another server "
        "there? --port or MAILLON_PORT chooses another)\n"
    )
    assert not (tmp_path / "maillon.db").exists()  # nothing started
