"""Saved connections: validated against the connector's model, secrets sealed at rest.

Where a connection sends its credentials is a setting like any other (a base URL, a token
endpoint, a webhook URL), so the rules about those settings live here too:

- a URL field must be an ``http(s)://`` URL with a host (:func:`url_problems`);
- a password written inside a URL (``https://user:pw@host/``) is a secret: it is kept with the
  secrets, under ``<field>#password``, and put back only when the connection is used;
- the fields naming where credentials go (:func:`destination_fields`) cannot be changed
  without giving the secrets again in the same request (:func:`moved_destinations`), or
  anyone able to edit a connection could have its write-only secrets sent to their own host.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy import Engine, select

from maillon.connectors.base import Connection, Connector, per_model
from maillon.engine.crypto import SecretBox
from maillon.engine.i18n import gettext as _
from maillon.engine.models import ConnectionRow
from maillon.engine.validation import describe

__all__ = [
    "ConnectionResolver",
    "changed_places",
    "destination_fields",
    "join_secrets",
    "moved_destinations",
    "split_secrets",
    "url_fields",
    "url_problems",
]

#: Fields holding a URL, by name.
_URL_FIELD = re.compile(r"(^|_)(url|uri|endpoint)$")
#: Fields naming where credentials are sent: URLs, and hosts or domains.
_DESTINATION_FIELD = re.compile(r"(^|_)(url|uri|endpoint|host|domain)$")
#: Suffix of the secret key that keeps the password of a URL field.
_URL_PASSWORD = "#password"  # noqa: S105 (a key suffix, not a password)


@per_model
def url_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` that hold a URL (``base_url``, ``token_uri``, ``api_endpoint``)."""
    return frozenset(name for name in model.model_fields if _URL_FIELD.search(name))


@per_model
def destination_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` that say where its credentials are sent."""
    return frozenset(name for name in model.model_fields if _DESTINATION_FIELD.search(name))


def url_problems(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with the URL fields among ``values``, by field (empty: nothing)."""
    problems: dict[str, str] = {}
    for name in url_fields(model) & set(values):
        value = values[name]
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value in (None, "") or not isinstance(value, str):
            continue
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018 (raises for a port that is not a number)
        except ValueError:
            problems[name] = _("not a valid URL")
            continue
        if not parts.scheme and not parts.netloc:
            continue  # a relative URL: its connector resolves it against its base, or refuses it
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems[name] = _("must be an http:// or https:// URL with a host")
        elif any(c.isspace() or ord(c) < 0x20 for c in value.strip()):
            problems[name] = _("a URL cannot contain spaces or control characters")
    return problems


def _without_password(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host)), parts.password


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{password}@{host}"))


def join_secrets(config: Mapping[str, Any], secrets: Mapping[str, Any]) -> dict[str, Any]:
    """A connection's values from its stored settings and secrets: passwords kept apart from
    their URLs are put back in them."""
    values = {**config, **{k: v for k, v in secrets.items() if not k.endswith(_URL_PASSWORD)}}
    for key, password in secrets.items():
        field = key.removesuffix(_URL_PASSWORD)
        if key.endswith(_URL_PASSWORD) and isinstance(values.get(field), str):
            values[field] = _with_password(values[field], password)
    return values


def _place(value: Any) -> str | None:
    """A value naming where credentials go, as compared: text trimmed and without a trailing
    ``/`` (the same host either way), empty as absent."""
    value = value.get_secret_value() if isinstance(value, SecretStr) else value
    return None if value in (None, "") else str(value).strip().rstrip("/")


def changed_places(
    names: Iterable[str], stored: Mapping[str, Any], given: Mapping[str, Any]
) -> list[str]:
    """The names among ``names`` whose value in ``given`` names another place than in
    ``stored`` (absent on either side: none), in order.

    Shared by every rule that keeps a stored secret only while it goes where it went: a
    connection's URL and host fields here, a flow step's URL inputs and connection in
    :mod:`maillon.engine.secret_inputs`.
    """
    return sorted(n for n in set(names) if _place(given.get(n)) != _place(stored.get(n)))


def moved_destinations(
    model: type[BaseModel],
    stored: Mapping[str, Any],
    given: Mapping[str, Any],
    unset: Iterable[str],
) -> list[str]:
    """The fields of ``model`` saying where credentials go that ``given`` (or ``unset``)
    changes from ``stored``."""
    dests = destination_fields(model)
    moved = set(changed_places(dests & set(given), stored, given))
    moved |= {n for n in dests & set(unset) if _place(stored.get(n)) is not None}
    return sorted(moved)


_table = ConnectionRow.__table__  # type: ignore[attr-defined]


def split_secrets(
    connector: Connector, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate ``values`` for ``connector``; return (public config, secret values).

    Raises :class:`pydantic.ValidationError` if the values do not fit the connection model.
    """
    model = connector.connection.model_validate(values)
    secret_names = connector.connection.secret_fields()
    urls = url_fields(connector.connection)
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for name in model.model_fields_set | {n for n in values if n in type(model).model_fields}:
        value = getattr(model, name)
        if name in secret_names:
            if value is not None:
                secret[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
        else:
            if name in urls and value is not None:
                # A password written in a URL is a secret like any other.
                value, password = _without_password(str(value))
                if password is not None:
                    secret[name + _URL_PASSWORD] = password
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
            raise LookupError(_("no connection named %(name)r", name=name))
        values = join_secrets(json.loads(row.config), self._box.open(row.secrets))
        with self._lock:
            self._cache[name] = (now, row.updated_at, row.app, values)
        return row.app, values

    def resolve(self, name: str | None, connector: Connector) -> Connection:
        """The typed connection for a step (an empty one when the step names none).

        Raises ``LookupError`` or ``ValueError`` with a reason fit for the step's error.
        """
        if name is None:
            if connector.needs_connection:
                raise ValueError(_("%(app)s needs a connection", app=connector.key))
            return connector.connection()
        app, values = self._load(name)
        if app != connector.connection_kind:
            raise ValueError(
                _(
                    "connection %(name)r is for %(app)s, not %(kind)s",
                    name=name,
                    app=app,
                    kind=connector.connection_kind,
                )
            )
        try:
            return connector.connection.model_validate(values)
        except ValidationError as exc:
            raise ValueError(
                _(
                    "connection %(name)r is incomplete: %(reasons)s",
                    name=name,
                    reasons=describe(exc),
                )
            ) from exc
