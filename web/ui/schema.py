"""Forms generated from connectors' models: a field per property of a JSON schema, and back.

Action inputs and connection settings are pydantic models; their JSON schemas (titles,
descriptions, examples, enums, ``writeOnly`` secrets) say everything a form needs. No
well-kept library renders JSON Schema to HTML on the server, so this is a small one of our own:
:func:`form_fields` turns a schema into :class:`FormField` descriptors that the
``schema_field`` macro renders, and :func:`read_form` turns the submitted strings back into
values. Every text input of an action may be a template, so numbers and lists are accepted as
text too: the engine validates them once rendered. A list or an object typed as JSON is read
by the engine's rule (:func:`~maillon.engine.templating.json_input`), the one the editor's
previews follow too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from maillon.engine.templating import JsonInputError, json_input

__all__ = ["FormField", "as_text", "form_fields", "read_form"]

Kind = Literal["text", "textarea", "select", "secret", "json"]

#: Inputs that hold prose or markup: a text area rather than one line.
_LONG = {"text", "html", "body", "description", "content", "message", "comment", "note"}


@dataclass(frozen=True)
class FormField:
    """One input of a generated form."""

    name: str
    title: str
    help: str
    required: bool
    kind: Kind
    #: A select's choices (an empty first choice when the field is optional).
    options: tuple[str, ...] = ()
    #: What the select shows for a choice, when it is more than the choice itself (in English:
    #: the connector translates it).
    option_labels: Mapping[str, str] = field(default_factory=dict)
    default: Any = None
    #: An example, shown as the placeholder.
    example: str = ""


def _resolve(prop: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """``prop`` with a ``$ref`` followed and an optional's ``null`` branch dropped."""
    out = dict(prop)
    ref = out.pop("$ref", None)
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        out = {**schema.get("$defs", {}).get(ref.rsplit("/", 1)[1], {}), **out}
    branches = [b for b in out.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        out = {**out, **_resolve(branches[0], schema)}
        out.pop("anyOf", None)
    return out


def _kind(name: str, prop: Mapping[str, Any]) -> Kind:
    if prop.get("writeOnly") or prop.get("format") == "password":
        return "secret"
    if "enum" in prop or prop.get("type") == "boolean":
        return "select"
    if prop.get("type") in ("string", "integer", "number") or (
        "anyOf" in prop
        and all(b.get("type") in ("string", "integer", "number") for b in prop["anyOf"])
    ):
        widget = prop.get("widget")
        long = widget == "textarea" or (widget is None and name in _LONG)
        return "textarea" if long else "text"
    return "json"


def form_fields(schema: Mapping[str, Any], *, skip: set[str] | None = None) -> list[FormField]:
    """The inputs of a form for a model's JSON schema, in the model's order."""
    required = set(schema.get("required", []))
    fields = []
    for name, raw in schema.get("properties", {}).items():
        if skip and name in skip:
            continue
        prop = _resolve(raw, schema)
        kind = _kind(name, prop)
        options: tuple[str, ...] = ()
        if kind == "select":
            choices = [str(v) for v in prop.get("enum", ["true", "false"])]
            options = tuple(choices if name in required else ["", *choices])
        examples = prop.get("examples") or []
        fields.append(
            FormField(
                name=name,
                title=str(prop.get("title") or name.replace("_", " ").capitalize()),
                help=str(prop.get("description") or ""),
                required=name in required,
                kind=kind,
                options=options,
                option_labels=prop.get("x-maillon-labels") or {},
                default=prop.get("default"),
                example=as_text(examples[0]) if examples and kind != "secret" else "",
            )
        )
    return fields


def as_text(value: Any) -> str:
    """How a stored value is shown in its input (lists and objects as JSON)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return str(value)


def read_form(
    fields: list[FormField], form: Mapping[str, str], prefix: str = ""
) -> tuple[dict[str, Any], dict[str, str]]:
    """The values submitted for ``fields`` (inputs named ``prefix + field name``), and the
    problems found, by field name. Empty inputs are left out (a secret left empty is kept)."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for f in fields:
        raw = form.get(prefix + f.name, "")
        if raw.strip() == "":
            continue
        if f.kind == "json":
            try:
                values[f.name] = json_input(raw)
            except JsonInputError as exc:
                problems[f.name] = exc.reason
        elif f.kind == "select" and f.options and set(f.options) <= {"", "true", "false"}:
            values[f.name] = raw == "true"
        else:
            values[f.name] = raw
    return values, problems
