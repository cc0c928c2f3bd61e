"""French never falls behind: every text of the templates is marked for translation, and the
committed catalogues hold exactly what extraction finds, each message translated.

How to add a text and its translation: docs/translations.md.
"""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import Environment, nodes

from maillon.engine.i18n import CATALOGUES, DEFAULT_LOCALE, LOCALES

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "web" / "templates"

#: Words that are the same in every language: they need no marking.
_SAME_EVERYWHERE = {"Maillon"}
#: Attributes whose text a person reads or hears.
_SPOKEN_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "data-confirm", "hx-confirm"}
#: Elements whose text is code, not words.
_CODE = {"code", "pre", "script", "style"}
# Stands for an expression: a letter first, so that it may be a tag's name (``<{{ h }}>``).
_PLACEHOLDER = "z\x01"
_WORD = re.compile(r"[^\W\d_]{2,}")


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.replace(_PLACEHOLDER, " ")) if w not in _SAME_EVERYWHERE]


class _Prose(HTMLParser):
    """Collects words written in a template's markup outside a ``{% trans %}`` block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.code_depth = 0
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _CODE:
            self.code_depth += 1
        for name, value in attrs:
            if name in _SPOKEN_ATTRIBUTES and value and _words(value):
                self.found.append(f'{name}="{value}"')

    def handle_endtag(self, tag: str) -> None:
        if tag in _CODE and self.code_depth:
            self.code_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.code_depth and _words(data):
            self.found.append(data.strip())


def _looks_like_prose(literal: str) -> bool:
    """A string literal of an expression that reads as words to show (not a name, a class,
    a path or a piece of markup)."""
    if re.search(r'[=<>"#/{}_.]', literal) or not _words(literal):
        return False
    return bool(re.match(r"[A-Z][a-z]", literal) or " " in literal.strip())


def untranslated(source: str) -> list[str]:
    """The texts of a template that would be shown untranslated."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    markup: list[str] = []
    found: list[str] = []
    in_trans = False
    in_expression = False
    translated_depth = (
        0  # inside the parentheses of _(...), gettext(...), ngettext(...), pgettext(...)
    )
    depth = 0
    previous = ""
    for _line, kind, raw in env.lex(source):
        if kind == "whitespace":
            continue
        value = ast.literal_eval(raw) if kind == "string" else raw
        if kind == "data":
            if not in_trans:
                markup.append(value)
        elif kind in ("variable_begin", "block_begin"):
            in_expression = True
            markup.append(_PLACEHOLDER)
        elif kind in ("variable_end", "block_end"):
            in_expression = False
        elif kind == "name" and previous in ("block_begin",):
            if value == "trans":
                in_trans = True
            elif value == "endtrans":
                in_trans = False
        elif kind == "operator" and value == "(":
            depth += 1
            if previous in ("_", "gettext", "ngettext", "pgettext"):
                translated_depth = translated_depth or depth
        elif kind == "operator" and value == ")":
            if depth == translated_depth:
                translated_depth = 0
            depth -= 1
        elif (
            kind == "string"
            and in_expression
            and not in_trans
            and not translated_depth
            and _looks_like_prose(value)
        ):
            found.append(repr(value))
        previous = value if kind == "name" else kind
    parser = _Prose()
    parser.feed("".join(markup))
    parser.close()
    return parser.found + found


@pytest.mark.parametrize(
    "template",
    sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")),
)
def test_every_text_of_a_template_is_marked_for_translation(template: str) -> None:
    assert untranslated((TEMPLATES / template).read_text()) == []


def test_the_check_sees_unmarked_texts() -> None:
    source = (
        '<h1>Flows</h1><p>{% trans %}Saved{% endtrans %} {{ _("Kept") }}</p>'
        '<button aria-label="Delete it">✕</button><code>event.id</code>'
        '{{ "Save changes" if editing else _("Create") }}{% include "flows/_row.html" %}'
    )
    assert untranslated(source) == ["Flows", 'aria-label="Delete it"', "'Save changes'"]


def miscounted(source: str) -> list[str]:
    """The plural texts of a template chosen by something else than their ``count``.

    Jinja's ``{% trans %}`` picks the plural by the block's first variable unless
    ``{% pluralize count %}`` names one: ``{% trans name=..., count=n %}`` counts the name.
    """
    env = Environment(extensions=["jinja2.ext.i18n"])
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    found = []
    for call in env.parse(source).find_all(nodes.Call):
        if not isinstance(call.node, nodes.Name) or call.node.name != "ngettext":
            continue
        values = {k.key: k.value for k in call.kwargs}
        if values and (len(call.args) < 3 or values.get("count") != call.args[2]):
            found.append(str(getattr(call.args[0], "value", call.args[0])))
    return found


@pytest.mark.parametrize(
    "template",
    sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")),
)
def test_every_plural_text_is_chosen_by_its_count(template: str) -> None:
    assert miscounted((TEMPLATES / template).read_text()) == []


def test_the_check_sees_a_plural_chosen_by_another_variable() -> None:
    source = (
        "{% trans name=flow.name, count=n %}{{ name }}: {{ count }} run"
        "{% pluralize %}{{ name }}: {{ count }} runs{% endtrans %}"
        "{% trans name=flow.name, count=n %}{{ name }}: {{ count }} run"
        "{% pluralize count %}{{ name }}: {{ count }} runs{% endtrans %}"
        "{% trans count=n, held=h %}{{ held }} held{% pluralize %}{{ held }} held{% endtrans %}"
    )
    assert miscounted(source) == ["%(name)s: %(count)s run"]


def _extracted() -> Catalog:
    with (CATALOGUES / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    catalog = Catalog()
    for _file, line, message, comments, context in extract_from_dir(ROOT, method_map, options_map):
        catalog.add(message, None, [(_file, line)], auto_comments=comments, context=context)
    return catalog


def _committed(locale: str) -> Catalog:
    with (CATALOGUES / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=locale)


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    return _extracted()


@pytest.mark.parametrize("locale", sorted(set(LOCALES) - {DEFAULT_LOCALE}))
def test_the_catalogue_holds_exactly_what_extraction_finds(extracted: Catalog, locale: str) -> None:
    committed = _committed(locale)
    found = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in extracted if m.id}
    held = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in committed if m.id}
    # Run the commands of docs/translations.md to bring the catalogue up to date.
    assert sorted(found - held, key=str) == [], "texts missing from the catalogue"
    assert sorted(held - found, key=str) == [], "texts no longer in the code"


@pytest.mark.parametrize("locale", sorted(set(LOCALES) - {DEFAULT_LOCALE}))
def test_every_message_is_translated_with_the_same_placeholders(locale: str) -> None:
    committed = _committed(locale)
    untranslated_ids = [
        m.id
        for m in committed
        if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string]))
    ]
    assert untranslated_ids == []
    assert [(m.id, [str(e) for e in errors]) for m, errors in committed.check()] == []
