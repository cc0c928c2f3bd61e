"""How deeply JSON may nest: in a delivery, and in what is shown of stored data.

A delivery nested deeper than the limit is refused before it is stored, so that nothing stored
can break a page that shows it (JSON nested a thousand levels deep broke the API's serializer
and the pages). Stored JSON is read back for showing through :func:`readable_json`, which holds
what was stored before the limit existed to the same rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MAX_SHOWN_DEPTH", "nesting_depth", "nests_deeper", "readable_json"]

#: Deepest JSON shown as values by the API and the pages; deeper stored text is shown as text
#: (the API's serializer gives up past about 250 levels, the pages' past about 1,000).
MAX_SHOWN_DEPTH = 200


def nesting_depth(value: Any, limit: int) -> int:
    """How deeply ``value``'s lists and objects nest (a scalar is 0), counted without
    recursion and only up to ``limit + 1``: a deeper value is not walked further."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        # Scalars cannot nest: only containers are walked (intake runs this per delivery).
        stack.extend((c, depth) for c in children if isinstance(c, Mapping | list | tuple))
    return deepest


def nests_deeper(value: Any, text: str, limit: int) -> bool:
    """Whether ``value``, whose JSON text is ``text``, nests deeper than ``limit``.

    Each level opens a bracket in the text, so a text with no more brackets than the limit
    cannot nest deeper: for most deliveries, two counts in C answer without walking the value
    (the walk was a tenth of the web process's CPU under load).
    """
    if text.count("{") + text.count("[") <= limit:
        return False
    return nesting_depth(value, limit) > limit


def readable_json(text: str | None) -> Any:
    """Stored JSON text as values, for showing; text nested deeper than
    :data:`MAX_SHOWN_DEPTH` (or not JSON at all) is returned as the text itself."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    return text if nesting_depth(value, MAX_SHOWN_DEPTH) > MAX_SHOWN_DEPTH else value
