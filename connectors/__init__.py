"""Maillon connectors: the SDK (:mod:`maillon.connectors.base`) and one package per app.

A connector module exposes a module-level ``connector`` object (a :class:`Connector`) and is
registered under the ``maillon.connectors`` entry-point group, so a third-party package adds an
app without touching this repository.
"""

from maillon.connectors.base import Action, ActionContext, Connection, Connector
from maillon.connectors.errors import ConnectorError, PermanentError, TransientError
from maillon.connectors.registry import Registry, default_registry

__all__ = [
    "Action",
    "ActionContext",
    "Connection",
    "Connector",
    "ConnectorError",
    "PermanentError",
    "Registry",
    "TransientError",
    "default_registry",
]
