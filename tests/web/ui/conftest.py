"""Browser tests run on SQLite only: the services' own tests cover PostgreSQL, and a browser
adds nothing there but minutes."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite database (overrides tests/support/db.py's, which adds PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'maillon.db'}"
