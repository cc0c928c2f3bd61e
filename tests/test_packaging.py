"""The installed distribution: importable only as ``maillon.*``, with every package listed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"maillon.engine": "engine", "maillon.connectors": "connectors", "maillon.web": "web"}


def _project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    setuptools = _project()["tool"]["setuptools"]
    assert setuptools["package-dir"] == {name: folder for name, folder in FOLDERS.items()}
    found = set()
    for name, folder in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *parts)))
    assert set(setuptools["packages"]) == found


def test_the_code_is_importable_under_maillon_only() -> None:
    # In a fresh interpreter outside the checkout, so that the current directory cannot help.
    code = (
        "import importlib.util as u, maillon.engine, maillon.connectors, maillon.web\n"
        "assert all(u.find_spec(n) is None for n in ('engine', 'connectors', 'web'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


def test_the_mypy_view_points_at_the_real_folders() -> None:
    for name, folder in FOLDERS.items():
        link = ROOT / ".namespace" / "maillon" / name.split(".")[1]
        assert link.is_symlink()
        assert link.resolve() == (ROOT / folder).resolve()
    assert importlib.util.find_spec("maillon.engine") is not None


def test_every_template_and_static_file_is_package_data() -> None:
    # A non-editable install has only what package-data names: a page would be missing there.
    patterns = _project()["tool"]["setuptools"]["package-data"]["maillon.web"]
    web = ROOT / "web"
    shipped = {path for pattern in patterns for path in web.glob(pattern)}
    present = {
        path
        for folder in ("templates", "static")
        for path in (web / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert present - shipped == set()
