"""The ``maillon`` command line, run in-process against a real database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from maillon.engine.db import migrate
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.web.cli import main
from tests.support.services import Blocking

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def cli(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., str]:
    settings = make_settings()
    monkeypatch.setenv("MAILLON_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MAILLON_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("MAILLON_SECRET_KEY", "cli-secret")
    monkeypatch.setenv("MAILLON_PUBLIC_URL", "https://maillon.example.com")

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_migrate_brings_a_fresh_database_to_the_newest_schema(
    cli: Callable[..., str], make_settings: Callable[..., Settings]
) -> None:
    assert cli("migrate") == "schema is up to date\n"
    assert not migrate(make_settings().resolved_database_url)  # nothing left to apply


def test_tokens_create_prints_a_working_token_once(cli: Callable[..., str]) -> None:
    out = cli("tokens", "create", "ci")
    token = out.splitlines()[0]
    assert token.startswith("mlt_")
    assert "ci" in cli("tokens", "list")
    assert token not in cli("tokens", "list")


def test_import_export_round_trip(cli: Callable[..., str], tmp_path: Path) -> None:
    cli("connections", "add", "slack", "team-slack", "--set", "bot_token=xoxb-secret")
    out = cli("flows", "import", str(EXAMPLES / "transaction_to_slack.yaml"))
    flow_id = out.split()[0]
    assert "hook: https://maillon.example.com/hooks/" in out

    exported = cli("flows", "export", flow_id)
    doc = yaml.safe_load(exported)
    assert doc["id"] == flow_id
    assert doc["steps"][0]["action"] == "slack.send_message"
    assert doc["trigger"]["dedup"] == "{{ event.id }}"

    # Re-importing an exported flow (it has an id) updates it instead of creating a twin.
    doc["name"] = "Renamed"
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(doc))
    cli("flows", "import", str(path))
    listing = cli("flows", "list")
    assert listing.count("hook:") == 1 and "Renamed" in listing


def test_import_reports_problems_and_fails(cli: Callable[..., str], tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nsteps:\n  - key: a\n    action: slack.send_message\n")
    out = cli("flows", "import", str(path), code=1)
    assert "slack.send_message needs a connection" in out


def test_connections_add_keeps_secrets_out_of_output(
    cli: Callable[..., str], make_settings: Callable[..., Settings]
) -> None:
    out = cli("connections", "add", "slack", "team", "--set", "bot_token=xoxb-very-secret")
    assert "xoxb-very-secret" not in out and "secrets set: bot_token" in out
    assert "xoxb-very-secret" not in cli("connections", "list")
    bad = cli("connections", "add", "slack", "team2", "--set", "nonsense", code=2)
    assert "is not KEY=VALUE" in bad
    unknown = cli("connections", "add", "nope", "x", code=1)
    assert "unknown app 'nope'" in unknown
    # The secret is usable by the engine (decrypted with the same key).
    runtime = Runtime(make_settings(secret_key="cli-secret"))
    runtime.open()
    try:
        view = Blocking(runtime.services).connections.get("team")
        assert view.secrets_set == ["bot_token"]
    finally:
        runtime.close()


def test_connect_prints_the_consent_url(cli: Callable[..., str]) -> None:
    out = cli(
        "connections",
        "connect",
        "google",
        "g",
        "--set",
        "client_id=cid",
        "--set",
        "client_secret=cs",
    )
    assert "https://accounts.google.com/" in out and "client_id=cid" in out
    assert "https://maillon.example.com/oauth/google/callback" in out
    assert "MAILLON_GOOGLE_CLIENT_ID" in cli("connections", "connect", "google", "h", code=1)
    assert "do not connect with OAuth" in cli("connections", "connect", "slack", "s", code=1)
