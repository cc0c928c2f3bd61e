"""Sandboxed Jinja2 templates for step inputs, compiled once and cached.

A string that is exactly one ``{{ expression }}`` renders to the expression's native value (so
``{{ event.amount }}`` stays an integer and ``{{ event.custom }}`` stays a mapping); any other
string renders to text. Undefined names fail loudly: an empty e-mail sent at 3 a.m. because a
field was missing is worse than a failed step that says which field. ``| default(...)`` is the
escape hatch for fields that are legitimately optional, and it covers a whole path:
``event.investor.address.city | default('unknown')`` when ``address`` is missing too.

Fields of the data win over the methods of its Python type: ``event.items`` is the event's
``items`` field when it has one (Particeep and CRM payloads use such names), not ``dict.items``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import UnknownLocaleError
from babel.numbers import format_currency
from jinja2 import ChainableUndefined, StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["TemplateRenderError", "compile_check", "referenced_paths", "render_value"]

# A whole string made of one expression, with nothing around it.
_SINGLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)


class TemplateRenderError(ValueError):
    """A template failed to compile or render; ``field`` names where, dotted."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _money(cents: Any, currency: str = "EUR", places: int = 2, locale: str | None = None) -> str:
    """``150000 | money('EUR')`` → ``"1,500.00 EUR"`` (Particeep amounts are in cents);
    ``150000 | money('EUR', locale='fr')`` → ``"1 500,00 €"``, as the reader's language writes
    amounts."""
    amount = Decimal(int(cents)) / (Decimal(10) ** places)
    if locale is not None:
        try:
            return format_currency(amount, currency, locale=locale.replace("-", "_"))
        except (UnknownLocaleError, ValueError) as exc:
            raise ValueError(f"unknown locale {locale!r} (such as fr or en_GB)") from exc
    return f"{amount:,.{places}f} {currency}".strip()


def _to_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, int | float):
        parsed = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    else:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _date(value: Any, fmt: str = "%Y-%m-%d %H:%M", tz: str = "UTC") -> str:
    """``event.created_at | date('%d/%m/%Y %H:%M', 'Europe/Paris')``."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {tz!r}") from exc
    return _to_datetime(value).astimezone(zone).strftime(fmt)


def _now(tz: str = "UTC") -> dt.datetime:
    return dt.datetime.now(ZoneInfo(tz))


class _Missing(ChainableUndefined, StrictUndefined):
    """A missing field: reading further down its path gives it again (so that ``| default``
    at the end of a path covers every part of it), anything else fails like StrictUndefined,
    naming the first part of the path that was missing."""

    __slots__ = ()


class _Sandbox(ImmutableSandboxedEnvironment):
    """Immutable: templates cannot call .append()/.update() on the event or earlier outputs."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute``, where a mapping's own key wins over a method of its type."""
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _make_env() -> ImmutableSandboxedEnvironment:
    env = _Sandbox(undefined=_Missing, autoescape=False)
    env.filters["money"] = _money
    env.filters["date"] = _date
    env.globals["now"] = _now
    return env


_env = _make_env()


@lru_cache(maxsize=4096)
def _compile(source: str) -> tuple[bool, Any]:
    """Compile once: ``(True, expression)`` for a lone expression, else ``(False, template)``."""
    match = _SINGLE_EXPR.match(source)
    if match and "{{" not in match.group("expr") and "{%" not in source:
        return True, _env.compile_expression(match.group("expr"), undefined_to_none=False)
    return False, _env.from_string(source)


def _describe(exc: Exception) -> str:
    text = str(exc)
    # Jinja's wording for a missing key is "'dict object' has no attribute 'x'".
    return re.sub(r"'dict object' has no attribute", "no field", text)


def _render_str(source: str, context: Mapping[str, Any], field: str) -> Any:
    if "{" not in source:
        return source
    try:
        is_expr, compiled = _compile(source)
        if is_expr:
            value = compiled(**context)
            # A StrictUndefined returned as a whole value must fail like it would in text.
            if isinstance(value, StrictUndefined):
                str(value)
            return value
        return compiled.render(context)
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(field, f"template syntax error: {exc}") from exc
    except (TemplateError, ValueError, TypeError, ArithmeticError, KeyError) as exc:
        raise TemplateRenderError(field, _describe(exc)) from exc


def render_value(value: Any, context: Mapping[str, Any], field: str = "input") -> Any:
    """Render every string in a nested structure of dicts, lists and scalars."""
    if isinstance(value, str):
        return _render_str(value, context, field)
    if isinstance(value, dict):
        return {k: render_value(v, context, f"{field}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context, f"{field}[{i}]") for i, v in enumerate(value)]
    return value


def compile_check(value: Any, field: str = "input") -> None:
    """Raise :class:`TemplateRenderError` if any string in ``value`` is not a valid template."""
    if isinstance(value, str):
        if "{" in value:
            try:
                _compile(value)
            except TemplateError as exc:
                raise TemplateRenderError(field, f"template syntax error: {exc}") from exc
    elif isinstance(value, dict):
        for k, v in value.items():
            compile_check(v, f"{field}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            compile_check(v, f"{field}[{i}]")


def referenced_paths(source: str) -> set[tuple[str, ...]]:
    """The dotted paths a template reads (``event.amount`` → ``("event", "amount")``).

    Used at save time to flag fields that the sample event does not have.
    """
    paths: set[tuple[str, ...]] = set()
    try:
        tree = _env.parse(source)
    except TemplateError:
        return paths
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        parts: list[str] = []
        cur: nodes.Node = node
        while isinstance(cur, nodes.Getattr | nodes.Getitem):
            if isinstance(cur, nodes.Getattr):
                parts.append(cur.attr)
            elif isinstance(cur.arg, nodes.Const) and isinstance(cur.arg.value, str):
                parts.append(cur.arg.value)
            else:
                break
            cur = cur.node
        if isinstance(cur, nodes.Name):
            paths.add((cur.name, *reversed(parts)))
    # Keep only the longest paths: ("event","a","b") implies ("event","a").
    return {p for p in paths if not any(q != p and q[: len(p)] == p for q in paths)}
