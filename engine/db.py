"""Database engine creation, statements on the driver's cursor, and schema migrations (Alembic)."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.pool import NullPool

try:
    import fcntl as _fcntl
except ImportError:  # Windows: SQLite's busy handler alone orders the writers
    _fcntl = None  # type: ignore[assignment]

from maillon.engine.settings import make_private_dir

__all__ = [
    "SCHEMA_HEAD",
    "SchemaTooNew",
    "advisory_lock",
    "create_db_engine",
    "driver_execute",
    "driver_insert",
    "driver_query",
    "for_writes",
    "integrity_errors",
    "is_sqlite",
    "migrate",
    "storable",
    "write_turns",
]

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
_IMMEDIATE = "maillon_begin_immediate"


def storable(text: str) -> str:
    """``text`` as both databases can store it: PostgreSQL refuses NUL in text, and neither
    driver can encode a lone surrogate (both can come back from a remote API's error).

    NUL becomes U+FFFD, and so does each unencodable character.
    """
    text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


def is_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` talks to SQLite (one writer process, no SKIP LOCKED)."""
    return engine.dialect.name == "sqlite"


@contextmanager
def advisory_lock(engine: Engine, name: str, *, wait: bool = True) -> Iterator[bool]:
    """Hold the lock ``name`` across every process sharing the database, for the ``with`` block.

    Yields whether the lock is held: always with ``wait``; without, ``False`` at once when
    another holder has it. On PostgreSQL a session-level advisory lock, on a connection of its
    own in autocommit (no transaction stays open while the holder calls a remote API); on SQLite
    (``maillon serve`` and its worker processes) a ``flock`` on a file beside the database. Either
    is released if the process dies. Two holders in one process exclude each other as well.
    """
    if is_sqlite(engine):
        with _file_lock(engine, name, wait=wait) as held:
            yield held
        return
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = {"name": name}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if wait:
            conn.execute(text("SELECT pg_advisory_lock(hashtextextended(:name, 0))"), key)
            held = True
        else:
            held = bool(
                conn.execute(
                    text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))"), key
                ).scalar()
            )
        try:
            yield held
        finally:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))"), key)


