"""Sandboxed Jinja2 templates for step inputs, compiled once and cached.

A string that is exactly one ``{{ expression }}`` renders to the expression's native value (so
``{{ event.amount }}`` stays an integer and ``{{ event.custom }}`` stays a mapping); any other
string renders to text. Undefined names fail loudly: an empty e-mail sent at 3 a.m. because a
field was missing is worse than a failed step that says which field. ``| default(...)`` is the
escape hatch for fields that are legitimately optional, and it covers a whole path:
``event.investor.address.city | default('unknown')`` when ``address`` is missing too.

Fields of the data win over the methods of its Python type: ``event.items`` is the event's
``items`` field when it has one (Particeep and CRM payloads use such names), not ``dict.items``.

In a URL input (one an action marks with ``URL_INPUT``), every value written into the URL
before its query string is percent-encoded, ``/`` included: ``orders/{{ event.id }}`` calls
``orders/..%2Fadmin`` for an id of ``../admin``, never another endpoint of the API, whatever a
sender posts. ``| safe`` writes a value as it is (``{{ event.path | safe }}``, for a value known
to be a path), and a URL that is one expression alone (``{{ event.callback_url }}``) is taken
whole.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import anyio
import msgspec
from jinja2 import (
    ChainableUndefined,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
    nodes,
)
from jinja2.environment import Environment, TemplateExpression
from jinja2.filters import make_attrgetter
from jinja2.nodes import EvalContext
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from maillon.engine.formatting import FILTERS
from maillon.engine.i18n import gettext as _

__all__ = [
    "DEFAULT_BUDGET",
    "MAX_SOURCE_CHARS",
    "Budget",
    "JsonInputError",
    "TemplateRenderError",
    "compile_check",
    "json_input",
    "referenced_paths",
    "render_unblocking",
    "render_value",
    "renders_quickly",
    "template_errors",
]

# A whole string made of one expression, with nothing around it.
_SINGLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)


class TemplateRenderError(ValueError):
    """A template failed to compile or render; ``field`` names where, dotted."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    @property
    def said(self) -> str:
        """The error as a step's error reads (``template error in input.text: no field 'x'``),
        in the language of the moment."""
        return _("template error in %(field)s: %(reason)s", field=self.field, reason=self.reason)


def _now(tz: str = "UTC") -> dt.datetime:
    return dt.datetime.now(ZoneInfo(tz))


class _Missing(ChainableUndefined, StrictUndefined):
    """A missing field: reading further down its path gives it again (so that ``| default``
    at the end of a path covers every part of it), anything else fails like StrictUndefined,
    naming the first part of the path that was missing."""

    __slots__ = ()


@dataclass(frozen=True)
class Budget:
    """What one template may cost: seconds of rendering, and characters of output.

    The output budget bounds every value a template builds along the way too (a string
    repeated, a padded field, a list concatenated), so that no single operation can allocate
    more than the budget before it is caught.
    """

    seconds: float = 1.0
    max_chars: int = 2_000_000


DEFAULT_BUDGET = Budget()

#: The longest template source rendered or saved: parsing and compiling cost grows with it.
MAX_SOURCE_CHARS = 100_000


class _OverBudget(Exception):
    """Raised inside a render when it exceeds its budget; turned into a TemplateRenderError."""


class _Meter(threading.local):
    """The budget of the render in progress on this thread (a render runs on one thread)."""

    def __init__(self) -> None:
        self.deadline = math.inf
        self.budget = DEFAULT_BUDGET
        #: Whether a lone expression of the render gave a container, which may hold parts
        #: shared with others: only then is the whole input walked before it is encoded.
        self.shared = False

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _OverBudget(
                f"took longer than its time budget of {self.budget.seconds:g}s "
                "(MAILLON_TEMPLATE_TIME_BUDGET): simplify its loops"
            )

    def size(self, length: int) -> None:
        if length > self.budget.max_chars:
            raise _OverBudget(
                f"produces more than its output budget of {self.budget.max_chars:,} characters "
                "(MAILLON_TEMPLATE_OUTPUT_BUDGET)"
            )

    def sized(self, value: Any) -> Any:
        """``value``, once held to the output budget as written out (see :class:`_TextLength`)."""
        kind = type(value)
        # Most values are a string or a number: measured without a walk (every step renders
        # several, on the path of every run).
        if kind is str:
            self.size(len(value))
        elif kind not in _SCALARS:
            _TextLength().measure(value)
        return value

    def json_value(self, value: Any) -> Any:
        """A lone expression's ``value``, held to the budget (:meth:`sized`), as a JSON value
        (:func:`_as_json`): converted only where the measuring met something to convert, so
        that a mapping of plain values is walked once."""
        kind = type(value)
        if kind is str or kind in _SCALARS:
            return self.sized(value)
        walk = _TextLength()
        walk.measure(value)
        return _as_json(value) if walk.foreign else value


