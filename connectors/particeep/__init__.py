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

from connectors.base import Connector
from connectors.particeep.actions import GetTransaction, GetUser, UpdateUser
from connectors.particeep.client import ConnectionCheck, ParticeepAuthError, ParticeepClient
from connectors.particeep.connection import ParticeepConnection
from connectors.particeep.events import EventSpec, get_event, load_events
from connectors.particeep.models import Transaction, User, Webhook
from connectors.particeep.signing import PTPAuth
from connectors.particeep.trigger import ParticeepEvent, check_connection
from connectors.particeep.webhooks import (
    DriftPlan,
    DriftRepair,
    ensure_registered,
    ensure_unregistered,
    hook_url,
    plan_drift,
    repair_drift,
)

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
)
