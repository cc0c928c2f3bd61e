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

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr

__all__ = ["Action", "ActionContext", "Connection", "Connector"]


class Connection(BaseModel):
    """Base of every connection model.

    Frozen, so that a connection value is hashable and a connector can cache one client per
    connection (``functools.lru_cache`` keyed on it) instead of building one per step.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

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
        """Do the work. Raise :class:`~connectors.errors.TransientError` or
        :class:`~connectors.errors.PermanentError` for failures the engine should classify."""
        raise NotImplementedError


@dataclass(frozen=True)
class Connector:
    """An app: its connection model and its actions."""

    key: str
    title: str
    actions: tuple[type[Action[Any, Any, Any]], ...]
    connection: type[Connection] = NoConnection
    description: str = ""
    #: True when every field of the connection model has a default, so that a step may name no
    #: connection: the engine then passes ``connection()`` (e.g. plain HTTP calls without auth).
    connection_optional: bool = False

    def __post_init__(self) -> None:
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

    @property
    def needs_connection(self) -> bool:
        """Whether steps using this connector must name a connection."""
        return self.connection is not NoConnection and not self.connection_optional
