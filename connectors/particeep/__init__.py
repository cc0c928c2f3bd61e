"""Particeep: the investment and crowdfunding platform that Maillon listens to first.

Public surface:

- :data:`connector`: the connection model and the actions (``get_user``, ``get_transaction``,
  ``update_user``), registered under the ``maillon.connectors`` entry point ``particeep``;
- :class:`ParticeepClient`: the typed, PTP-signed API client;
- :func:`ensure_registered`, :func:`ensure_unregistered`, :func:`plan_drift`,
  :func:`repair_drift`, :func:`hook_url`: webhook registration (see :mod:`.webhooks`);
- :func:`load_events`, :func:`get_event`: the event catalog (``events.yaml``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from maillon.connectors.particeep.actions import GetTransaction, GetUser, UpdateUser
from maillon.connectors.particeep.connection import ParticeepConnection
from maillon.connectors.particeep.events import EventSpec, get_event, load_events
from maillon.connectors.particeep.french import FRENCH
from maillon.connectors.particeep.models import Transaction, User, Webhook
from maillon.connectors.particeep.trigger import ParticeepEvent, check_connection
from maillon.connectors.particeep.webhooks import (
    DriftPlan,
    DriftRepair,
    ensure_registered,
    ensure_unregistered,
    hook_url,
    plan_drift,
    repair_drift,
)
from maillon.connectors.sdk import Connector

if TYPE_CHECKING:
    from maillon.connectors.particeep.client import (
        ConnectionCheck,
        ParticeepAuthError,
        ParticeepClient,
    )
    from maillon.connectors.particeep.signing import PTPAuth

__all__ = [
    "ConnectionCheck",
    "DriftPlan",
    "DriftRepair",
    "EventSpec",
    "PTPAuth",
    "ParticeepAuthError",
    "ParticeepClient",
    "ParticeepConnection",
    "ParticeepEvent",
    "Transaction",
    "User",
    "Webhook",
    "connector",
    "ensure_registered",
    "ensure_unregistered",
    "get_event",
    "hook_url",
    "load_events",
    "plan_drift",
    "repair_drift",
]

connector = Connector(
    key="particeep",
    title="Particeep",
    description="Investment and crowdfunding platform: react to its users and transactions, "
    "read and tag them.",
    actions=(GetUser, GetTransaction, UpdateUser),
    connection=ParticeepConnection,
    triggers=(ParticeepEvent,),
    check=check_connection,
    translations={"fr": FRENCH},
)

#: Names that need httpx, imported from their module when first asked for: the connector itself
#: (all that discovery and incoming hooks need) must load without the HTTP client.
_CLIENT_NAMES = {
    "ConnectionCheck": "maillon.connectors.particeep.client",
    "ParticeepAuthError": "maillon.connectors.particeep.client",
    "ParticeepClient": "maillon.connectors.particeep.client",
    "PTPAuth": "maillon.connectors.particeep.signing",
}


def __getattr__(name: str) -> Any:
    """The names of :data:`_CLIENT_NAMES`, from their module."""
    module = _CLIENT_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)
