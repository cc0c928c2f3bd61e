"""``maillon keys rotate`` from the command line: what it did, in one screen."""

from __future__ import annotations

from tests.support.cli import Cli


def test_keys_rotate_reports_what_it_reencrypted(cli: Cli) -> None:
    cli.services.connections.create("http", "api", {"bearer_token": "t0ken"})
    result = cli("keys", "rotate")
    assert "re-encrypted under the first key of MAILLON_SECRET_KEY" in result.output
    assert "re-encrypted: 1 connection(s), 0 OAuth state(s)" in result.output
    assert cli.services.connections.values("api")["bearer_token"] == "t0ken"