_meter = _Meter()

_SCALARS = frozenset({int, float, bool, type(None)})
#: JSON's types that hold no other value.
_PLAIN = frozenset({str, *_SCALARS})


class _TextLength:
    """How long values are once written out as text, at least: by ``str()`` (which writes the
    items of a container with ``repr()``), ``tojson`` or the JSON of a step's input. Raises as
    soon as that passes the output budget.

    Writing out is where a value built from shared parts pays for its size: ``[[1] * 1000] *
    300000`` holds one list 300,000 times, a few megabytes, but ``| string`` writes 900 million
    characters in one C call that no deadline can interrupt. So whatever writes a value out
    measures it here first. Each container is measured once however often it is shared, and
    the walk stops at the budget: it costs at most about one step per character of the budget,
    whatever the size of the text.

    ``start`` is what is already written (the budget left is the rest); ``indent`` the spaces
    written before each item (``tojson(indent=n)``).
    """

    __slots__ = ("foreign", "indent", "kept", "known", "room", "start")

    def __init__(self, start: int = 0, indent: int = 0) -> None:
        self.start = start
        self.room = _meter.budget.max_chars - start
        self.indent = indent
        #: Whether the value held something JSON has no type for (see :func:`_as_json`).
        self.foreign = False
        self.known: dict[int, int] = {}  # containers measured, by id
        # ... kept alive until the walk ends when made by it (the pairs of a dict's items()):
        # freed, it would leave its id to another.
        self.kept: list[Any] = []

    def check(self, length: int) -> int:
        if length > self.room:
            _meter.size(self.start + length)  # raises, saying which budget
        return length

    def measure(self, value: Any) -> int:
        """``value``'s length, refused past the budget."""
        return self.check(self.of(value))

    def of(self, value: Any, quoted: bool = False) -> int:
        """``value``'s length; ``quoted``: as an item of a container, a string between quotes.
        Exact types first: this runs once per container of the value."""
        kind = type(value)
        if kind is str:
            return len(value) + 2 * quoted
        if kind in _SCALARS:
            return 1
        if kind is list or kind is tuple or kind is dict:
            return self._container(value)
        if not isinstance(value, str):
            self.foreign = True  # not a JSON value (a date, a Decimal, a set…)
        if isinstance(value, str | bytes):
            return len(value) + 2 * quoted
        if isinstance(value, Undefined):
            return 0  # written as nothing, or fails when written
        if isinstance(value, Namespace):
            # Written as "<Namespace {...}>", its attributes (Jinja keeps them under this name).
            return 12 + self.of(object.__getattribute__(value, "_Namespace__attrs"))
        if isinstance(value, Mapping | Collection):
            return self._container(value)
        return 1  # a date, a number, a generator…: written short

    def _container(self, value: Any) -> int:
        known = self.known.get(id(value))
        if known is not None:
            return known
        self.known[id(value)] = 0  # met again inside itself: written as "..."
        if type(value) not in (list, tuple, dict):
            self.kept.append(value)  # iterating its container may have made it
        separator = 1 + self.indent
        if type(value) is dict or isinstance(value, Mapping):
            length = 2 - separator
            for key, item in value.items():
                length += self.of(key, True) + self.of(item, True) + 1 + separator
                if length > self.room:
                    self.check(length)
            length = max(length, 2)
        else:
            length = 2 + self.items(value, True, separator)
        self.known[id(value)] = length
        return length

    def items(self, items: Iterable[Any], quoted: bool = False, separator: int = 0) -> int:
        """The length of ``items`` written one after another, ``separator`` characters between
        two of them; for a long list of numbers or of strings, counted by C loops."""
        if isinstance(items, list | tuple) and len(items) > 16:
            count = len(items)
            least = (quoted + separator) * count - separator  # each item at least "1" or ""
            self.check(least)
            kinds = set(map(type, items))
            if kinds <= _SCALARS:
                return self.check((1 + separator) * count - separator)
            if kinds == {str}:
                return self.check(
                    sum(map(len, items)) + (2 * quoted + separator) * count - separator
                )
        length, quotes, room = -separator, 2 * quoted, self.room
        for item in items:
            kind = type(item)
            if kind is str:
                length += len(item) + quotes + separator
            elif kind in _SCALARS:
                length += 1 + separator
            else:
                length += self.of(item, quoted) + separator
            if length > room:
                self.check(length)
        return max(length, 0)


