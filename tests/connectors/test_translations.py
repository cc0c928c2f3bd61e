"""The built-in connectors speak French: every text the UI shows of them has a translation, and
every translation is of a text they still show."""

from __future__ import annotations

import pytest

from maillon.connectors.base import Connector
from maillon.connectors.registry import Registry
from maillon.web.ui.schema import form_fields

BUILT_IN = Registry().all()


def texts(connector: Connector) -> set[str]:
    """The connector's texts as the UI shows them: titles, descriptions, fields, their help and
    their choices."""
    found = {connector.title, connector.description}
    models = [connector.connection, *(a.Input for a in connector.actions)]
    if connector.connection.kind:  # a shared kind is named by its model ("Google")
        found.add(str(connector.connection.model_json_schema().get("title", "")))
    for action in connector.actions:
        found |= {action.title, action.description}
    for trigger in connector.triggers:
        found |= {trigger.title, trigger.description}
    for model in models:
        for f in form_fields(model.model_json_schema()):
            found |= {f.title, f.help, *f.option_labels.values()}
    return found - {""}


@pytest.mark.parametrize("connector", BUILT_IN, ids=lambda c: c.key)
def test_every_text_of_a_built_in_connector_is_in_french(connector: Connector) -> None:
    french = connector.translations.get("fr", {})
    assert sorted(texts(connector) - set(french)) == [], "texts without a French translation"
    assert sorted(set(french) - texts(connector)) == [], "translations of texts no longer shown"
    assert [english for english, text in french.items() if not text.strip()] == []


@pytest.mark.parametrize("connector", BUILT_IN, ids=lambda c: c.key)
def test_every_event_of_a_built_in_connector_is_in_french(connector: Connector) -> None:
    for trigger in connector.triggers:
        for event in trigger().events():
            assert event.title and event.title_in("fr") != event.title, event.name
            assert event.description_in("fr") != event.description, event.name


def test_the_registry_translates_and_leaves_unknown_texts_alone() -> None:
    registry = Registry()
    assert registry.translate("Send a message", "fr") == "Envoyer un message"
    assert registry.translate("Send a message", "en") == "Send a message"
    assert registry.translate("Nobody wrote this", "fr") == "Nobody wrote this"
