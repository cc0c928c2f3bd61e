"""``maillon connections``, through the real command line: fields, mistakes, and a test of
every app that can check its credentials, against local fakes on real sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.google.client import _credentials, session
from maillon.connectors.registry import Registry
from maillon.connectors.testing import FakeServer
from tests.support.cli import Cli
from tests.support.smtp import PASSWORD, USERNAME, StartServer
from tests.support.tls import Cert


def test_secrets_stay_out_of_the_output(cli: Cli) -> None:
    out = cli("connections", "add", "slack", "team", "--set", "bot_token=xoxb-very-secret").stdout
    assert "xoxb-very-secret" not in out and "secrets set: bot_token" in out
    assert "xoxb-very-secret" not in cli("connections", "list").stdout
    assert (
        "is not KEY=VALUE" in cli("connections", "add", "slack", "t2", "--set", "x", code=2).output
    )
    # The secret is usable by the engine (decrypted with the same key).
    assert cli.services.connections.get("team").secrets_set == ["bot_token"]


def test_secrets_can_come_from_a_file_or_a_hidden_prompt(cli: Cli, tmp_path: Path) -> None:
    # With --set only, a secret stayed in the shell history and in the process list.
    secret_file = tmp_path / "token"
    secret_file.write_text("xoxb-from-a-file\n")
    out = cli("connections", "add", "slack", "team", "--set-file", f"bot_token={secret_file}")
    assert "xoxb-from-a-file" not in out.output
    assert cli.services.connections.values("team")["bot_token"] == "xoxb-from-a-file"
    typed = cli(
        "connections", "add", "slack", "team", "--prompt", "bot_token", input="xoxb-typed\n"
    )
    assert "xoxb-typed" not in typed.output
    assert cli.services.connections.values("team")["bot_token"] == "xoxb-typed"
    missing = cli("connections", "add", "slack", "t2", "--set-file", "bot_token=/nope", code=2)
    assert "cannot read /nope" in missing.output


def test_a_misspelt_field_lists_the_apps_fields_with_what_each_is_for(cli: Cli) -> None:
    result = cli("connections", "add", "slack", "team", "--set", "bot_tokn=xoxb-1", code=1)
    assert result.stderr.splitlines() == [
        "Error: slack connections have no field 'bot_tokn' (did you mean bot_token?)",
        "The fields of slack connections:",
        "  bot_token    Bot token: Bot User OAuth Token of your Slack app (starts with xoxb-). "
        "[secret]",
        "  webhook_url  Incoming webhook URL: URL of an incoming webhook, which posts to the one "
        "channel chosen when the webhook was created. [secret]",
        "  base_url     Web API base URL: Change only for GovSlack (https://slack-gov.com/api/) "
        "or a proxy. [default https://slack.com/api/]",
    ]
    assert cli.services.connections.all() == []


def test_the_fields_of_an_app_are_listed_on_request(cli: Cli) -> None:
    out = cli("connections", "fields", "smtp").stdout
    assert out.splitlines()[0] == "  host                  Server [required]"
    assert "  password              Password [secret]" in out
    assert "--set bot_token" not in out
    assert "`maillon connections fields APP`" in cli("connections", "add", "--help").stdout


def test_an_unknown_app_lists_every_installed_one(cli: Cli) -> None:
    result = cli("connections", "add", "nope", "x", code=1)
    installed = Registry().kinds()
    assert {"google", "http", "particeep", "slack", "smtp"} <= set(installed)
    assert result.stderr == f"Error: unknown app 'nope' (installed: {', '.join(installed)})\n"
    gmail = cli("connections", "add", "gmail", "x", code=1)
    assert gmail.stderr == (
        "Error: gmail uses google connections: save the connection as app 'google'\n"
    )


def test_connect_prints_the_consent_url(cli: Cli) -> None:
    args = ("connections", "connect", "google", "g", "--set", "client_id=cid")
    out = cli(*args, "--set", "client_secret=cs").stdout
    assert "https://accounts.google.com/" in out and "client_id=cid" in out
    assert "https://maillon.example.com/oauth/google/callback" in out
    assert "MAILLON_GOOGLE_CLIENT_ID" in cli("connections", "connect", "google", "h", code=1).stderr
    assert "do not connect with OAuth" in cli("connections", "connect", "slack", "s", code=1).stderr


# -- connections test, one per app -------------------------------------------------------------


def test_slack_bot_token_and_webhook(cli: Cli, fake_server: FakeServer) -> None:
    fake_server.on("POST", "/api/auth.test", (200, {"ok": True, "team": "Acme", "user": "bot"}))
    fake_server.on("POST", "/services/T/B/X", (400, "no_text"))
    cli(
        "connections", "add", "slack", "team",
        "--set", "bot_token=xoxb-1",
        "--set", f"base_url={fake_server.url}api/",
        "--set", f"webhook_url={fake_server.url}services/T/B/X",
    )  # fmt: skip
    out = cli("connections", "test", "team").stdout
    assert out.startswith("ok: Slack accepts the bot token: workspace Acme, bot user bot.")
    assert "Slack knows the incoming webhook" in out

    fake_server.on("POST", "/api/auth.test", (200, {"ok": False, "error": "invalid_auth"}))
    failed = cli("connections", "test", "team", code=1).stdout
    assert failed.startswith("FAILED: Slack refused the bot token: invalid_auth")


@pytest.fixture
def google(fake_server: FakeServer) -> Iterator[FakeServer]:
    fake_server.on("POST", "/token", (200, {"access_token": "fresh", "expires_in": 3600}))
    yield fake_server
    session.cache_clear()
    _credentials.cache_clear()


def test_google_refreshes_a_token(cli: Cli, google: FakeServer) -> None:
    cli(
        "connections", "add", "google", "backoffice",
        "--set", "client_id=cid", "--set", "client_secret=cs", "--set", "refresh_token=r1",
        "--set", "account_email=ops@example.com", "--set", f"token_uri={google.url}token",
    )  # fmt: skip
    assert cli("connections", "test", "backoffice").stdout == (
        "ok: Google issued an access token for account ops@example.com from the refresh token.\n"
    )
    assert google.received("POST", "/token")[0].form()["refresh_token"] == ["r1"]


def test_smtp_logs_in_over_starttls(cli: Cli, smtp_server: StartServer, cert: Cert) -> None:
    server = smtp_server("starttls", auth=True)
    cli.services.connections.create(
        "smtp",
        "mail",
        {
            "host": "127.0.0.1",
            "port": server.port,
            "username": USERNAME,
            "password": PASSWORD,
            "tls_ca_pem": cert.pem,
        },
    )
    assert cli("connections", "test", "mail").stdout == (
        f"ok: 127.0.0.1:{server.port} answered (STARTTLS); accepted the login of {USERNAME}.\n"
    )
    assert server.handler.messages == []


def test_http_gets_its_test_url(cli: Cli, fake_server: FakeServer) -> None:
    fake_server.on("GET", "/v1/me", (200, {"id": "me"}))
    cli(
        "connections", "add", "http", "crm",
        "--set", f"base_url={fake_server.url}v1/", "--set", "test_url=me",
        "--set", "bearer_token=t0k",
    )  # fmt: skip
    assert cli("connections", "test", "crm").stdout.startswith(
        f"ok: GET {fake_server.url}v1/me answered 200 in "
    )
    assert fake_server.received("GET", "/v1/me")[0].headers["authorization"] == "Bearer t0k"


def test_particeep_checks_its_keys(cli: Cli) -> None:
    with FakeParticeep("k", "s") as particeep:
        for name, secret in (("good", "s"), ("bad", "wrong")):
            cli(
                "connections", "add", "particeep", name,
                "--set", "api_key=k", "--set", f"api_secret={secret}",
                "--set", "environment=custom", "--set", f"base_url={particeep.url}",
            )  # fmt: skip
        assert cli("connections", "test", "good").stdout == (
            "ok: Connected to Particeep (0 webhook(s) registered).\n"
        )
        assert (
            "FAILED: Particeep refused the API keys"
            in cli("connections", "test", "bad", code=1).stdout
        )


def test_a_connection_moved_elsewhere_names_the_flows_whose_secret_inputs_it_dropped(
    cli: Cli, tmp_path: Path
) -> None:
    cli("connections", "add", "http", "api", "--set", "base_url=https://api.example.com/")
    step = {
        "key": "call",
        "action": "http.send_request",
        "connection": "api",
        "input": {"url": "/orders", "bearer_token": "a-token-of-the-flow"},
    }
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps({"name": "Orders", "steps": [step]}))
    cli("flows", "import", str(flow))
    moved = cli("connections", "add", "http", "api", "--set", "base_url=https://else.example.net/")
    assert "Secret inputs dropped in flow 'Orders' (" in moved.stderr
    assert "Secret inputs dropped" not in cli("connections", "add", "http", "api").stderr
