"""Which modules an import loads, seen from a fresh interpreter (this one has loaded everything)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["loaded_by"]

ROOT = Path(__file__).resolve().parents[2]


def loaded_by(*modules: str, among: tuple[str, ...]) -> list[str]:
    """The modules under the ``among`` prefixes that importing ``modules`` loads, sorted."""
    code = (
        "import sys\n"
        f"import {', '.join(modules)}\n"
        f"among = {among!r}\n"
        "print(*sorted(m for m in sys.modules"
        " if any(m == p or m.startswith(p + '.') for p in among)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.split()
