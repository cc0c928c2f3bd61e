"""Saved connections: validated against the connector's model, secrets sealed at rest."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine, select

from maillon.connectors.base import Connection, Connector
from maillon.engine.crypto import SecretBox
from maillon.engine.models import ConnectionRow
from maillon.engine.validation import describe

__all__ = ["ConnectionResolver", "split_secrets"]

_table = ConnectionRow.__table__  # type: ignore[attr-defined]


def split_secrets(
    connector: Connector, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate ``values`` for ``connector``; return (public config, secret values).

    Raises :class:`pydantic.ValidationError` if the values do not fit the connection model.
    """
    model = connector.connection.model_validate(values)
    secret_names = connector.connection.secret_fields()
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for name in model.model_fields_set | {n for n in values if n in type(model).model_fields}:
        value = getattr(model, name)
        if name in secret_names:
            if value is not None:
                secret[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
        else:
            public[name] = value
    return json.loads(json.dumps(public, default=str)), secret


class ConnectionResolver:
    """Turns a connection name into a typed connection, with a short-lived cache.

    The cache saves a database read and a decryption per step; its time-to-live bounds how long a
    worker on another machine keeps using credentials after they were changed.
    """

    def __init__(self, engine: Engine, box: SecretBox, ttl: float = 5.0) -> None:
        self._engine = engine
        self._box = box
        self._ttl = ttl
        self._cache: dict[str, tuple[float, float, str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def invalidate(self, name: str | None = None) -> None:
        """Forget one cached connection (or all) after it changed."""
        with self._lock:
            if name is None:
                self._cache.clear()
            else:
                self._cache.pop(name, None)

    def _load(self, name: str) -> tuple[str, dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(name)
        if hit and now - hit[0] < self._ttl:
            return hit[2], hit[3]
        with self._engine.connect() as conn:
            row = conn.execute(
                select(_table.c.app, _table.c.config, _table.c.secrets, _table.c.updated_at).where(
                    _table.c.name == name
                )
            ).first()
        if row is None:
            raise LookupError(f"no connection named {name!r}")
        values = {**json.loads(row.config), **self._box.open(row.secrets)}
        with self._lock:
            self._cache[name] = (now, row.updated_at, row.app, values)
        return row.app, values

    def resolve(self, name: str | None, connector: Connector) -> Connection:
        """The typed connection for a step (an empty one when the step names none).

        Raises ``LookupError`` or ``ValueError`` with a reason fit for the step's error.
        """
        if name is None:
            if connector.needs_connection:
                raise ValueError(f"{connector.key} needs a connection")
            return connector.connection()
        app, values = self._load(name)
        if app != connector.connection_kind:
            raise ValueError(f"connection {name!r} is for {app}, not {connector.connection_kind}")
        try:
            return connector.connection.model_validate(values)
        except ValidationError as exc:
            raise ValueError(f"connection {name!r} is incomplete: {describe(exc)}") from exc
