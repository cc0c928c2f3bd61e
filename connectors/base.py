"""The connector SDK: what an app integration declares, written once here.

A connector declares, in one place:

- its **connection** (a :class:`Connection` subclass: auth and settings as typed fields; secrets
  typed ``SecretStr`` so that they are encrypted at rest and never shown),
- its **actions** (one :class:`Action` subclass each: an ``Input`` model, an ``Output`` model and
  one ``run`` method).

Field titles, descriptions and examples on the models drive the API schema and the UI forms; no
parameter is ever read by string name. ``run`` receives plain validated values and a typed
connection, and returns plain data: connectors do not know about the engine's tables.
``run`` may be ``async def`` (preferred for network clients with an asyncio API) or a plain
``def``, which the engine runs in a worker thread (for blocking clients such as httplib2).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr

from maillon.connectors.oauth import OAuth2

__all__ = [
    "Action",
    "ActionContext",
    "AppTrigger",
    "Connection",
    "ConnectionCheck",
    "Connector",
    "SyncReport",
    "TriggerEvent",
]


class Connection(BaseModel):
    """Base of every connection model.

    Frozen, so that a connection value is hashable and a connector can cache one client per
    connection (``functools.lru_cache`` keyed on it) instead of building one per step.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Connectors whose connection models share a kind share saved connections (one Google
    #: account serves Gmail, Sheets and Calendar). ``None``: the connector's own key.
    kind: ClassVar[str | None] = None

    @classmethod
    def secret_fields(cls) -> set[str]:
        """Names of the fields that hold secrets (typed ``SecretStr``)."""
        secret: set[str] = set()
        for name, info in cls.model_fields.items():
            annotation = info.annotation
            if annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ()):
                secret.add(name)
        return secret


class NoConnection(Connection):
    """For actions that need no credentials."""


@dataclass(frozen=True)
class ActionContext:
    """What the engine tells an action about the call in progress."""

    #: Stable across retries and replays of the same step: ``<run id>:<step key>``. Pass it on to
    #: remote APIs that support idempotency keys.
    idempotency_key: str
    #: 1 for the first attempt of this step, 2 for the first retry, and so on.
    attempt: int
    #: Seconds the action may take before the engine gives up on it.
    timeout: float
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("maillon.action"))


InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)
ConnT = TypeVar("ConnT", bound=Connection)


class Action(Generic[ConnT, InputT, OutputT]):
    """One thing a connector can do. Subclasses set the class attributes and implement ``run``."""

    #: ``verb_noun``, unique within its connector, e.g. ``send_message``.
    key: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    Input: ClassVar[type[BaseModel]]
    Output: ClassVar[type[BaseModel]]

    def run(self, ctx: ActionContext, conn: ConnT, data: InputT) -> OutputT | Awaitable[OutputT]:
        """Do the work. Raise :class:`~maillon.connectors.errors.TransientError` or
        :class:`~maillon.connectors.errors.PermanentError` for failures the engine should
        classify."""
        raise NotImplementedError


@dataclass(frozen=True)
class TriggerEvent:
    """An event an app can send: its name, what it means, and a realistic sample body.

    The sample feeds the field picker and save-time template checks before any real delivery.
    """

    name: str
    description: str
    sample: Mapping[str, Any]
    entity: str = ""
    #: False when the app's documentation does not confirm the event (inferred from patterns).
    confirmed: bool = True


@dataclass
class SyncReport:
    """What reconciling an app's registered webhooks did (or would do, on a dry run)."""

    #: ``(event, url)`` pairs that exist at the app and are wanted.
    registered: list[tuple[str, str]] = field(default_factory=list)
    created: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[tuple[str, str]] = field(default_factory=list)
    #: ``(event, url, reason)`` the app refused.
    failed: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ConnectionCheck:
    """The outcome of "test connection", in words for people."""

    ok: bool
    message: str