def _written(items: Iterable[Any], separator: str) -> Collection[Any]:
    """``items`` once held to the output budget as written one after another with
    ``separator`` between them (``join``). Items that come from an iterator (``map``, ``select``)
    are measured one by one as they come, so that the budget stops them before they are all
    made; they are kept for the join to write."""
    measure = _TextLength()
    if isinstance(items, list | tuple):
        measure.items(items, separator=len(separator))
        return items
    kept: list[Any] = []
    length = -len(separator)
    for item in _metered(items):
        length += measure.of(item) + len(separator)
        measure.check(length)
        kept.append(item)
    return kept


# Where a number in a formatting spec is a width or a precision: ``%9999d``, ``{:>9999}``.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)\}")
_FORMAT_NESTED = re.compile(r"\{[^{}]*?:[^{}]*\{")

#: String methods whose result can be far longer than their inputs, and how long it would be.
_STR_GROWTH: dict[str, Callable[..., int]] = {
    "ljust": lambda s, width=0, *_: max(len(s), int(width)),
    "rjust": lambda s, width=0, *_: max(len(s), int(width)),
    "center": lambda s, width=0, *_: max(len(s), int(width)),
    "zfill": lambda s, width=0: max(len(s), int(width)),
    "expandtabs": lambda s, tabsize=8: len(s) + s.count("\t") * max(0, int(tabsize)),
    "replace": lambda s, old, new, count=-1: (
        len(s)
        + max(0, len(new) - len(old)) * (s.count(old) if count < 0 else min(count, len(s) + 1))
    ),
}


def _check_format(spec_source: str, args: tuple[Any, ...]) -> None:
    """Refuse a %-format whose widths, or arguments once written, would exceed the output
    budget."""
    _check_arguments(spec_source, args)
    limit = _meter.budget.max_chars
    for match in _PERCENT_SPEC.finditer(spec_source):
        for part in match.groups():
            if part == "*" and any(isinstance(a, int) and a > limit for a in args):
                _meter.size(limit + 1)
            elif part and part.isdigit():
                _meter.size(int(part))


def _check_arguments(fmt: str, args: Iterable[Any]) -> None:
    """Formatting writes each argument whole (before any precision cuts it)."""
    _TextLength(start=len(fmt)).items(tuple(args))


def _check_str_format(fmt: str, args: Iterable[Any]) -> None:
    _check_arguments(fmt, args)
    if _FORMAT_NESTED.search(fmt):
        raise _OverBudget("nested fields in a format specification are not supported")
    for spec in _FORMAT_SPEC.findall(fmt):
        for number in re.findall(r"\d+", spec):
            _meter.size(int(number))


def _binop_size(operator: str, left: Any, right: Any) -> None:
    """Refuse, before computing it, a ``*``, ``+``, ``**`` or ``%`` that would exceed the
    budget (``'a' * 10**9``, ``10 ** 10 ** 9``).

    A list repeated or added is measured as written out, not by its number of items:
    ``[[1] * 1000] * 300000`` has 300,000 items, but writing it out, comparing it or hashing it
    costs 300 million steps."""
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | bytes | list | tuple) and isinstance(times, int):
                _meter.size(len(seq) * max(0, times))
                if isinstance(seq, list | tuple) and seq and times > 1:
                    # "[a, b]" twice is "[a, b, a, b]": all but one bracket, times over.
                    _meter.size(1 + times * (_TextLength().of(seq) - 1))
        if isinstance(left, int) and isinstance(right, int):
            _check_bits(abs(left).bit_length() + abs(right).bit_length(), "product")
    elif operator == "+":
        if isinstance(left, str | bytes) and isinstance(right, type(left)):
            _meter.size(len(left) + len(right))
        elif isinstance(left, list | tuple) and isinstance(right, type(left)):
            _meter.size(len(left) + len(right))
            measure = _TextLength()
            _meter.size(measure.of(left) + measure.of(right) - 1)
    elif operator == "**" and isinstance(left, int) and isinstance(right, int):
        if abs(left) > 1:
            _check_bits(right * abs(left).bit_length(), "power")
    elif operator == "%" and isinstance(left, str):
        _check_format(left, right if isinstance(right, tuple) else (right,))