@contextmanager
def _file_lock(engine: Engine, name: str, *, wait: bool) -> Iterator[bool]:
    """:func:`advisory_lock` on SQLite: an exclusive ``flock`` on ``<database>-<name>.lock``."""
    path = engine.url.database
    if not path or path == ":memory:" or _fcntl is None:
        yield True  # one process can use this database: its callers serialise their tasks
        return
    slug = hashlib.sha256(name.encode()).hexdigest()[:16]
    fd = os.open(f"{path}-{slug}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            _fcntl.flock(fd, _fcntl.LOCK_EX if wait else _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)  # which releases the lock


def _make_sqlite_dir(url: str) -> None:
    """Create the directory of a SQLite database file (a fresh data directory has none),
    ``0700``, and the file itself ``0600``: both hold what senders posted, and the database
    the sealed secrets. SQLite gives its -wal and -shm files the database file's mode."""
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    if path and path != ":memory:":
        make_private_dir(Path(path).parent)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def create_db_engine(url: str) -> Engine:
    """An engine with the settings Maillon relies on for durability.

    SQLite: WAL (readers never block the writer), ``synchronous=FULL`` (a commit survives power
    loss: the 2xx we give senders promises that), and a busy timeout instead of instant
    ``database is locked`` errors. Transactions are deferred (reads take no lock) unless they
    come from :func:`for_writes`, which begins them with ``BEGIN IMMEDIATE``.
    """
    if url.startswith("sqlite"):
        _make_sqlite_dir(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
            pool_size=8,
            max_overflow=8,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get(_IMMEDIATE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def write_turns(engine: Engine) -> contextlib.AbstractContextManager[None]:
    """A context in which to write a transaction, taking turns with the other processes that
    write to the same SQLite file (a no-op elsewhere).

    SQLite lets one transaction write at a time; one that finds the write lock taken retries it
    after sleeps of 1, 2, 5, 10... up to 100 ms (its busy handler). A process that commits again
    as soon as it has committed (the web process's writer under load) then gets nearly every
    turn, and the others starve: worker processes delivered a third of what their web process
    accepted (tests/benchmarks/README.md). Taken as a lock on a file beside the database, a turn
    goes to a waiting process as soon as the previous one ends, by the kernel's wake-up rather
    than a retry after a sleep.
    """
    path = engine.url.database if is_sqlite(engine) else None
    if not path or path == ":memory:" or _fcntl is None:
        return contextlib.nullcontext()
    return _FileTurns(path + "-writer.lock")


class _FileTurns:
    """An exclusive ``flock`` on a file, held for the ``with`` block (by one thread at a time)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd = -1

    def __enter__(self) -> None:
        assert _fcntl is not None
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        _fcntl.flock(self._fd, _fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)  # which releases the lock


def for_writes(engine: Engine) -> Engine:
    """The same engine (same pool), for transactions that will write.

    On SQLite they begin with ``BEGIN IMMEDIATE``: a deferred transaction that reads, then
    writes after another connection committed, fails at once with ``SQLITE_BUSY_SNAPSHOT``
    (no busy timeout applies); taking the write lock up front makes it wait its turn instead.
    """
    return engine.execution_options(**{_IMMEDIATE: True})


# -- statements on the driver's cursor ---------------------------------------------------------
#
# The intake path runs a few statements per batch of deliveries, each with many rows. Through
# SQLAlchemy Core every row's parameters go through its per-row processing, which costs more
# than SQLite needs to store the row; on the driver's own cursor the row is one tuple.
# These helpers run plain SQL written with ``?`` markers inside the connection's current
# transaction, in the driver's parameter style (sqlite3: ``?``; psycopg: ``%s``).


@lru_cache(maxsize=256)
def _in_driver_style(sql: str, paramstyle: str) -> str:
    return sql if paramstyle == "qmark" else sql.replace("%", "%%").replace("?", "%s")


@lru_cache(maxsize=1024)
def _insert_sql(
    table: str, columns: tuple[str, ...], rows: int, paramstyle: str, on_conflict: str
) -> str:
    mark = "?" if paramstyle == "qmark" else "%s"
    one = "(" + ",".join([mark] * len(columns)) + ")"
    sql = f"INSERT INTO {table} ({','.join(columns)}) VALUES {','.join([one] * rows)}"
    return f"{sql} ON CONFLICT {on_conflict}" if on_conflict else sql


def driver_query(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``?`` markers), run on the driver's cursor in ``conn``'s transaction."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(_in_driver_style(sql, conn.dialect.paramstyle), params)
        return cur.fetchall()  # type: ignore[no-any-return]
    finally:
        cur.close()


def driver_execute(conn: Connection, sql: str, params: Sequence[Any] = ()) -> None:
    """Run ``sql`` (``?`` markers, no result rows) on the driver's cursor in ``conn``'s
    transaction."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(_in_driver_style(sql, conn.dialect.paramstyle), params)
    finally:
        cur.close()


def driver_insert(
    conn: Connection,
    table: str,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    on_conflict: str = "",
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) with multi-row ``INSERT`` statements.

    Multi-row statements rather than ``executemany``: sqlite3 steps an executemany once per
    row and releases and re-takes the GIL each time, and under load each re-take waits for the
    event loop. As many rows go in each statement as the driver's parameter limit allows: a
    batch of app events fanned out to many flows can hold thousands of runs.

    ``on_conflict``: what follows ``ON CONFLICT`` (an upsert, in the syntax SQLite and
    PostgreSQL share). PostgreSQL refuses a statement that would update one row twice: the
    caller passes at most one row per conflict target.
    """
    if not rows:
        return
    per_statement = max(1, _max_params(conn) // len(columns))
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            sql = _insert_sql(table, columns, len(chunk), conn.dialect.paramstyle, on_conflict)
            cur.execute(sql, list(itertools.chain.from_iterable(chunk)))
    finally:
        cur.close()


def _max_params(conn: Connection) -> int:
    """Bound parameters one statement may carry on ``conn``."""
    if conn.dialect.name == "sqlite":
        import sqlite3  # loaded already by the SQLite dialect

        limit: int = conn.connection.driver_connection.getlimit(  # type: ignore[union-attr]
            sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
        )
        return limit
    return 65_535  # PostgreSQL's wire protocol: a 16-bit count


def integrity_errors(conn: Connection) -> tuple[type[Exception], ...]:
    """What a constraint violation raises on ``conn``: SQLAlchemy's error or the driver's."""
    from sqlalchemy.exc import IntegrityError

    return (IntegrityError, conn.dialect.loaded_dbapi.IntegrityError)


#: The newest migration's revision (a test keeps it equal to Alembic's head). Knowing it lets a
#: start on an up-to-date database skip loading Alembic at all.
SCHEMA_HEAD = "0017"


def migrate(url: str, *, in_child: bool = False, log_format: str = "text") -> bool:
    """Bring the schema at ``url`` to the newest revision; return whether it was behind.

    The one way the schema is brought up to date: ``maillon migrate`` and the runtime of every
    other command call it, tests too, and it is safe on every start. An up-to-date schema is
    recognised by one query, without loading Alembic.

    ``in_child=True`` applies the migrations in a short-lived child process, for long-running
    processes (``maillon serve``, ``maillon worker``): Alembic, with Mako behind it, would
    otherwise stay loaded, and resident, for the life of a server that migrated at start; it
    logs in ``log_format`` (``text`` or ``json``), as its parent does.
    """
    _make_sqlite_dir(url)
    current = _current_revision(url)
    if current == SCHEMA_HEAD:
        return False
    if current is not None and current not in _known_revisions():
        # A newer Maillon migrated this database (a fleet upgraded machine by machine): this
        # older code does not know the schema, and must not run against it.
        raise SchemaTooNew(
            f"the database schema is at revision {current}, newer than this Maillon knows "
            f"({SCHEMA_HEAD}): upgrade Maillon here before starting it"
        )
    if in_child:
        _upgrade_in_child(url, log_format)
    else:
        _upgrade(url)
    return True


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer Maillon than this one."""


def _known_revisions() -> set[str]:
    """The revisions this code has migrations for (from the files' names: no Alembic)."""
    return {p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*.py")}


def _current_revision(url: str) -> str | None:
    """The revision recorded in the database (``None`` for an empty one), read without Alembic."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return None if value is None else str(value)
    finally:
        engine.dispose()


# The child logs Maillon's own line about the upgrade, as a migrating command does; Alembic's
# lines (its context, each revision) stay quiet in both.
_MIGRATE_CHILD = """
import logging, sys
from maillon.engine import logs
from maillon.engine.db import migrate
logs.configure("WARNING", sys.argv[2])
logging.getLogger("maillon.engine.db").setLevel(logging.INFO)
migrate(sys.argv[1])
"""


def _upgrade_in_child(url: str, log_format: str) -> None:
    # Our own interpreter and script; the URL is the operator's setting, passed as an argument.
    argv = [sys.executable, "-c", _MIGRATE_CHILD, url, log_format]
    child = subprocess.run(argv, check=False)  # noqa: S603
    if child.returncode != 0:
        raise RuntimeError(f"migrating the database schema failed (exit {child.returncode})")


def _upgrade(url: str) -> None:
    # Imported here: Alembic (with Mako and Pygments behind it) costs a long-running process
    # memory it only needs for this one call.
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # A separate short-lived engine: Alembic's connection must not linger in the app's pool.
    engine = create_engine(url, poolclass=NullPool)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    try:
        with engine.begin() as conn:
            # Read again under Alembic: another process may have migrated since the check.
            current = MigrationContext.configure(conn).get_current_revision()
            if current != head:
                log.info("migrating the database schema from %s to %s", current or "empty", head)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
    finally:
        engine.dispose()
