"""The systemd units and settings file of examples/deploy/: every command they start is a real
``maillon`` command with real options, and every setting they name exists."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from maillon.engine.settings import Settings
from maillon.web.cli import main as cli_main

DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))


def test_there_are_units_for_a_single_node_and_a_fleet() -> None:
    assert {u.name for u in UNITS} == {
        "maillon.service",
        "maillon-web.service",
        "maillon-worker.service",
    }


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_each_unit_starts_a_real_command(unit: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read(unit)
    argv = shlex.split(parser["Service"]["ExecStart"])
    assert argv[0].endswith("/maillon")
    assert parser["Service"]["EnvironmentFile"] == "/etc/maillon/maillon.env"
    # Options are checked before --help is acted on: a wrong one fails with exit code 2.
    result = CliRunner().invoke(cli_main, [*argv[1:], "--help"])
    assert result.exit_code == 0, result.output


def test_the_settings_file_names_real_settings() -> None:
    names = re.findall(r"^#?(MAILLON_[A-Z_]+)=", (DEPLOY / "maillon.env").read_text(), re.M)
    assert names
    fields = {f"MAILLON_{name.upper()}" for name in Settings.model_fields}
    assert set(names) <= fields, set(names) - fields
