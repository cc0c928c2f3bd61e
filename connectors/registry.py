"""Finds connectors through the ``maillon.connectors`` entry-point group.

Entry points are loaded on first use: asking for one connector by key loads only the entry point
of that name, so a process that runs Slack steps and receives Particeep hooks never imports the
other connectors. Listing them all (the API's catalog, saving a connection) loads every one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from maillon.connectors.base import Action, Connector, NoConnection

__all__ = ["ENTRY_POINT_GROUP", "Registry", "default_registry"]

ENTRY_POINT_GROUP = "maillon.connectors"
log = logging.getLogger(__name__)


class Registry:
    """Connectors by key; actions by ``<connector>.<action>``."""

    def __init__(self, connectors: list[Connector] | None = None) -> None:
        self._loaded: dict[str, Connector] = {c.key: c for c in connectors or []}
        self._tried: set[str] = set()
        self._discovered = connectors is not None
        # Loading runs in several threads (the event loop, the API's worker threads): a name is
        # marked tried before its import ends, so another thread must wait rather than skip it.
        self._lock = threading.RLock()
        # By language: every connector's translations in one table, with how many connectors
        # were loaded when it was built (one loaded since makes it stale).
        self._translations: dict[str, tuple[int, dict[str, str]]] = {}
        #: Event titles by (trigger type, event, language): an app's catalogue of events is
        #: built anew at each call, and a list of flows asks once per flow.
        self._event_titles: dict[tuple[str, str, str], str] = {}

    def _load(self, eps: Iterable[EntryPoint]) -> None:
        for ep in eps:
            if ep.name in self._loaded or ep.name in self._tried:
                continue
            self._tried.add(ep.name)
            try:
                connector = ep.load()
            except Exception:
                # A broken plug-in must not take the API and the other connectors down with it.
                log.exception("connector %s (%s) failed to load; ignored", ep.name, ep.value)
                continue
            if not isinstance(connector, Connector):
                log.warning("entry point %s does not name a Connector; ignored", ep.value)
                continue
            self._loaded[connector.key] = connector

    def _discover(self) -> None:
        with self._lock:
            if not self._discovered:
                self._load(entry_points(group=ENTRY_POINT_GROUP))
                self._discovered = True

    def get(self, key: str) -> Connector | None:
        """The connector named ``key``, or ``None``."""
        if key not in self._loaded and not self._discovered:
            with self._lock:
                # Entry points are named by their connector's key: load that one alone, and
                # look through all of them only if it is not there.
                self._load(entry_points(group=ENTRY_POINT_GROUP, name=key))
                if key not in self._loaded:
                    self._discover()
        return self._loaded.get(key)

    def translate(self, text: str, locale: str) -> str:
        """``text``, a connector's own (a title, a field's help), in ``locale`` as its connector
        translates it; unchanged when none does.

        The tables of every installed connector are looked up as one: the same English text
        reads the same in another language, whichever connector shows it.
        """
        if not text:
            return text
        self._discover()
        built = self._translations.get(locale)
        if built is None or built[0] != len(self._loaded):
            table: dict[str, str] = {}
            for connector in list(self._loaded.values()):
                table.update(connector.translations.get(locale, {}))
            built = self._translations[locale] = (len(self._loaded), table)
        return built[1].get(text, text)

    def event_title(self, trigger_type: str, event: str, locale: str) -> str:
        """What a person calls an app's event (``Transaction créée``) in ``locale``; the
        event's name when its app's catalogue does not list it."""
        key = (trigger_type, event, locale)
        title = self._event_titles.get(key)
        if title is None:
            app, _dot, name = trigger_type.partition(".")
            connector = self.get(app)
            trigger = (
                next((t for t in connector.triggers if t.key == name), None) if connector else None
            )
            known = (
                next((e for e in trigger().events() if e.name == event), None) if trigger else None
            )
            title = self._event_titles[key] = known.title_in(locale) if known else event
        return title

    def all(self) -> list[Connector]:
        """Every installed connector, sorted by key."""
        self._discover()
        return sorted(self._loaded.values(), key=lambda c: c.key)

    async def aclose(self) -> None:
        """Run the ``close`` hook of every loaded connector in the running event loop."""
        for connector in list(self._loaded.values()):
            if connector.close is None:
                continue
            try:
                await connector.close()
            except Exception:
                # Shutting down: one connector's failure must not keep the others' pools open.
                log.exception("closing connector %s failed", connector.key)

    def for_kind(self, kind: str) -> list[Connector]:
        """The connectors whose connections are of ``kind`` (``google``: gmail, sheets, ...)."""
        return [c for c in self.all() if c.connection_kind == kind]

    def kinds(self) -> list[str]:
        """Every connection kind that can be saved: those of connectors that have a connection
        model, needed or optional (an HTTP API's base URL and token)."""
        saved = [c for c in self.all() if c.connection is not NoConnection or c.triggers]
        return sorted({c.connection_kind for c in saved})

    def resolve(self, action_ref: str) -> tuple[Connector, type[Action[Any, Any, Any]]]:
        """Look up ``"slack.send_message"``; raise ``LookupError`` with a readable reason."""
        connector_key, _, action_key = action_ref.partition(".")
        connector = self.get(connector_key)
        if connector is None:
            raise LookupError(f"unknown connector {connector_key!r} in action {action_ref!r}")
        action = connector.action(action_key)
        if action is None:
            known = ", ".join(sorted(a.key for a in connector.actions))
            raise LookupError(f"connector {connector_key!r} has no action {action_key!r} ({known})")
        return connector, action


default_registry = Registry()