def _check_bits(bits: int, what: str) -> None:
    """Big integers are computed by single C calls (squaring a number in a loop doubles its
    size each turn): past 4096 bits, no step input needs them."""
    if bits > 4096:
        raise _OverBudget(f"a {what} too large to compute (more than 4096 bits)")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Immutable: templates cannot call .append()/.update() on the event or earlier outputs.

    Bounded: every call, attribute read and loop turn checks the render's deadline, and every
    operation that can multiply a value's size checks the output budget before it runs. A
    render on a thread cannot be killed from outside, so it has to stop itself.
    """

    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals as a plain dict, not Jinja's ``ChainMap`` over the
        environment's: every render copies them into its context, and a ``ChainMap`` is copied
        key by key in Python (a tenth of a worker's time went there). The environment's
        globals are all set when it is made (:func:`_make_env`), so nothing is missed."""
        return {**self.globals, **(d or {})}

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute``, where a mapping's own key wins over a method of its type."""
        _meter.tick()
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """A size-checked binary operator."""
        _binop_size(operator, left, right)
        return _meter.sized(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A call from a template: deadline checked, growth of strings checked before."""
        _meter.tick()
        # The sandbox hands str.format out wrapped: the bound method is behind __wrapped__.
        method = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):
            name = getattr(method, "__name__", "")
            if name in ("format", "format_map"):
                _check_str_format(owner, (*args, *kwargs.values()))
            elif name == "join" and args:
                args = (_written(args[0], owner), *args[1:])
            elif name in _STR_GROWTH:
                # Wrong arguments are left to the call itself to report.
                with contextlib.suppress(TypeError, ValueError):
                    _meter.size(_STR_GROWTH[name](owner, *args, **kwargs))
        return _meter.sized(super().call(__context, __obj, *args, **kwargs))


def _metered(iterable: Any) -> Iterator[Any]:
    """Each turn of a template's ``for`` loop checks the deadline (loops with an empty body
    make no call that would)."""
    deadline = _meter.deadline  # read once: the loop runs within one render
    for item in iterable:
        if time.monotonic() > deadline:
            _meter.tick()  # raises, saying which budget
        yield item


def _concat(*parts: Any) -> str:
    """``a ~ b``, its length checked before it is built (doubling a string in a loop, writing
    out a list made of shared parts)."""
    _TextLength().items(parts)
    return "".join(map(str, parts))


def _bounded_filter(name: str, filter_fn: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in filter whose size arguments and result are held to the output budget."""

    @functools.wraps(filter_fn)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _meter.tick()
        values = [a for a in args if not isinstance(a, EvalContext | Context | Environment)]
        if values and name not in _STRUCTURAL_FILTERS:
            # The filter writes its value out as text (``string``, ``tojson``, ``upper``…).
            indent = (values[1:] or [kwargs.get("indent")])[0] if name == "tojson" else 0
            length = _TextLength(indent=indent if isinstance(indent, int) else 0).measure(values[0])
            most = _SLOW_FILTERS.get(name)
            if most is not None and length > most:
                raise _OverBudget(
                    f"{name} is given {length:,} characters: it takes at most {most:,} (it is "
                    "slow past that, and a filter cannot be stopped half way)"
                )
        if name in _SIZED_FILTERS:
            for number in (*values[1:], *kwargs.values()):
                if isinstance(number, int) and not isinstance(number, bool):
                    _meter.size(abs(number))
        if name == "format" and values and isinstance(values[0], str):
            _check_format(values[0], tuple(values[1:]))
        if name == "replace" and len(values) >= 3 and isinstance(values[0], str):
            old, new = str(values[1]), str(values[2])
            _meter.size(len(values[0]) + max(0, len(new) - len(old)) * values[0].count(old))
        return _meter.sized(filter_fn(*args, **kwargs))

    return bounded


def _measured_join(join_filter: Callable[..., Any]) -> Callable[..., Any]:
    """``join``, its items measured as written out before the join writes them (a list of
    shared parts, a ``map`` that makes each item anew)."""

    @functools.wraps(join_filter)
    def join(
        eval_ctx: EvalContext, value: Any, d: str = "", attribute: str | int | None = None
    ) -> Any:
        if attribute is not None:
            value = map(make_attrgetter(eval_ctx.environment, attribute), value)
        return join_filter(eval_ctx, _written(value, str(d)), d)

    return join


def _measured_indent(indent_filter: Callable[..., Any]) -> Callable[..., Any]:
    """``indent``, refused before it runs when its width times the lines it indents would
    exceed the output budget (``'x\\n' * 100000 | indent(1000)``)."""

    @functools.wraps(indent_filter)
    def indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> Any:
        if isinstance(s, str):
            lines = s.splitlines()
            indented = len(lines) - (0 if blank else lines.count("")) - 1
            size = len(width) if isinstance(width, str) else int(width)
            _meter.size(len(s) + max(0, indented) * max(0, size))
        return indent_filter(s, width, first, blank)

    return indent


