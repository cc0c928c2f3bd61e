"""Trello: create cards, move them between lists, comment on them.

Trello's REST API is called through httpx: Atlassian publishes no Python SDK for Trello (the
py-trello package is a community project, a blocking client on requests). The API is plain
JSON over HTTPS, authenticated by an API key and a member's token.
"""

from __future__ import annotations

from maillon.connectors.sdk import Connector
from maillon.connectors.trello._api import check_connection
from maillon.connectors.trello.actions import AddComment, CreateCard, MoveCard
from maillon.connectors.trello.connection import TrelloConnection
from maillon.connectors.trello.french import FRENCH

__all__ = ["TrelloConnection", "connector"]

connector = Connector(
    key="trello",
    title="Trello",
    description="Open Trello cards, move them between lists, comment on them.",
    actions=(CreateCard, MoveCard, AddComment),
    connection=TrelloConnection,
    check=check_connection,
    translations={"fr": FRENCH},
)
