"""What every ``maillon`` command shares: the settings and the engine of this process, the one
bridge to the engine's coroutines, and the rule that a person's mistake is said in one line.

A mistake a person can fix (a wrong name or field, a flow that cannot be saved, a database that
is missing or unreachable, a setting that does not parse) ends the command with ``Error: ...``
and exit code 1, never with a traceback. Management commands log warnings only, so that their
output is not mixed with libraries' INFO lines; ``maillon serve`` and ``worker`` log what
``MAILLON_LOG_LEVEL`` says (INFO by default).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from maillon.engine import logs
from maillon.engine.db import SchemaTooNew, migrate
from maillon.engine.errors import Conflict, Invalid, NotFound
from maillon.engine.runtime import Runtime
from maillon.engine.services import Services
from maillon.engine.services.base import COMMAND_LINE
from maillon.engine.services.install import first_line, hide_password, require_database
from maillon.engine.settings import Settings

__all__ = [
    "AUTHOR",
    "Ctx",
    "echo_json",
    "pass_ctx",
    "read_text",
    "setup_logging",
    "translated",
    "when",
]

T = TypeVar("T")

#: Who the command line's edits, publishes and replays are recorded as.
AUTHOR = COMMAND_LINE


def setup_logging(settings: Settings, *, quiet: bool) -> None:
    """Log to stderr; ``quiet`` (management commands): warnings only, unless
    ``MAILLON_LOG_LEVEL`` asks for more."""
    level = settings.log_level
    if quiet and "log_level" not in settings.model_fields_set:
        level = "WARNING"
    logs.configure(level, settings.log_format)
    # A command that migrates logs one line of its own (maillon.engine.db); Alembic's lines
    # (its context, its plugins, each revision) add nothing to it.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _problems(exc: Invalid | NotFound | Conflict) -> str:
    if isinstance(exc, Invalid) and len(exc.problems) > 1:
        return "\n".join(["not accepted:", *(f"  {p}" for p in exc.problems)])
    return str(exc.args[0]) if exc.args else type(exc).__name__


@contextmanager
def translated(
    settings: Settings | None = None, *, passing: tuple[type[Exception], ...] = ()
) -> Iterator[None]:
    """Turn what a person can act on into ``Error: ...`` and exit code 1.

    The engine's refusals keep their words; a database that cannot be opened is named (its
    password hidden) with the driver's first line; a data directory that cannot be written is
    named with the system's reason. ``passing``: errors the command shows in its own way.
    """
    from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError

    try:
        yield
    except passing:
        raise
    except (NotFound, Conflict, Invalid) as exc:
        raise click.ClickException(_problems(exc)) from exc
    except (OperationalError, InterfaceError, ArgumentError, NoSuchModuleError) as exc:
        where = hide_password(settings.resolved_database_url) if settings else "the database"
        raise click.ClickException(f"cannot use the database {where}: {first_line(exc)}") from exc
    except PermissionError as exc:
        raise click.ClickException(f"cannot write {exc.filename}: {exc.strerror}") from exc
    except SchemaTooNew as exc:
        raise click.ClickException(str(exc)) from exc


class Ctx:
    """The command's settings and engine, opened lazily so that ``--help`` needs neither."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._runtime: Runtime | None = None

    @property
    def settings(self) -> Settings:
        """The settings from the environment; a value that does not parse is said plainly."""
        if self._settings is None:
            try:
                self._settings = Settings()
            except ValidationError as exc:
                wrong = "; ".join(
                    f"MAILLON_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                    for e in exc.errors()
                )
                raise click.ClickException(f"a setting is not valid: {wrong}") from None
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value

    @property
    def runtime(self) -> Runtime:
        """The engine of this process, on an existing database (see :func:`require_database`)."""
        if self._runtime is None:
            settings = self.settings
            setup_logging(settings, quiet=True)
            warn_about_legacy_data(settings)
            with translated(settings):
                require_database(settings)
                # Reached (and brought up to date) before the runtime is built: building it
                # reads the secret key, and generates one on a first use, which must not
                # happen for a database that cannot be used.
                migrate(settings.resolved_database_url)
                runtime = Runtime(settings)
                runtime.open()
            self._runtime = runtime
        return self._runtime

    @property
    def services(self) -> Services:
        return self.runtime.services

    def run(self, work: Coroutine[Any, Any, T], *, passing: tuple[type[Exception], ...] = ()) -> T:
        """Run one service call to completion: the CLI's one bridge to the async engine.

        ``passing``: engine errors the command shows in its own way (see :func:`translated`).
        """
        with translated(self._settings, passing=passing):
            return asyncio.run(work)

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


pass_ctx = click.make_pass_decorator(Ctx)


def warn_about_legacy_data(settings: Settings) -> None:
    """Say so when ``./maillon-data`` holds an install that this command does not use."""
    old = settings.legacy_data_dir()
    if old is not None:
        click.echo(
            f"note: {old} holds the data of an older Maillon, which kept it in the folder it was "
            f"run from; it is not used. Data now lives in {settings.data_dir}: move the files "
            f"there, or set MAILLON_DATA_DIR={old} to keep using them.",
            err=True,
        )


def read_text(path: Path) -> str:
    """A file a person named, as text; one that cannot be read is said in one line."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        reason = f"{exc.reason} at byte {exc.start}"
        raise click.ClickException(f"{path}: not UTF-8 text ({reason})") from None
    except OSError as exc:
        raise click.ClickException(f"{path}: {exc.strerror}") from exc


def when(timestamp: float | None) -> str:
    """An epoch time as the command line shows it (UTC)."""
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def echo_json(value: Any, indent: int = 4) -> None:
    """``value`` as indented JSON, each line indented by ``indent`` spaces."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    click.echo("\n".join(" " * indent + line for line in text.splitlines()))