def _numbers_only(sum_filter: Callable[..., Any]) -> Callable[..., Any]:
    """``sum`` for numbers: summing lists (``start=[]``) concatenates them in one C loop whose
    cost grows with the square of their number, which no deadline can interrupt."""

    @functools.wraps(sum_filter)
    def numbers(*args: Any, **kwargs: Any) -> Any:
        start = kwargs.get("start", args[3] if len(args) > 3 else 0)
        if not isinstance(start, int | float | Decimal):
            raise TypeError("sum adds numbers: its start must be a number")
        return sum_filter(*args, **kwargs)

    return numbers


#: Filters whose integer arguments are sizes of what they build (a width, a count).
_SIZED_FILTERS = frozenset({"batch", "center", "indent", "slice", "truncate", "wordwrap"})

#: Filters whose time grows faster than their input (``wordwrap`` of one long word is
#: quadratic: 45 s for 1.9 million characters) or that are slow per character (``urlize``, in
#: Python), and the longest input each takes: well within the time budget.
_SLOW_FILTERS = {"wordwrap": 100_000, "urlize": 100_000}

#: Filters that do not write their value out as text: they count, pick, regroup or compare its
#: items (``join`` measures its items itself). Any other filter has its value measured first.
# fmt: off
_STRUCTURAL_FILTERS = frozenset([
    "abs", "attr", "batch", "count", "d", "default", "dictsort", "filesizeformat", "first",
    "float", "groupby", "int", "items", "join", "last", "length", "list", "map", "max", "min",
    "random", "reject", "rejectattr", "reverse", "round", "select", "selectattr", "slice",
    "sort", "sum", "unique",
])
# fmt: on


class _Bound(NodeTransformer):
    """Rewrites a parsed template so that loops, ``~`` and literal lists, tuples and dicts are
    metered. A literal can hold one value many times (``[a, a, a, a]``, and again one level up):
    measured as written out, no value a template builds can be compared, hashed or sorted at a
    cost beyond the output budget."""

    def visit_List(self, node: nodes.List) -> nodes.Node:
        return self._sized(node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        return self._sized(node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        return self._sized(node) if node.ctx == "load" else self.generic_visit(node)

    def _sized(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(
            nodes.Name("_maillon_sized", "load"), [node], [], None, None, lineno=node.lineno
        )

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(
            nodes.Name("_maillon_metered", "load"), [node.iter], [], None, None, lineno=node.lineno
        )
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(
            nodes.Name("_maillon_concat", "load"), node.nodes, [], None, None, lineno=node.lineno
        )


def _make_env(**options: Any) -> ImmutableSandboxedEnvironment:
    env = _Sandbox(undefined=_Missing, autoescape=False, **options)
    env.filters["sum"] = _numbers_only(env.filters["sum"])
    env.filters["join"] = _measured_join(env.filters["join"])
    env.filters["indent"] = _measured_indent(env.filters["indent"])
    # Maillon's own filters (money, dates, numbers, text) format one value each, bounded by
    # construction, but write it out as text first like the others.
    env.filters.update(FILTERS)
    for name, filter_fn in list(env.filters.items()):
        env.filters[name] = _bounded_filter(name, filter_fn)
    env.globals["now"] = _now
    # Paragraphs of filler text on demand: nothing a step input needs, and a size amplifier.
    env.globals.pop("lipsum", None)
    env.globals["_maillon_metered"] = _metered
    env.globals["_maillon_concat"] = _concat
    env.globals["_maillon_sized"] = _meter.sized
    return env


def _path_value(value: Any) -> Any:
    """A value written into a URL's path: percent-encoded unless marked ``| safe``."""
    _meter.sized(value)
    if isinstance(value, Markup | Undefined):
        return value  # an undefined one fails as it would anywhere else
    return quote(str(value), safe="")


# What a template writes into its text is measured before ``str()`` writes it.
_env = _make_env(finalize=_meter.sized)
#: Renders the path of URL inputs: each ``{{ value }}`` goes through :func:`_path_value`.
_url_env = _make_env(finalize=_path_value)


@lru_cache(maxsize=1024)
def _compile_url_path(source: str) -> Any:
    return _url_env.from_string(source)


def _split_query(source: str) -> tuple[str, str]:
    """``source`` cut before the first ``?`` or ``#`` that is written outside any tag."""
    i, closing = 0, ""
    while i < len(source):
        if closing:
            if source.startswith(closing, i):
                i, closing = i + 2, ""
                continue
        elif source[i] == "{" and source[i + 1 : i + 2] in ("{", "%", "#"):
            closing = {"{": "}}", "%": "%}", "#": "#}"}[source[i + 1]]
            i += 2
            continue
        elif source[i] in "?#":
            return source[:i], source[i:]
        i += 1
    return source, ""


@lru_cache(maxsize=4096)
def _compile(source: str) -> tuple[bool, Any]:
    """Compile once: ``(True, expression)`` for a lone expression, else ``(False, template)``.

    Raises :class:`TemplateError` for a template that is not valid, or cannot be bounded.
    """
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateSyntaxError(f"the template is longer than {MAX_SOURCE_CHARS:,} characters", 1)
    match = _SINGLE_EXPR.match(source)
    try:
        if match and "{{" not in match.group("expr") and "{%" not in source:
            parser = Parser(_env, match.group("expr"), state="variable")
            expr = parser.parse_expression()
            if not parser.stream.eos:
                raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno)
            tree = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr)], lineno=1)
            return True, TemplateExpression(_from_tree(tree), undefined_to_none=False)
        return False, _from_tree(_env.parse(source))
    except (RecursionError, MemoryError) as exc:
        # Python's own compiler refuses deep nesting with SyntaxError, Jinja's parser with a
        # RecursionError: either way, nothing a step input needs.
        raise TemplateSyntaxError("the template is nested too deeply", 1) from exc


