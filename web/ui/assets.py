"""The UI's templates and static files, both served by Maillon itself (no CDN, no build step).

Static files are cached by browsers for a year: every URL a template builds with
:func:`static_url` carries a digest of the file's content, so a new release changes the URL
instead of waiting for caches to expire.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache, partial
from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from maillon.connectors.registry import Registry, default_registry
from maillon.engine import i18n
from maillon.web.auth import PUBLIC
from maillon.web.ui import formats

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "static_files", "static_url", "templates", "when"]

WEB = Path(__file__).resolve().parents[1]
STATIC_DIR = WEB / "static"
TEMPLATES_DIR = WEB / "templates"
_YEAR = 365 * 86400


@lru_cache(maxsize=64)
def static_url(name: str) -> str:
    """The URL of ``web/static/<name>``, with a digest of its content for cache busting."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def when(
    timestamp: float | None, *, seconds: bool = False, full: bool = False, zone: str | None = None
) -> str:
    """An epoch time in the reader's language and time zone: ``4 mai 2026, 09:15``, or with
    ``full``, ``lundi 4 mai 2026 à 09:15``. With ``zone`` (a schedule's), in that zone, named:
    ``4 mai 2026, 09:15 (Europe/Paris)``, as the schedule reads."""
    if timestamp is None:
        return i18n.gettext("never")
    shown = i18n.format_when(timestamp, seconds=seconds, full=full, zone=zone)
    return f"{shown} ({zone})" if zone else shown


def _translate(message: str) -> str:
    return i18n.translations(i18n.current_locale()).gettext(message)


def _translate_plural(singular: str, plural: str, num: int) -> str:
    return i18n.translations(i18n.current_locale()).ngettext(singular, plural, num)


def _translate_in(context: str, message: str) -> str:
    return i18n.translations(i18n.current_locale()).pgettext(context, message)


def app_title(registry: Registry, key: str) -> str:
    """An app's name as people write it, in the reader's language (``Google``, not
    ``google``); its key when no connector has it."""
    connector = registry.get(key)
    return registry.translate(connector.title, i18n.current_locale()) if connector else key


def _register(engine: JinjaTemplateEngine, registry: Registry) -> None:
    env = engine.engine
    # Jinja fills the placeholders itself (newstyle), escaping the values and not the text.
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # a multi-line text is one line in the catalogue
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_translate,
        ngettext=_translate_plural,
        # A word whose translation depends on what it is said of ("Created": une exécution
        # créée, un jeton créé).
        pgettext=_translate_in,
        newstyle=True,
    )
    # JSON shown as it is sent: keys in their order, letters as they are ("Zoé", not
    # "Zo\u00e9"); ``tojson`` still escapes what HTML could read as markup.
    env.policies["json.dumps_function"] = formats.page_json
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    env.globals["locale"] = i18n.current_locale
    env.globals["time_zone"] = i18n.current_time_zone
    # A connector's own text (an action's title, a field's help) in the reader's language.
    env.filters["app_text"] = lambda text: registry.translate(text or "", i18n.current_locale())
    env.globals["static"] = static_url
    env.filters["when"] = when
    env.filters.update(
        actor=formats.actor,
        ago=formats.ago,
        detail_label=formats.detail_label,
        duration=formats.duration,
        first_line=formats.first_line,
        gist=formats.gist,
        number=formats.number,
        parsed_json=formats.parsed_json,
        pretty_json=formats.pretty_json,
    )
    env.globals["status_label"] = formats.status_label
    env.globals["event_title"] = lambda trigger_type, event: registry.event_title(
        trigger_type, event, i18n.current_locale()
    )
    env.globals["app_title"] = partial(app_title, registry)


def templates(registry: Registry = default_registry) -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja templates from ``web/templates`` (autoescaped), with ``static()``, ``|when``, the
    filters of :mod:`maillon.web.ui.formats`, and texts translated into the language of the
    request (``{% trans %}``, ``_()``, ``locale()``: see :mod:`maillon.engine.i18n`; the
    connectors' own texts with ``|app_text``, from ``registry``'s translations)."""
    return TemplateConfig(
        directory=TEMPLATES_DIR,
        engine=JinjaTemplateEngine,
        engine_callback=partial(_register, registry=registry),
    )


def static_files() -> Router:
    """``/static/...``: public (the sign-in page needs its stylesheet), cached for a year."""
    return create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        opt=PUBLIC,
        cache_control=CacheControlHeader(max_age=_YEAR, public=True, immutable=True),
    )
