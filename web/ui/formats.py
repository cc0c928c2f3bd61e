"""How values are shown on pages: durations, ages, JSON, the first line of an error, statuses.

Registered as Jinja filters (see :mod:`maillon.web.ui.assets`). Large JSON is cut to a size a
browser shows without freezing; the page offers the whole of it as a download instead.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from maillon.engine.i18n import N_, format_number
from maillon.engine.i18n import gettext as _
from maillon.engine.payloads import readable_json
from maillon.engine.services.base import COMMAND_LINE
from maillon.engine.services.runs import state_label

__all__ = [
    "JSON_SHOWN",
    "ago",
    "detail_label",
    "duration",
    "first_line",
    "gist",
    "number",
    "page_json",
    "parsed_json",
    "pretty_json",
    "status_label",
]

#: Characters a page must not hold as they are: lone halves of UTF-16 pairs (an app may answer
#: them, escaped, in its JSON; a page cannot be encoded with them) and the controls that
#: reorder text on screen.
_UNSHOWABLE = re.compile(r"[\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def page_json(value: Any, **options: Any) -> str:
    """``value`` as JSON text with its letters as they are ("Zoé", not "Zo\\u00e9"), but
    :data:`_UNSHOWABLE` characters escaped (``\\ud83d``)."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return _UNSHOWABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


#: The most characters of one JSON document a page shows (events may be up to 1 MiB).
JSON_SHOWN = 64_000

#: What the connectors' error details mean, in words; other keys are shown as they are.
_DETAIL_LABELS = {
    "status": N_("Answer status"),
    "code": N_("Error code"),
    "error": N_("Error code"),
    "url": N_("URL"),
    "body": N_("Answer received"),
    "retry_after": N_("Retry after (seconds)"),
    "truncated": N_("Answer cut"),
    "missing": N_("Missing setting"),
    "particeep_message": N_("Particeep’s message"),
    "technical_code": N_("Technical code"),
    "google_status": N_("Google’s status"),
    "reasons": N_("Reasons"),
}


def duration(seconds: float | None) -> str:
    """``"850 ms"``, ``"4.2 s"`` (``"4,2 s"`` in French), ``"3 min 5 s"``, ``"2 h 10 min"``;
    ``"—"`` when unknown."""
    if seconds is None or seconds < 0:
        return "—"
    if seconds < 1:
        return _("%(ms)s ms", ms=format_number(round(seconds * 1000)))
    if seconds < 60:
        return _("%(s)s s", s=format_number(seconds, places=1))
    whole = round(seconds)
    if whole < 3600:
        return _("%(min)s min %(s)s s", min=whole // 60, s=whole % 60)
    if whole < 86_400:
        return _("%(h)s h %(min)s min", h=whole // 3600, min=whole % 3600 // 60)
    return _("%(d)s d %(h)s h", d=whole // 86_400, h=whole % 86_400 // 3600)


def ago(timestamp: float | None, now: float | None = None) -> str:
    """How long ago ``timestamp`` was: ``"just now"``, ``"3 min ago"``, ``"2 h ago"``."""
    if timestamp is None:
        return _("never")
    elapsed = (time.time() if now is None else now) - timestamp
    if elapsed < 60:
        return _("just now")
    if elapsed < 3600:
        return _("%(min)s min ago", min=int(elapsed // 60))
    if elapsed < 86_400:
        return _("%(h)s h ago", h=int(elapsed // 3600))
    return _("%(d)s d ago", d=int(elapsed // 86_400))


def number(value: int) -> str:
    """A count with thousands separated as the reader writes them: ``"12,345"``, ``"12 345"``."""
    return format_number(value)


def first_line(text: str | None, limit: int = 200) -> str:
    """The first line of ``text``, cut to ``limit`` characters (for a list's error column)."""
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def gist(value: Any, limit: int = 60) -> str:
    """A JSON body in a few words, to tell deliveries apart: its plain values as ``name:
    value``, the top level's first, then those of nested objects (``outer.name: value``),
    cut to about ``limit`` characters; lists are skipped. At most 200 values are looked at,
    however large the body."""
    parts: list[str] = []
    size, looked = 0, 0
    queue: deque[tuple[str, Any]] = deque([("", value)])
    while queue and size < limit and looked < 200:
        path, item = queue.popleft()
        looked += 1
        if isinstance(item, Mapping):
            queue.extend((f"{path}.{k}" if path else str(k), v) for k, v in item.items())
        elif path and not isinstance(item, list):
            shown = " ".join(item.split()) if isinstance(item, str) else json.dumps(item)
            parts.append(f"{path}: {shown}")
            size += len(parts[-1]) + 3
    text = " · ".join(parts)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def pretty_json(text: str | None, limit: int = JSON_SHOWN) -> tuple[str, bool]:
    """Stored JSON text indented for reading, and whether it was cut to ``limit`` characters.

    Text that is not JSON is shown as it is.
    """
    if text is None:
        return "", False
    if len(text) <= limit * 4:
        value = readable_json(text)  # not JSON, or nested too deeply: shown as it is
        if value is not text:
            text = page_json(value, indent=2)
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
    label = _DETAIL_LABELS.get(key)
    return _(label) if label else key.replace("_", " ").capitalize()


def actor(name: str | None) -> str:
    """Who did something, as the history records them, in words (``cli``: the command line;
    ``—`` when unknown)."""
    if not name:
        return "—"
    return _("the command line") if name == COMMAND_LINE else name


def status_label(value: str) -> str:
    """A run's or a step's status in words (``failed`` → "Failed")."""
    return state_label(value)