def _from_tree(tree: nodes.Template) -> Template:
    for kind in (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport):
        if tree.find(kind) is not None:
            raise TemplateSyntaxError(
                "templates cannot include, import or extend other templates", 1
            )
    tree = _Bound().visit(tree)
    tree.set_environment(_env)
    try:
        return _env.from_string(tree)
    except SyntaxError as exc:
        raise TemplateSyntaxError("the template is nested too deeply", 1) from exc


#: Filters whose cost grows no faster than their input's size, whatever their arguments (not
#: ``replace``, ``center``, ``indent``… whose arguments can multiply it, nor ``sort``, nor
#: ``map`` and its kin, which call other filters by name). Maillon's own filters format one
#: value each.
# fmt: off
_QUICK_FILTERS = frozenset([
    "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float",
    "forceescape", "int", "items", "join", "last", "length", "list", "lower", "max", "min",
    "reverse", "round", "safe", "string", "sum", "title", "tojson", "trim", "unique", "upper",
    "urlencode", "wordcount",
]) | frozenset(FILTERS)
# fmt: on

#: What a quick template may be made of: lookups, literals, conditions and sums of text or
#: numbers. No loop, macro or call (a method such as ``ljust`` can grow a string a
#: millionfold), no ``*``, ``**`` or ``%`` (repetition, huge powers, format widths).
_QUICK_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Output,
    nodes.TemplateData,
    nodes.If,
    nodes.Name,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Const,
    nodes.List,
    nodes.Tuple,
    nodes.Dict,
    nodes.Pair,
    nodes.Keyword,
    nodes.CondExpr,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Pos,
    nodes.Compare,
    nodes.Operand,
    nodes.Test,
    nodes.Filter,
    nodes.Concat,
    nodes.Add,
    nodes.Sub,
    nodes.Div,
    nodes.FloorDiv,
)


@lru_cache(maxsize=4096)
def _quick(source: str) -> bool:
    if len(source) > MAX_SOURCE_CHARS:
        return False  # refused when rendered: not worth parsing here
    try:
        tree = _env.parse(source)
    except (TemplateError, RecursionError, MemoryError):
        return False  # rendering it says what is wrong
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _QUICK_NODES):
            return False
        if isinstance(node, nodes.Filter) and node.name not in _QUICK_FILTERS:
            return False
    return True


def renders_quickly(value: Any) -> bool:
    """Whether every template in ``value`` (strings, nested in dicts and lists) is made only of
    lookups, literals, conditions and filters that cost no more than their input: it renders
    in microseconds, and a coroutine may render it without a thread hop. Any other template
    (a loop, a macro, a method call) may take up to its time budget."""
    if isinstance(value, str):
        return "{" not in value or _quick(value)
    if isinstance(value, dict):
        return all(renders_quickly(v) for v in value.values())
    if isinstance(value, list):
        return all(renders_quickly(v) for v in value)
    return True


_T = TypeVar("_T")


