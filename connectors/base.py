"""The contract between the engine and a connector, written once here.

Connector authors import these names from :mod:`maillon.connectors.sdk`, the public surface;
this module is their home, which the engine imports directly. A connector declares, in one
place:

- its **connection** (a :class:`Connection` subclass: auth and settings as typed fields; secrets
  typed ``SecretStr`` so that they are encrypted at rest and never shown),
- its **actions** (one :class:`Action` subclass each, whose generic parameters name its
  connection, input and output models, and one ``run`` method),
- optionally its **app triggers** (:class:`AppTrigger`) and a connection check.

Field titles, descriptions and examples on the models drive the API schema and the UI forms; no
parameter is ever read by string name. They are written in English; ``Connector.translations``
gives them in other languages (the UI shows them in the reader's). ``run`` receives plain
validated values and a typed connection, and returns plain data: connectors do not know about
the engine's tables.
``run`` may be ``async def`` (preferred for network clients with an asyncio API) or a plain
``def``, which the engine runs in a worker thread (for blocking clients such as httplib2).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, wraps
from typing import Any, ClassVar, Generic, NoReturn, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, SecretStr

from maillon.connectors.oauth import OAuth2

__all__ = [
    "URL_INPUT",
    "Action",
    "ActionContext",
    "AppTrigger",
    "Connection",
    "ConnectionCheck",
    "Connector",
    "SyncReport",
    "TriggerEvent",
    "choice_labels",
    "per_model",
    "secret_fields",
    "url_inputs",
]

#: ``json_schema_extra`` of an action input that is a URL (``Field(json_schema_extra=URL_INPUT)``):
#: values templated into its path are percent-encoded, so that an event's field cannot lead the
#: request to another path of the API (``| safe`` in the template writes one as it is).
URL_INPUT: dict[str, Any] = {"x-maillon-url": True}


def choice_labels(labels: dict[str, str]) -> dict[str, Any]:
    """``json_schema_extra`` of a field of choices (a ``Literal``): what a form shows for each
    choice, in English (the connector's ``translations`` give the other languages). The value
    stored and sent stays the choice; the JSON schema keeps it under ``x-maillon-labels``.
    """
    return {"x-maillon-labels": labels}


def per_model(
    names_of: Callable[[type[BaseModel]], frozenset[str]],
) -> Callable[[type[BaseModel]], frozenset[str]]:
    """``names_of``, remembered per model (a decorator): the engine asks for every step a run
    takes, and a model's fields do not change. (``functools.cache`` would hide the argument's
    type.)"""
    memo: dict[type[BaseModel], frozenset[str]] = {}

    @wraps(names_of)
    def remembered(model: type[BaseModel]) -> frozenset[str]:
        names = memo.get(model)
        if names is None:
            names = memo[model] = names_of(model)
        return names

    return remembered


@per_model
def secret_fields(model: type[BaseModel]) -> frozenset[str]:
    """Names of ``model``'s fields that hold secrets (typed ``SecretStr``, optional or not).

    A connection's secrets are encrypted at rest; an action's secret inputs (a bearer token
    given with one request) are hidden from what a run records.
    """
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if info.annotation is SecretStr or SecretStr in getattr(info.annotation, "__args__", ())
    )


@per_model
def url_inputs(model: type[BaseModel]) -> frozenset[str]:
    """Names of ``model``'s fields marked :data:`URL_INPUT`."""
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("x-maillon-url")
    )


class Connection(BaseModel):
    """Base of every connection model.

    Frozen, so that a connection value is hashable and a connector can cache one client per
    connection (``functools.lru_cache`` keyed on it) instead of building one per step.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Connectors whose connection models share a kind share saved connections (one Google
    #: account serves Gmail, Sheets and Calendar). ``None``: the connector's own key. Such a
    #: model names the kind for people with ``model_config = ConfigDict(title="Google")``;
    #: otherwise its connector's title does.
    kind: ClassVar[str | None] = None

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        """Names of the fields that hold secrets (typed ``SecretStr``)."""
        return secret_fields(cls)


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


class _ModelSlot:
    """Where an action class's model is read: ``SendMessage.Input``.

    :meth:`Action.__init_subclass__` stores the models of a concrete action as plain class
    attributes, which hide these slots: the engine's lookups per step cost nothing extra. The
    slots are what remains on :class:`Action` itself and on actions still generic, where they
    say why there is no model, and what type checkers read: each subclass's ``__get__`` gives
    the model of the owner's generic parameters, so that ``SendMessage.Input`` is typed
    ``type[SendMessageInput]`` and ``SendMessage.Input(channel=...)`` is checked.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def _missing(self, owner: type) -> NoReturn:
        raise AttributeError(
            f"{owner.__qualname__}.{self._name} is not known: {owner.__qualname__} is generic, "
            "and its subclasses name the models (class MyAction(Action[MyConnection, MyInput, "
            "MyOutput]))"
        )


class _ConnectionSlot(_ModelSlot):
    def __get__(self, instance: object, owner: type[Action[ConnT, Any, Any]]) -> type[ConnT]:
        self._missing(owner)


class _InputSlot(_ModelSlot):
    def __get__(self, instance: object, owner: type[Action[Any, InputT, Any]]) -> type[InputT]:
        self._missing(owner)


class _OutputSlot(_ModelSlot):
    def __get__(self, instance: object, owner: type[Action[Any, Any, OutputT]]) -> type[OutputT]:
        self._missing(owner)


#: What each generic parameter of :class:`Action` must be, in order.
_PARAMETERS = (("ConnectionModel", Connection), ("Input", BaseModel), ("Output", BaseModel))


