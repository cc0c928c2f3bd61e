"""Schema migrations and the durability settings the intake path's promise rests on."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from maillon.engine.db import (
    MIGRATIONS,
    SCHEMA_HEAD,
    SchemaTooNew,
    create_db_engine,
    migrate,
    storable,
)
from maillon.web.cli import main as cli_main


def test_upgrading_keeps_existing_data(database_url: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(database_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            text(
                "INSERT INTO flows (id, name, enabled, hook_token, definition, version, created_at,"
                " updated_at) VALUES ('f1', 'old flow', true, 'tok', '{}', 1, 0, 0)"
            )
        )
    assert migrate(database_url)
    assert not migrate(database_url)  # a second start finds nothing to do
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM flows")).scalar_one() == "old flow"
        columns = {c["name"] for c in inspect(conn).get_columns("flows")}
    assert "source_key" in columns
    engine.dispose()


def test_a_flows_enabled_flag_moves_out_of_its_definition(database_url: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(database_url)
    definition = '{"name": "old", "enabled": false, "steps": []}'
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.execute(
            text(
                "INSERT INTO flows (id, name, enabled, hook_token, definition, version, created_at,"
                " updated_at) VALUES ('f1', 'old', false, 'tok', :d, 1, 0, 0)"
            ),
            {"d": definition},
        )
    migrate(database_url)
    with engine.begin() as conn:
        stored = conn.execute(text("SELECT enabled, definition FROM flows")).one()
        assert not stored.enabled
        assert json.loads(stored.definition) == {"name": "old", "steps": []}
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
        assert json.loads(conn.execute(text("SELECT definition FROM flows")).scalar_one()) == {
            "name": "old",
            "steps": [],
            "enabled": False,
        }
    engine.dispose()


def test_a_server_migrates_in_a_child_process(database_url: str) -> None:
    assert migrate(database_url, in_child=True)
    assert not migrate(database_url)  # the child applied every migration


def test_an_older_maillon_refuses_a_schema_a_newer_one_migrated(database_url: str) -> None:
    migrate(database_url)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(SchemaTooNew, match="revision 9999, newer than this Maillon knows"):
        migrate(database_url)
    # The command line says it in those words, without a traceback.
    env = {"MAILLON_DATABASE_URL": database_url, "MAILLON_SECRET_KEY": "k"}
    result = CliRunner().invoke(cli_main, ["migrate"], env=env)
    assert result.exit_code == 1
    assert "Error: the database schema is at revision 9999" in result.output


def test_sqlite_commits_are_durable(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()


def test_schema_head_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD


# Expression indexes (a single owner; one flow's failed or held runs) cannot be reflected on
# SQLite nor compared as text on PostgreSQL: they are left out here, and tested where they serve
# (tests/engine/services/test_accounts.py, tests/engine/services/test_runs.py).
EXPRESSION_INDEXES = {"uq_users_single_owner", "ix_runs_flow_rare_status"}


@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_migrations_build_the_schema_the_models_describe(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    from maillon.engine import models  # noqa: F401  (registers the tables on the metadata)

    migrate(database_url)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": lambda _, name, *__: name not in EXPRESSION_INDEXES}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_storable_text_has_no_nul_and_no_lone_surrogate() -> None:
    assert storable("a\x00b\ud800c") == "a\ufffdb\ufffdc"
    assert storable("plain é ✓") == "plain é ✓"
    storable("a\ud800").encode("utf-8")


def test_the_data_directory_and_the_database_are_private(tmp_path: Path) -> None:
    # Created with the process's umask (0755 and 0644 under the usual 022): any local user
    # could read the events, and copy the database with its sealed secrets and the key.
    from maillon.engine.runtime import Runtime
    from maillon.engine.settings import Settings

    old = os.umask(0o022)
    try:
        data = tmp_path / "fresh" / "data"
        runtime = Runtime(Settings(data_dir=data))
        runtime.open()
        try:
            with runtime.db.begin() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            runtime.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in [data / "maillon.db", data / "secret.key", *data.glob("maillon.db-*")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_existing_flows_become_their_published_version_and_runs_take_it(
    database_url: str,
) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(database_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0013")
        conn.execute(
            text(
                "INSERT INTO flows (id, name, enabled, hook_token, definition, version, created_at,"
                " updated_at) VALUES ('f1', 'edited thrice', true, 'tok', '{\"name\": \"x\"}', 3,"
                " 0, 50)"
            )
        )
        for run_id, flow_id in (("r1", "f1"), ("r2", "gone")):
            conn.execute(
                text(
                    "INSERT INTO runs (id, flow_id, event_id, status, claims, available_at,"
                    " created_at) VALUES (:id, :flow, 'e1', 'queued', 0, 0, 0)"
                ),
                {"id": run_id, "flow": flow_id},
            )
    migrate(database_url)
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT * FROM flow_versions")).mappings().one()
        rows = conn.execute(text("SELECT id, flow_version FROM runs ORDER BY id")).all()
        runs = {run_id: version for run_id, version in rows}
        draft = conn.execute(text("SELECT draft FROM flows")).scalar_one()
    engine.dispose()
    assert dict(kept) == {
        "flow_id": "f1",
        "version": 3,
        "definition": '{"name": "x"}',
        "author": None,
        "note": None,
        "published_at": 50,
    }
    assert runs == {"r1": 3, "r2": 0}  # a deleted flow's run has no version left to run
    assert draft is None
