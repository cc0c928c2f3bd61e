"""The installed distribution: importable only as ``maillon.*``, with every package listed and
every third-party package it imports declared."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from functools import cache
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


FIRST_PARTY = {"maillon", "tests", "examples"}


def _imports(*folders: str) -> dict[str, set[str]]:
    """Absolute imports in the folders' Python files (deferred and TYPE_CHECKING ones too): each
    third-party module, with the files that import it.

    A folder with a pyproject.toml of its own (the example connector package) is another
    distribution, with its own dependencies: it is left out.
    """
    found: defaultdict[str, set[str]] = defaultdict(set)
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            if any(
                (parent / "pyproject.toml").exists()
                for parent in path.parents[:-1]
                if parent != ROOT and ROOT in parent.parents
            ):
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.partition(".")[0]
                    if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                        found[module].add(str(path.relative_to(ROOT)))
    return found


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(requirements: list[str]) -> set[str]:
    """Distribution names of requirements such as ``"uvicorn[standard]>=0.30"``."""
    names = (re.match(r"[A-Za-z0-9._-]+", r) for r in requirements)
    return {_normalised(m.group()) for m in names if m}


@cache
def _providers() -> dict[str, list[str]]:
    """Import names → distributions (reading every installed distribution's files: once)."""
    return dict(importlib.metadata.packages_distributions())


@cache
def _distributions(module: str) -> frozenset[str]:
    """The installed distributions that provide ``module``."""
    top = module.partition(".")[0]
    candidates = _providers().get(top, [])
    if len(candidates) > 1:
        # A namespace package shared by several distributions (google.auth, google.api_core...):
        # the one that ships the module's own folder or file.
        parts = module.split(".")
        for depth in range(len(parts), 1, -1):
            prefix = "/".join(parts[:depth])
            owners = [
                d
                for d in candidates
                if any(
                    f.as_posix().startswith(prefix + "/") or f.as_posix() == prefix + ".py"
                    for f in importlib.metadata.files(d) or ()
                )
            ]
            if owners:
                candidates = owners
                break
    return frozenset(_normalised(d) for d in candidates)


def _undeclared(imports: dict[str, set[str]], declared: set[str]) -> list[str]:
    return sorted(
        f"{module} (from {', '.join(sorted(_distributions(module))) or 'nothing installed'};"
        f" imported by {', '.join(sorted(files))})"
        for module, files in imports.items()
        if not _distributions(module) & declared
    )


def test_every_imported_package_is_declared() -> None:
    project = _project()["project"]
    runtime = _declared(project["dependencies"])
    imports = _imports("engine", "connectors", "web", "examples")
    plugin = imports.pop("pytest", set())
    assert _undeclared(imports, runtime) == []
    # Only the testing kit's pytest plugin needs pytest, through the "testing" extra.
    assert plugin <= {"connectors/testing/pytest_plugin.py"}
    assert (
        _undeclared({"pytest": plugin}, _declared(project["optional-dependencies"]["testing"]))
        == []
    )
    tests = runtime | _declared(project["optional-dependencies"]["test"])
    assert _undeclared(_imports("tests"), tests) == []


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


def test_every_catalogue_is_package_data() -> None:
    # The UI reads its translations from the .po files at run time: a wheel must carry them.
    patterns = _project()["tool"]["setuptools"]["package-data"]["maillon.engine"]
    engine = ROOT / "engine"
    shipped = {path for pattern in patterns for path in engine.glob(pattern)}
    present = {path for path in (engine / "locale").rglob("*") if path.is_file()}
    assert present
    assert present - shipped == set()
