"""The ``maillon`` command line run in-process (click's runner) against a real database.

Fixture ``cli``: an install whose database exists (as after the first ``maillon serve``),
named to commands by MAILLON_* variables, with the installed connectors. Calling it runs one
command and checks its exit code; a traceback fails the test (exceptions are not caught).
``cli.services`` is the same install's engine, to set the scene and to check it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

from maillon.engine.db import migrate
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.web.cli import main
from tests.support.services import Blocking

__all__ = ["Cli", "cli"]

PUBLIC_URL = "https://maillon.example.com"


class Cli:
    """Runs ``maillon ARGS...``; ``services`` and ``runtime`` are the install's engine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = Runtime(settings)
        self.services = Blocking(self.runtime.services)

    def __call__(self, *args: str, code: int = 0, input: str | None = None) -> Result:
        result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result


@pytest.fixture
def cli(make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    settings = make_settings(secret_key="cli-secret", public_url=PUBLIC_URL)
    migrate(settings.resolved_database_url)
    for name, value in {
        "MAILLON_DATA_DIR": str(settings.data_dir),
        "MAILLON_DATABASE_URL": settings.resolved_database_url,
        "MAILLON_SECRET_KEY": "cli-secret",
        "MAILLON_PUBLIC_URL": PUBLIC_URL,
    }.items():
        monkeypatch.setenv(name, value)
    runner = Cli(settings)
    runner.runtime.open()
    yield runner
    runner.runtime.close()
