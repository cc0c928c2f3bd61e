"""How values are shown on pages: durations, ages, JSON, the first line of an error.

Registered as Jinja filters (see :mod:`maillon.web.ui.assets`). Large JSON is cut to a size a
browser shows without freezing; the page offers the whole of it as a download instead.
"""

from __future__ import annotations

import json
import time
from typing import Any

from maillon.engine.payloads import readable_json

__all__ = [
    "JSON_SHOWN",
    "ago",
    "detail_label",
    "duration",
    "first_line",
    "number",
    "parsed_json",
    "pretty_json",
]

#: The most characters of one JSON document a page shows (events may be up to 1 MiB).
JSON_SHOWN = 64_000

#: What the connectors' error details mean, in words; other keys are shown as they are.
_DETAIL_LABELS = {
    "status": "Answer status",
    "code": "Error code",
    "error": "Error code",
    "url": "URL",
    "body": "Answer received",
    "retry_after": "Retry after (seconds)",
    "truncated": "Answer cut",
    "missing": "Missing setting",
}


def duration(seconds: float | None) -> str:
    """``"850 ms"``, ``"4.2 s"``, ``"3 min 5 s"``, ``"2 h 10 min"``; ``"—"`` when unknown."""
    if seconds is None or seconds < 0:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 86_400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86_400} d {whole % 86_400 // 3600} h"


def ago(timestamp: float | None, now: float | None = None) -> str:
    """How long ago ``timestamp`` was: ``"just now"``, ``"3 min ago"``, ``"2 h ago"``."""
    if timestamp is None:
        return "never"
    elapsed = (time.time() if now is None else now) - timestamp
    if elapsed < 60:
        return "just now"
    if elapsed < 3600:
        return f"{int(elapsed // 60)} min ago"
    if elapsed < 86_400:
        return f"{int(elapsed // 3600)} h ago"
    return f"{int(elapsed // 86_400)} d ago"


def number(value: int) -> str:
    """A count with thousands separated: ``"12,345"``."""
    return f"{value:,}"


def first_line(text: str | None, limit: int = 200) -> str:
    """The first line of ``text``, cut to ``limit`` characters (for a list's error column)."""
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def pretty_json(text: str | None, limit: int = JSON_SHOWN) -> tuple[str, bool]:
    """Stored JSON text indented for reading, and whether it was cut to ``limit`` characters.

    Text that is not JSON is shown as it is.
    """
    if text is None:
        return "", False
    if len(text) <= limit * 4:
        value = readable_json(text)  # not JSON, or nested too deeply: shown as it is
        if value is not text:
            text = json.dumps(value, indent=2, ensure_ascii=False)
    if len(text) > limit:
        return text[:limit], True
    return text, False


def parsed_json(text: str | None) -> Any:
    """Stored JSON text as values (``None`` for none, or for text that is not JSON)."""
    if not text:
        return None
    value = readable_json(text)
    return None if value is text else value


def detail_label(key: str) -> str:
    """A connector's detail key in words (``status`` → "Answer status")."""
    return _DETAIL_LABELS.get(key, key.replace("_", " ").capitalize())
