"""Engine services: every operation the API, the CLI and the UI perform, with its side effects.

A caller (a REST controller, a CLI command, a UI page) parses its input, calls one service
method, and renders the result. Whatever else the operation implies happens inside the service,
so that no caller can forget it: waking the workers when runs are queued, forgetting cached
connections when one changes, registering an app's webhooks when a flow is switched on.

Conventions shared by every service:

- Methods are coroutines. Database work runs in a worker thread (:meth:`Service.sync`), calls to
  remote apps are awaited; the CLI bridges to them once, at its edge.
- Errors are the ones of :mod:`maillon.engine.errors`: ``NotFound``, ``Conflict``, ``Invalid``
  (with every problem listed), so that each transport maps them to its own words once.
- Services receive what they need explicitly (the database, the registry, other services);
  :class:`maillon.engine.runtime.Runtime` builds them once per process.
"""

from __future__ import annotations

from dataclasses import dataclass

from maillon.engine.services.accounts import Accounts
from maillon.engine.services.alerts import Alerts
from maillon.engine.services.connections import Connections
from maillon.engine.services.editor import Editor
from maillon.engine.services.flows import Flows
from maillon.engine.services.hooks import Hooks
from maillon.engine.services.install import Install
from maillon.engine.services.keys import Keys
from maillon.engine.services.monitoring import Monitoring
from maillon.engine.services.oauth import OAuth
from maillon.engine.services.retention import Retention
from maillon.engine.services.runs import Runs
from maillon.engine.services.schedules import Schedules
from maillon.engine.services.sources import Sources
from maillon.engine.services.stats import Stats
from maillon.engine.services.tokens import Tokens

__all__ = [
    "Accounts",
    "Alerts",
    "Connections",
    "Editor",
    "Flows",
    "Hooks",
    "Install",
    "Keys",
    "Monitoring",
    "OAuth",
    "Retention",
    "Runs",
    "Schedules",
    "Services",
    "Sources",
    "Stats",
    "Tokens",
]


@dataclass(frozen=True)
class Services:
    """The services of one process, built by :class:`~maillon.engine.runtime.Runtime`."""

    flows: Flows
    runs: Runs
    connections: Connections
    sources: Sources
    oauth: OAuth
    tokens: Tokens
    hooks: Hooks
    editor: Editor
    stats: Stats
    accounts: Accounts
    install: Install
    schedules: Schedules
    monitoring: Monitoring
    keys: Keys
    alerts: Alerts
    retention: Retention