class Action(Generic[ConnT, InputT, OutputT]):
    """One thing a connector can do: its models, named once, and one ``run`` method.

    The generic parameters are the models::

        class SendMessage(Action[SlackConnection, SendMessageInput, SendMessageOutput]):
            key = "send_message"
            title = "Send a message"

            async def run(
                self, ctx: ActionContext, conn: SlackConnection, data: SendMessageInput
            ) -> SendMessageOutput: ...

    The class then has ``ConnectionModel``, ``Input`` and ``Output`` (read by the engine to
    validate a step's input and to publish the JSON schemas), and a type checker holds ``run``'s
    signature to the same models. A subclass that names no models fails when it is defined. A
    generic subclass (``class GoogleAction(Action[GoogleConnection, InT, OutT])``) may leave
    some to its own subclasses.
    """

    #: ``verb_noun``, unique within its connector, e.g. ``send_message``.
    key: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    #: Inputs most steps leave alone: forms fold them under "More inputs" until one is used.
    advanced_inputs: ClassVar[tuple[str, ...]] = ()
    #: The connection model ``run`` receives (the connector's, or a base class of it).
    ConnectionModel: ClassVar[_ConnectionSlot] = _ConnectionSlot()
    #: Validates a step's rendered input into ``run``'s ``data``; its fields make the form.
    Input: ClassVar[_InputSlot] = _InputSlot()
    #: What ``run`` returns; its schema tells later steps which fields they may use.
    Output: ClassVar[_OutputSlot] = _OutputSlot()
    #: The generic parameters as this class resolved them (type variables where still open).
    _parameters: ClassVar[tuple[Any, ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, _ in _PARAMETERS:
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__qualname__} sets {name}: name the models once, as the parameters "
                    f"of Action (class {cls.__name__}(Action[MyConnection, MyInput, MyOutput]))"
                )
        parameters = _parameters_of(cls)
        if parameters is None:
            # Not parameterised here: a subclass of a concrete action keeps its models, and a
            # bare subclass of Action (or of a generic action) has none to keep.
            inherited = getattr(cls, "_parameters", None)
            if inherited is None or any(isinstance(p, TypeVar) for p in inherited):
                raise TypeError(
                    f"{cls.__qualname__} names no models: write "
                    f"class {cls.__name__}(Action[MyConnection, MyInput, MyOutput])"
                )
            return
        cls._parameters = parameters
        for (name, base), model in zip(_PARAMETERS, parameters, strict=True):
            if isinstance(model, TypeVar):
                continue  # still generic: its subclasses name this one
            if not (isinstance(model, type) and issubclass(model, base)):
                raise TypeError(
                    f"{cls.__qualname__}: the {name} parameter of Action must be a subclass "
                    f"of {base.__name__}, not {model!r}"
                )
            setattr(cls, name, model)

    def run(self, ctx: ActionContext, conn: ConnT, data: InputT) -> OutputT | Awaitable[OutputT]:
        """Do the work. Raise :class:`~maillon.connectors.sdk.TransientError` or
        :class:`~maillon.connectors.sdk.PermanentError` for failures the engine should
        classify."""
        raise NotImplementedError


def _parameters_of(cls: type) -> tuple[Any, ...] | None:
    """The models that ``cls``'s own bases give :class:`Action`, or ``None`` if they give none.

    ``Action[C, I, O]`` gives them directly. ``GoogleAction[I, O]``, a generic subclass, gives
    them through its type variables: each is replaced by the argument in its place.
    """
    for base in cls.__dict__.get("__orig_bases__", ()):
        origin, arguments = get_origin(base), get_args(base)
        if origin is Action:
            return arguments
        if isinstance(origin, type) and issubclass(origin, Action):
            # typing.Generic sets __parameters__ on every subclass; typeshed does not declare it.
            open_parameters = origin.__parameters__  # type: ignore[attr-defined]
            bound = dict(zip(open_parameters, arguments, strict=True))
            return tuple(bound.get(p, p) for p in origin._parameters)
    return None


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
    #: What a person calls it ("Transaction created"); empty: its name.
    title: str = ""
    #: The title and description in other languages: ``{"fr": {"title": ..., "description":
    #: ...}}``.
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def title_in(self, locale: str) -> str:
        """The event's title in ``locale`` (English when it has no translation)."""
        return self.translations.get(locale, {}).get("title") or self.title or self.name

    def description_in(self, locale: str) -> str:
        """The event's description in ``locale`` (English when it has no translation)."""
        return self.translations.get(locale, {}).get("description") or self.description


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

    #: Whether the app accepted the credentials; ``None`` when nothing could be asked (no
    #: credential to test is set, or none can be tested without a side effect), which
    #: ``message`` then explains.
    ok: bool | None
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
    #: The connector's texts in other languages, by language code, then by English text: its
    #: title and description, its actions' and triggers' titles and descriptions, and the
    #: titles and descriptions of its connection's and actions' fields
    #: (``{"fr": {"Send a message": "Envoyer un message", ...}}``). A text without a
    #: translation is shown in English.
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_triggers()
        for action in self.actions:
            # The engine hands every action the connector's connection: an action written for
            # another model would fail on its first run instead of here.
            if not issubclass(self.connection, action.ConnectionModel):
                raise TypeError(
                    f"connector {self.key!r}: action {action.key!r} takes "
                    f"{action.ConnectionModel.__name__}, but the connector's connection model "
                    f"is {self.connection.__name__}"
                )
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
    def accepts_connection(self) -> bool:
        """Whether steps using this connector may name a connection (an HTTP request may
        take its base URL and headers from one)."""
        return self.connection is not NoConnection

    @property
    def needs_connection(self) -> bool:
        """Whether steps using this connector must name a connection."""
        return self.accepts_connection and not self.connection_optional
