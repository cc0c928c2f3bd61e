"""The connector SDK: everything a connector package imports from Maillon, in one module.

A connector, built in or installed from another package, needs only this::

    from maillon.connectors.sdk import Action, ActionContext, Connection, Connector

The names live in private homes, :mod:`maillon.connectors.base` (the contract:
connections, actions, app triggers, the connector), :mod:`maillon.connectors.errors` (the error
tree and the ``Retry-After`` parser), :mod:`maillon.connectors.oauth` (how accounts connect
with OAuth 2.0), which the engine imports directly, and :mod:`maillon.connectors.files` (files
passed between steps by reference, downloaded within a size limit). Only what is listed in
``__all__`` here is promised to connector authors; the rest of those modules may change. The
walkthrough is ``docs/connectors.md``; the testing kit is :mod:`maillon.connectors.testing`;
the tree of errors, and when the engine retries, is drawn in :mod:`maillon.connectors.errors`.
"""

from __future__ import annotations

from maillon.connectors.base import (
    URL_INPUT,
    Action,
    ActionContext,
    AppTrigger,
    Connection,
    ConnectionCheck,
    Connector,
    NoConnection,
    SyncReport,
    TriggerEvent,
    choice_labels,
)
from maillon.connectors.errors import (
    AccessTokenRejected,
    ConnectorError,
    PermanentError,
    TransientError,
    parse_retry_after,
)
from maillon.connectors.files import (
    DEFAULT_MAX_FILE_BYTES,
    FileInput,
    FileRef,
    LoadedFile,
    MaxFileBytes,
    aclose_fetch_clients,
    open_file,
)
from maillon.connectors.oauth import OAuth2, TokenSet, default_token_fields
from maillon.connectors.registry import ENTRY_POINT_GROUP

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "ENTRY_POINT_GROUP",
    "URL_INPUT",
    "AccessTokenRejected",
    "Action",
    "ActionContext",
    "AppTrigger",
    "Connection",
    "ConnectionCheck",
    "Connector",
    "ConnectorError",
    "FileInput",
    "FileRef",
    "LoadedFile",
    "MaxFileBytes",
    "NoConnection",
    "OAuth2",
    "PermanentError",
    "SyncReport",
    "TokenSet",
    "TransientError",
    "TriggerEvent",
    "aclose_fetch_clients",
    "choice_labels",
    "default_token_fields",
    "open_file",
    "parse_retry_after",
]
