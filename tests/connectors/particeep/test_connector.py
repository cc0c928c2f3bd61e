from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from maillon.connectors.particeep import ParticeepConnection, connector
from maillon.connectors.registry import Registry

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def test_the_entry_point_names_the_connector() -> None:
    project = tomllib.loads(PYPROJECT.read_text())
    target = project["project"]["entry-points"]["maillon.connectors"]["particeep"]
    module, _, attribute = target.partition(":")
    assert getattr(importlib.import_module(module), attribute) is connector


def test_the_catalog_ships_as_package_data() -> None:
    project = tomllib.loads(PYPROJECT.read_text())
    assert (
        "events.yaml"
        in project["tool"]["setuptools"]["package-data"]["maillon.connectors.particeep"]
    )


def test_the_registry_resolves_particeep_actions() -> None:
    found, action = Registry([connector]).resolve("particeep.update_user")
    assert found is connector
    assert action.key == "update_user"
    assert connector.connection is ParticeepConnection
    assert connector.needs_connection


def test_a_custom_base_url_must_be_http_and_the_refusal_names_it() -> None:
    with pytest.raises(ValidationError, match="must start with http:// or https://") as refused:
        ParticeepConnection(api_key="k", api_secret="s", environment="custom", base_url="ftp://x")
    assert refused.value.errors()[0]["loc"] == ("base_url",)
