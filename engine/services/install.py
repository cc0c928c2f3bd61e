"""The install itself: which version runs, where its data lives, and how much it holds.

``maillon info`` (and, later, an "about" page) shows this, so that someone whose command finds
an empty install can see at once which database and data directory it looked at. It reads the
database without creating or migrating it: asking where the data is must not put an empty
database somewhere else.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from sqlalchemy import Engine, func, inspect, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session, col, select

from maillon.engine.db import create_db_engine
from maillon.engine.errors import Conflict, Invalid, NotFound
from maillon.engine.models import ConnectionRow, FlowRow, RunRow, RunStatus
from maillon.engine.services.base import Service
from maillon.engine.settings import Settings

__all__ = [
    "Backup",
    "Install",
    "InstallInfo",
    "Inventory",
    "first_line",
    "hide_password",
    "maillon_version",
    "require_database",
]


def maillon_version() -> str:
    """The installed version of Maillon."""
    try:
        return version("maillon")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def hide_password(url: str) -> str:
    """``url`` with its password masked, fit to print (the URL itself if it cannot be read)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


@dataclass(frozen=True)
class Inventory:
    """How much the install holds."""

    flows: int
    enabled_flows: int
    connections: int
    queued_runs: int


@dataclass(frozen=True)
class InstallInfo:
    """Where an install keeps its data, and what it holds."""

    version: str
    #: The database URL, password hidden.
    database: str
    data_dir: Path
    #: True when ``MAILLON_DATA_DIR`` is unset and the per-user folder is used.
    data_dir_is_default: bool
    #: The secret key's file, or ``None`` when ``MAILLON_SECRET_KEY`` gives the key.
    key_file: Path | None
    public_url: str
    #: The counts, or ``None`` with :attr:`problem` saying why they could not be read.
    inventory: Inventory | None
    problem: str | None = None
    #: A ``./maillon-data`` of an older version that this install does not use.
    legacy_data_dir: Path | None = None


def require_database(settings: Settings) -> None:
    """Raise :class:`NotFound` saying where it looked when the database is a SQLite file that
    does not exist.

    Commands that work on an install call this before anything else, so that one run with
    another data directory (another user, another ``MAILLON_DATA_DIR``) says so instead of
    creating a new, empty install there. ``maillon serve``, ``worker`` and ``migrate`` create
    the database and do not call it.
    """
    path = settings.sqlite_path
    if path is None or path.exists():
        return
    if settings.database_url:
        where = "from MAILLON_DATABASE_URL"
    elif settings.data_dir_is_default:
        where = f"in the per-user data directory {settings.data_dir}"
    else:
        where = f"in the data directory {settings.data_dir}, from MAILLON_DATA_DIR"
    raise NotFound(
        f"no Maillon database at {path} ({where}): `maillon serve` or `maillon migrate` "
        "creates one there; to use an existing one, set MAILLON_DATA_DIR to its folder"
    )


class Install:
    """Facts about the install, read without creating or migrating anything.

    ``db``: the process's engine when it has one; otherwise one is opened for each call, and
    only if the database exists (so this service, unlike the others, works without a runtime).
    """

    def __init__(self, settings: Settings, db: Engine | None = None) -> None:
        self._settings = settings
        self._db = db

    async def info(self) -> InstallInfo:
        """Version, database, data directory, key file, public URL, and the counts."""
        settings = self._settings
        inventory, problem = await Service.sync(self._inventory)
        return InstallInfo(
            version=maillon_version(),
            database=hide_password(settings.resolved_database_url),
            data_dir=settings.data_dir.resolve(),
            data_dir_is_default=settings.data_dir_is_default,
            key_file=settings.key_file.resolve() if settings.key_file else None,
            public_url=settings.base_url,
            inventory=inventory,
            problem=problem,
            legacy_data_dir=settings.legacy_data_dir(),
        )

    def _inventory(self) -> tuple[Inventory | None, str | None]:
        try:
            require_database(self._settings)
        except NotFound:
            return None, "no database yet (`maillon serve` or `maillon migrate` creates it)"
        engine = self._db or create_db_engine(self._settings.resolved_database_url)
        try:
            with Session(engine) as s:
                if not inspect(s.connection()).has_table(FlowRow.__tablename__):
                    return None, "the database has no tables yet (`maillon migrate` creates them)"
                return Inventory(
                    flows=s.exec(select(func.count()).select_from(FlowRow)).one(),
                    enabled_flows=s.exec(
                        select(func.count()).select_from(FlowRow).where(col(FlowRow.enabled))
                    ).one(),
                    connections=s.exec(select(func.count()).select_from(ConnectionRow)).one(),
                    queued_runs=s.exec(
                        select(func.count())
                        .select_from(RunRow)
                        .where(RunRow.status == RunStatus.QUEUED)
                    ).one(),
                ), None
        except SQLAlchemyError as exc:
            return None, f"cannot read the database: {first_line(exc)}"
        finally:
            if engine is not self._db:
                engine.dispose()

    async def backup(self, target: Path) -> Backup:
        """Copy a SQLite install's database to ``target``, and its key file beside it.

        The copy is consistent while the install runs: SQLite's online backup copies every
        page within one read transaction, so writers go on and the copy is the database as
        it was at one instant. It is written under a temporary name, checked, then renamed.
        A key from ``MAILLON_SECRET_KEY`` is not written anywhere (the operator keeps it).
        Raises :class:`Invalid` on PostgreSQL (``pg_dump`` is its tool) and :class:`Conflict`
        when ``target`` or its key file exists.
        """
        return await Service.sync(self._backup, target)

    def _backup(self, target: Path) -> Backup:
        settings = self._settings
        source = settings.sqlite_path
        if source is None:
            raise Invalid(
                ["the database is not SQLite: back PostgreSQL up with pg_dump (docs/deploy.md)"]
            )
        require_database(settings)
        key_copy = target.with_name(target.name + ".key") if settings.key_file else None
        for path in (target, key_copy):
            if path is not None and path.exists():
                raise Conflict(f"{path} exists: give the backup a new file name")
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        src = sqlite3.connect(source)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)  # every page in one step: one snapshot
                check = dst.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                dst.close()
        finally:
            src.close()
        if check != "ok":
            partial.unlink(missing_ok=True)
            raise RuntimeError(f"the copy does not check out ({check}); nothing was kept")
        partial.chmod(0o600)
        partial.replace(target)
        if key_copy is not None and settings.key_file is not None:
            fd = os.open(key_copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(settings.key_file.read_text())
        return Backup(target, key_copy, target.stat().st_size)


@dataclass(frozen=True)
class Backup:
    """A backup made: the database copy, the key file's copy (``None``: the key is in
    ``MAILLON_SECRET_KEY``), and the copy's size in bytes."""

    database: Path
    key_file: Path | None
    size: int


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (drivers append SQL and links below it)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
