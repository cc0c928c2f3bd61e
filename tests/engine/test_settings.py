"""Where an install keeps its data: a per-user folder by default, whatever the working folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from maillon.engine.settings import Settings, default_data_dir


def test_the_default_data_directory_is_per_user_not_per_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILLON_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.data_dir == tmp_path / "xdg" / "maillon" == default_data_dir()
    assert settings.data_dir_is_default
    assert settings.sqlite_path == tmp_path / "xdg" / "maillon" / "maillon.db"
    # A relative XDG_DATA_HOME is ignored, as the specification says.
    monkeypatch.setenv("XDG_DATA_HOME", "relative")
    assert default_data_dir() == Path.home() / ".local" / "share" / "maillon"


def test_maillon_data_dir_overrides_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILLON_DATA_DIR", str(tmp_path / "here"))
    settings = Settings()
    assert settings.data_dir == tmp_path / "here" and not settings.data_dir_is_default


def test_an_older_versions_data_folder_is_noticed_not_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILLON_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert Settings().legacy_data_dir() is None
    (tmp_path / "maillon-data").mkdir()
    (tmp_path / "maillon-data" / "maillon.db").write_bytes(b"")
    assert Settings().legacy_data_dir() == tmp_path / "maillon-data"
    # Once the per-user folder has a database, or another folder is chosen, it is not mentioned.
    os.makedirs(tmp_path / "xdg" / "maillon")
    (tmp_path / "xdg" / "maillon" / "maillon.db").write_bytes(b"")
    assert Settings().legacy_data_dir() is None
    monkeypatch.setenv("MAILLON_DATA_DIR", str(tmp_path / "maillon-data"))
    assert Settings().legacy_data_dir() is None