class AppTrigger(Generic[ConnT]):
    """A trigger fed by an app's webhooks.

    Each connection gets one secret URL per event (``<hook prefix><event>``); a delivery there
    fans out to every enabled flow that listens to that event on that connection. The engine
    calls :meth:`subscribe` when the first flow on an event is enabled and :meth:`unsubscribe`
    when the last one goes, so that users never register URLs by hand.
    """

    #: ``verb``-free noun, unique within the connector: flows name ``<connector>.<key>``.
    key: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    #: Whether event names outside :meth:`events` are accepted (the app may have more).
    custom_events: ClassVar[bool] = True

    def events(self) -> Sequence[TriggerEvent]:
        """The known events (the catalog)."""
        return ()

    def dedup_key(self, event: str, body: Any) -> str | None:
        """Identify a delivery so that a resend of the same content runs nothing twice.

        Default: the entity ``id`` plus a digest of the whole body, so that a real change to the
        entity (same id, new content) is a new delivery while a resend is not.
        """
        if not isinstance(body, dict) or body.get("id") in (None, ""):
            return None
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        return f"{body['id']}:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"

    async def subscribe(self, conn: ConnT, event: str, url: str) -> None:
        """Make the app post ``event`` to ``url`` (idempotent: never registers twice)."""
        raise NotImplementedError

    async def unsubscribe(self, conn: ConnT, event: str, url: str) -> None:
        """Stop the app posting ``event`` to ``url`` (idempotent)."""
        raise NotImplementedError

    async def sync(
        self, conn: ConnT, wanted: set[tuple[str, str]], url_prefix: str, *, dry_run: bool
    ) -> SyncReport:
        """Make the app's webhooks under ``url_prefix`` exactly ``wanted`` (or only report)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Connector:
    """An app: its connection model and its actions."""

    key: str
    title: str
    actions: tuple[type[Action[Any, Any, Any]], ...]
    connection: type[Connection] = NoConnection
    description: str = ""
    triggers: tuple[type[AppTrigger[Any]], ...] = ()
    #: "Test connection": an authenticated call that says whether the credentials work.
    check: Callable[[Any], Coroutine[Any, Any, ConnectionCheck]] | None = None
    #: True when every field of the connection model has a default, so that a step may name no
    #: connection: the engine then passes ``connection()`` (e.g. plain HTTP calls without auth).
    connection_optional: bool = False
    #: Releases what the connector pooled in the running event loop (HTTP sessions and their
    #: sockets); awaited when the workers of that loop stop.
    close: Callable[[], Coroutine[Any, Any, None]] | None = None
    #: How accounts connect with OAuth 2.0, when they can (the engine runs the consent).
    oauth: OAuth2 | None = None

    def __post_init__(self) -> None:
        self._check_triggers()
        if self.connection_optional:
            try:
                self.connection()
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                raise TypeError(
                    f"connector {self.key!r}: connection_optional needs a connection model "
                    f"whose fields all have defaults ({exc})"
                ) from exc

    def action(self, key: str) -> type[Action[Any, Any, Any]] | None:
        """The action class named ``key``, or ``None``."""
        for action in self.actions:
            if action.key == key:
                return action
        return None

    def trigger(self, key: str) -> type[AppTrigger[Any]] | None:
        """The trigger class named ``key``, or ``None``."""
        for trigger in self.triggers:
            if trigger.key == key:
                return trigger
        return None

    def trigger_for(self, event: str) -> type[AppTrigger[Any]] | None:
        """The trigger that receives ``event``: the one whose catalog lists it, else the one
        that accepts events outside its catalog.

        An app account has one URL per event whichever trigger it feeds, so a connector's
        triggers divide the event names between them (checked when the connector is built).
        """
        return self._event_owners.get(event) or next(
            (t for t in self.triggers if t.custom_events), None
        )

    @cached_property
    def _event_owners(self) -> dict[str, type[AppTrigger[Any]]]:
        # Built once: a delivery's trigger is looked up on the hot path of app hooks.
        owners: dict[str, type[AppTrigger[Any]]] = {}
        for trigger in self.triggers:
            for e in trigger().events():
                if owners.setdefault(e.name, trigger) is not trigger:
                    raise TypeError(
                        f"connector {self.key!r}: event {e.name!r} is in the catalogs of "
                        f"triggers {owners[e.name].key!r} and {trigger.key!r}"
                    )
        return owners

    def _check_triggers(self) -> None:
        self._event_owners  # noqa: B018 (raises for triggers that share an event)
        if sum(t.custom_events for t in self.triggers) > 1:
            raise TypeError(
                f"connector {self.key!r}: only one trigger may accept events outside its catalog"
            )

    @property
    def connection_kind(self) -> str:
        """What saved connections for this connector are filed under (``slack``, ``google``)."""
        return self.connection.kind or self.key

    @property
    def needs_connection(self) -> bool:
        """Whether steps using this connector must name a connection."""
        return self.connection is not NoConnection and not self.connection_optional
