"""The field picker's tree: every field of a sample event (and of earlier steps' outputs) with
its value, built on the server so that a large payload never reaches the page whole.

A node's ``expression`` is what clicking it inserts, ``{{ event.investor.email }}``; a key that
is not a plain name is written ``event["first-name"]``, a list item ``event.items[0]``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from maillon.engine.i18n import ngettext

__all__ = ["Node", "field_tree", "flatten"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Nodes shown at most, and list items shown per list: a sample may be large.
MAX_NODES = 400
MAX_ITEMS = 3
_PREVIEW = 60


@dataclass
class Node:
    """One field of the tree."""

    label: str
    expression: str
    #: ``object``, ``list`` or the JSON type of a value.
    kind: str
    preview: str = ""
    children: list[Node] = field(default_factory=list)


def _child(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if _NAME.match(key) else f"{parent}[{json.dumps(key)}]"


def _preview(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"


def field_tree(value: Any, root: str, label: str | None = None) -> Node:
    """The tree of ``value`` whose expressions start at ``root`` (``event``, ``steps.a``)."""
    budget = [MAX_NODES]

    def build(value: Any, expression: str, label: str) -> Node:
        budget[0] -= 1
        if isinstance(value, dict):
            count = ngettext("%(num)s field", "%(num)s fields", len(value))
            node = Node(label, expression, "object", count)
            for key, item in value.items():
                if budget[0] <= 0:
                    break
                node.children.append(build(item, _child(expression, str(key)), str(key)))
            return node
        if isinstance(value, list):
            count = ngettext("%(num)s item", "%(num)s items", len(value))
            node = Node(label, expression, "list", count)
            for i, item in enumerate(value[:MAX_ITEMS]):
                if budget[0] <= 0:
                    break
                node.children.append(build(item, _child(expression, i), f"[{i}]"))
            return node
        kind = "null" if value is None else type(value).__name__
        return Node(label, expression, kind, _preview(value))

    return build(value, root, label or root)


def flatten(node: Node, query: str) -> list[Node]:
    """The nodes whose expression or value contains ``query`` (ignoring case), depth first."""
    wanted = query.casefold()
    found: list[Node] = []

    def walk(n: Node) -> None:
        if wanted in n.expression.casefold() or (not n.children and wanted in n.preview.casefold()):
            found.append(n)
        for child in n.children:
            walk(child)

    walk(node)
    return found