async def render_unblocking(template: Any, render: Callable[..., _T], *args: Any) -> _T:
    """``render(*args)``, which renders ``template``, without stalling the event loop: at once
    when the template renders quickly (less than a hop to a thread and back), in a worker
    thread otherwise (it may take up to its time budget, and intake, lease heartbeats and
    other runs must go on meanwhile)."""
    if renders_quickly(template):
        return render(*args)
    return await anyio.to_thread.run_sync(render, *args)


def _describe(exc: Exception) -> str:
    text = str(exc)
    # Jinja's wording for a missing key is "'dict object' has no attribute 'x'".
    undefined = re.fullmatch(r"'([^']*)' is undefined", text)
    if undefined:
        return _("%(name)r is undefined", name=undefined.group(1))
    return re.sub(r"'dict object' has no attribute", _("no field"), text)


def _render_str(source: str, context: Mapping[str, Any], field: str, url: bool = False) -> Any:
    if "{" not in source:
        return source
    try:
        is_expr, compiled = _compile(source)
        if is_expr:
            value = compiled(**context)
            # A StrictUndefined returned as a whole value must fail like it would in text.
            if isinstance(value, StrictUndefined):
                str(value)
            # Measured before it is converted, which would walk every shared part anew.
            if type(value) is not str and type(value) not in _SCALARS:
                _meter.shared = True
            return _meter.json_value(value)
        if url:
            return _meter.sized(_render_url(source, context))
        size, limit = 0, _meter.budget.max_chars
        chunks = []
        for chunk in compiled.generate(context):
            size += len(chunk)
            if size > limit:
                _meter.size(size)  # raises, saying which budget
            chunks.append(chunk)
        return "".join(chunks)
    except TemplateSyntaxError as exc:
        raise _syntax_error(field, exc) from exc
    except _OverBudget as exc:
        raise TemplateRenderError(field, str(exc)) from exc
    except RecursionError as exc:
        raise TemplateRenderError(field, _("recursion too deep (a macro calling itself)")) from exc
    except MemoryError as exc:
        raise TemplateRenderError(field, _("ran out of memory")) from exc
    except (TemplateError, ValueError, TypeError, ArithmeticError, LookupError) as exc:
        raise TemplateRenderError(field, _describe(exc)) from exc
    except Exception as exc:  # a filter given odd data may raise anything
        raise TemplateRenderError(field, f"{type(exc).__name__}: {exc}") from exc


def _as_json(value: Any, done: dict[int, Any] | None = None) -> Any:
    """``value`` as a JSON value: what is not one (a datetime from ``now()``, a ``Decimal``) as
    the text it renders to inside a string. A step's input goes into JSON bodies and the run's
    record, where such a value failed the step (and the editor's preview) instead.

    ``value`` fits the output budget (measured before), but may hold a part many times: each
    container is converted once (``done``, by id), and a list of plain values is passed over
    by C loops, so that the walk costs no more than the measuring did.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    done = {} if done is None else done
    if id(value) in done:
        return done[id(value)]
    converted: Any
    if (kind is list or kind is tuple) and set(map(type, value)) <= _PLAIN:
        converted = value
    elif isinstance(value, dict):
        items = {k: _as_json(v, done) for k, v in value.items()}
        converted = value if all(items[k] is v for k, v in value.items()) else items
    elif isinstance(value, list | tuple):
        parts = [_as_json(v, done) for v in value]
        if all(c is v for c, v in zip(parts, value, strict=True)):
            converted = value
        else:
            converted = parts if isinstance(value, list) else tuple(parts)
    elif isinstance(value, str | bool | int | float):
        return value  # a subclass (Markup)
    else:
        return str(value)
    done[id(value)] = converted
    return converted


def _render_url(source: str, context: Mapping[str, Any]) -> str:
    """A URL template: values in the path encoded, those of the query string as written."""
    path, query = _split_query(source)
    try:
        rendered = str(_compile_url_path(path).render(context))
    except TemplateSyntaxError:
        # A tag that spans the "?" (an {% if %} around the query): encode every value.
        return str(_compile_url_path(source).render(context))
    return rendered + (str(_compile(query)[1].render(context)) if "{" in query else query)


def _render(
    value: Any, context: Mapping[str, Any], field: str, url_inputs: frozenset[str] = frozenset()
) -> Any:
    if isinstance(value, str):
        return _render_str(value, context, field)
    if isinstance(value, dict):
        return {
            k: _render_str(v, context, f"{field}.{k}", url=True)
            if k in url_inputs and isinstance(v, str)
            else _render(v, context, f"{field}.{k}")
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_render(v, context, f"{field}[{i}]") for i, v in enumerate(value)]
    return value


def render_value(
    value: Any,
    context: Mapping[str, Any],
    field: str = "input",
    budget: Budget = DEFAULT_BUDGET,
    *,
    url_inputs: frozenset[str] = frozenset(),
) -> Any:
    """Render every string in a nested structure of dicts, lists and scalars.

    ``url_inputs``: keys of the top-level mapping that are URLs (see the module).
    The whole structure shares ``budget``: its time, and its output size measured as JSON.
    This blocks for up to ``budget.seconds``: from a coroutine, call it in a worker thread.
    Raises :class:`TemplateRenderError`.
    """
    _meter.budget = budget
    _meter.deadline = time.monotonic() + budget.seconds
    _meter.shared = False
    try:
        rendered = _render(value, context, field, url_inputs)
        if rendered is not value and not isinstance(rendered, str):
            try:
                if _meter.shared and not isinstance(value, str):
                    # Measured before it is encoded: each field fits, maybe not all together.
                    # Only parts that a lone expression gave may be shared (the containers the
                    # render makes itself are new, and hold what the flow wrote and the text
                    # rendered), so a render without any needs no walk.
                    _meter.sized(rendered)
                _meter.size(len(msgspec.json.encode(rendered, enc_hook=str)))
            except _OverBudget as exc:
                raise TemplateRenderError(field, str(exc)) from exc
            except (msgspec.EncodeError, TypeError, ValueError, RecursionError):
                pass  # not JSON: validation of the action's input says what is wrong
        return rendered
    finally:
        _meter.deadline = math.inf
        _meter.budget = DEFAULT_BUDGET


def _syntax_error(field: str, exc: TemplateError) -> TemplateRenderError:
    return TemplateRenderError(field, _("template syntax error: %(error)s", error=exc))


def compile_check(value: Any, field: str = "input") -> None:
    """Raise :class:`TemplateRenderError` if any string in ``value`` is not a valid template."""
    for error in template_errors(value, field):
        raise error


def template_errors(value: Any, field: str = "input") -> Iterator[TemplateRenderError]:
    """Each string in ``value`` that is not a valid template, in order: a form shows every
    problem at once, not one per save."""
    if isinstance(value, str):
        if "{" in value:
            try:
                _compile(value)
            except TemplateError as exc:
                yield _syntax_error(field, exc)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from template_errors(v, f"{field}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from template_errors(v, f"{field}[{i}]")


def referenced_paths(source: str) -> set[tuple[str, ...]]:
    """The dotted paths a template reads (``event.amount`` → ``("event", "amount")``).

    Used at save time to flag fields that the sample event does not have.
    """
    paths: set[tuple[str, ...]] = set()
    if len(source) > MAX_SOURCE_CHARS:
        return paths
    try:
        tree = _env.parse(source)
    except (TemplateError, RecursionError, MemoryError):
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


class JsonInputError(ValueError):
    """JSON text typed for an input that cannot be read; ``reason`` says why, in the words
    shown next to the input (translated)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def json_input(text: str) -> Any:
    """An input typed as text where the action takes a list or an object, as a run gets it.

    Text that opens a list or an object (``[`` or ``{``, not a template's ``{{`` or ``{%``) is
    read as JSON, whose strings may be templates; anything else (one template for the whole
    value, plain text) is kept as typed. A template written as a JSON value without quotes
    (``"amount": {{ event.amount }}``) is refused by name: quoted, a value that is one
    expression keeps its type, so ``"{{ event.amount }}"`` still gives a number.

    Raises :class:`JsonInputError` for text that opens JSON but is not JSON.
    """
    start = text.lstrip()
    if start[:1] not in ("{", "[") or start[:2] in ("{{", "{%"):
        return text
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        bare = _bare_template(text)
        if bare is not None:
            raise JsonInputError(
                _(
                    'a template in a JSON value goes in quotes: "%(template)s" (it keeps its type)',
                    template=bare,
                )
            ) from exc
        raise JsonInputError(_("not valid JSON: %(reason)s", reason=exc)) from exc


def _bare_template(text: str) -> str | None:
    """The first ``{{ ... }}`` of JSON ``text`` that is outside every string, if any."""
    in_string = False
    i = 0
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1  # the escaped character, a quote included
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif text.startswith("{{", i):
            end = text.find("}}", i + 2)
            return text[i : end + 2] if end != -1 else text[i:].rstrip()
        i += 1
    return None
