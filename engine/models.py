"""The database tables (SQLModel). Timestamps are UTC epoch seconds; JSON is stored as text.

Epoch floats compare and index cheaply on both SQLite and PostgreSQL, which matters for the
queue's ``available_at``/``lease_expires_at`` scans. JSON as text keeps the hot intake path free
of per-dialect JSON handling: the bytes the sender posted are stored as they were parsed.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

__all__ = [
    "FINISHED_STATUSES",
    "RARE_STATUSES",
    "RARE_STATUS_KEY",
    "REJECTED_BODY_CHARS",
    "AlertRow",
    "ApiToken",
    "ConnectionRow",
    "DigestItemRow",
    "EventRow",
    "FlowRow",
    "FlowVersionRow",
    "InstallSettingRow",
    "OAuthStateRow",
    "PasswordLinkRow",
    "RejectedDeliveryRow",
    "ReplayRow",
    "Role",
    "RunRow",
    "RunStatsRow",
    "RunStatus",
    "ScheduleTickRow",
    "SessionRow",
    "SignInFailureRow",
    "StepRow",
    "StepStatus",
    "SubscriptionRow",
    "SubscriptionStatus",
    "UserRow",
    "rare_status_key",
]


class RunStatus(StrEnum):
    """The states of a run. ``held`` runs wait for an operator (their flow was disabled);
    ``filtered`` runs ended at a filter whose conditions did not hold (not a failure);
    ``cancelled`` runs were stopped by someone before a worker took them up."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    HELD = "held"
    FILTERED = "filtered"
    CANCELLED = "cancelled"


#: The statuses that end a run.
FINISHED_STATUSES = (
    RunStatus.SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.FILTERED,
    RunStatus.CANCELLED,
)


class StepStatus(StrEnum):
    """The states of a step in the ledger. ``retrying``: failed transiently, will run again;
    ``waiting``: a delay whose time has not come (its output says when it does);
    ``filtered``: a filter whose conditions did not hold (the run ended there);
    ``cancelled``: a step that was waiting or retrying when its run was cancelled."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRYING = "retrying"
    WAITING = "waiting"
    FILTERED = "filtered"
    CANCELLED = "cancelled"


class SubscriptionStatus(StrEnum):
    """Whether an app posts an event to this install, as it last said."""

    REGISTERED = "registered"
    UNREGISTERED = "unregistered"
    #: The app refused (its reason is kept with the subscription).
    FAILED = "failed"


class FlowRow(SQLModel, table=True):
    """A flow: its published definition (trigger, steps, settings) as JSON, and its draft.

    ``definition`` and ``version`` are the published version, the one new runs take (a copy of
    it is in ``flow_versions``); ``name``, ``source_key`` and ``error_flow`` are read from it.
    Edits go to ``draft`` until they are published, so that an edit never reaches a live flow
    half done.
    """

    __tablename__ = "flows"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    enabled: bool = True
    hook_token: str = Field(unique=True, index=True, max_length=64)
    #: ``<connection id>:<event>`` for flows on an app trigger: the fan-out index of intake.
    source_key: str | None = Field(default=None, index=True, max_length=300)
    definition: str = Field(sa_type=Text)
    #: The published version's number: 1 for a new flow, one more at every publish.
    version: int = 1
    created_at: float
    updated_at: float
    #: The unpublished changes, as a whole definition (``None``: none, the draft is the
    #: published version); when and by whom it was last saved.
    draft: str | None = Field(default=None, sa_type=Text)
    draft_saved_at: float | None = None
    draft_author: str | None = Field(default=None, max_length=200)
    #: Whether the trigger is ``maillon.run_failed``: a failing run finds its error flows by it.
    error_flow: bool = Field(default=False, index=True)
    #: Failed runs in a row (a success resets it): what auto-pause counts. A paused flow keeps
    #: the count that paused it until it is switched on again.
    failures_in_row: int = 0
    #: When Maillon switched the flow off after too many failures in a row (``None``: it did
    #: not). A paused flow is off, but its deliveries are held rather than dropped and its app
    #: registrations stay, so that resuming it loses nothing.
    paused_at: float | None = None

    @property
    def state(self) -> str:
        """``enabled``, ``disabled``, or ``paused`` (switched off by Maillon after too many
        failed runs in a row: its deliveries are held until it is resumed)."""
        if self.enabled:
            return "enabled"
        return "disabled" if self.paused_at is None else "paused"


class FlowVersionRow(SQLModel, table=True):
    """A published version of a flow, kept as it was published: what its runs execute.

    A run names its version (``runs.flow_version``), and the executor reads the definition
    from here, so a publish never changes a run already created. Rows go with their flow.
    """

    __tablename__ = "flow_versions"

    flow_id: str = Field(primary_key=True, max_length=36)
    version: int = Field(primary_key=True)
    definition: str = Field(sa_type=Text)
    #: Who published it: a user's e-mail address, an API token's name, ``cli``; ``None`` for
    #: the versions an install had before it kept versions.
    author: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, sa_type=Text)
    published_at: float


class ConnectionRow(SQLModel, table=True):
    """Credentials and settings for one app account; secret fields are encrypted."""

    __tablename__ = "connections"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(unique=True, index=True, max_length=200)
    app: str = Field(max_length=100)
    config: str = Field(sa_type=Text, default="{}")
    secrets: str = Field(sa_type=Text, default="")
    #: Secret path segment of this account's hook URLs (apps with triggers only).
    hook_token: str | None = Field(default=None, unique=True, index=True, max_length=64)
    created_at: float
    updated_at: float
    #: The last "test connection": when, whether the app took the credentials (NULL: nothing
    #: could be tested), what it said.
    checked_at: float | None = None
    check_ok: bool | None = None
    check_message: str | None = Field(default=None, sa_type=Text)


class SubscriptionRow(SQLModel, table=True):
    """Whether an app posts one event to this install, as last set or checked."""

    __tablename__ = "subscriptions"

    connection_id: str = Field(primary_key=True, max_length=36)
    event: str = Field(primary_key=True, max_length=100)
    url: str = Field(max_length=500)
    status: SubscriptionStatus = Field(sa_type=String(16))
    error: str | None = Field(default=None, sa_type=Text)
    updated_at: float


class EventRow(SQLModel, table=True):
    """One accepted delivery, stored before the sender is answered."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("dedup_scope", "dedup_key", name="uq_events_dedup"),)

    id: str = Field(primary_key=True, max_length=36)
    flow_id: str | None = Field(default=None, index=True, max_length=36)
    source: str = Field(max_length=200)
    dedup_scope: str | None = Field(default=None, max_length=200)
    dedup_key: str | None = Field(default=None, max_length=500)
    body: str = Field(sa_type=Text)
    meta: str = Field(sa_type=Text)
    received_at: float = Field(index=True)


#: The statuses that few of a flow's runs have, and that people look for: failed and held.
RARE_STATUSES = (RunStatus.FAILED, RunStatus.HELD)

#: ``<flow id> <status>`` for failed and held runs, NULL for the others: indexed with the id, so
#: that a list of one flow's failed (or held) runs reads only those, however rare they are
#: among the flow's runs and however many other flows fail. An expression rather than a
#: (flow_id, status, id) index: every run changes status two or three times, and the entries
#: of such an index for a batch of runs lie in as many places as the batch has flows, so every
#: claim and finish would write that many more pages (measured in tests/benchmarks/README.md);
#: here the other runs' entries are NULL followed by their time-ordered id, side by side like
#: those of (status, id). And not a partial index, for the reason given
#: at ``_OWNER_ONLY`` below. Queries must repeat the expression exactly to use the index.
RARE_STATUS_KEY = "(CASE WHEN status IN ('failed', 'held') THEN flow_id || ' ' || status END)"


def rare_status_key(flow_id: str, status: RunStatus) -> str | None:
    """The value of :data:`RARE_STATUS_KEY` for runs of ``flow_id`` in ``status``, if rare."""
    return f"{flow_id} {status}" if status in RARE_STATUSES else None


class RunRow(SQLModel, table=True):
    """One execution of a flow for an event. The runs table is the work queue."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_queue", "status", "available_at"),
        # Lists of runs go newest first by id (ids are time-ordered), filtered by flow or status.
        Index("ix_runs_flow_id", "flow_id", "id"),
        Index("ix_runs_status_id", "status", "id"),
        Index("ix_runs_flow_rare_status", text(RARE_STATUS_KEY), "id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    flow_id: str = Field(max_length=36)
    #: The published version of the flow the run was created with, and executes.
    flow_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    event_id: str = Field(index=True, max_length=36)
    status: RunStatus = Field(sa_type=String(16))
    claims: int = 0
    #: Claims of the run after its lease had expired (its worker died, or could not record).
    takeovers: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    available_at: float
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: float | None = None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = Field(default=None, sa_type=Text)


class StepRow(SQLModel, table=True):
    """The per-step ledger: what a step received, returned, or failed with."""

    __tablename__ = "steps"

    run_id: str = Field(primary_key=True, max_length=36)
    step_key: str = Field(primary_key=True, max_length=100)
    position: int
    status: StepStatus = Field(sa_type=String(16))
    input: str | None = Field(default=None, sa_type=Text)
    output: str | None = Field(default=None, sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)
    #: JSON: what the connector said besides the message (remote status code, error code).
    details: str | None = Field(default=None, sa_type=Text)
    attempts: int = 0
    started_at: float | None = None
    finished_at: float | None = None


class ReplayRow(SQLModel, table=True):
    """A replay of a run, with what it replaced: the run resumes at its first step that did
    not succeed, in the same rows of the ledger, so the failure is kept here."""

    __tablename__ = "replays"
    __table_args__ = (Index("ix_replays_run", "run_id", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    run_id: str = Field(max_length=36)
    replayed_at: float
    #: Who replayed it: an e-mail address, an API token's name, ``cli``; ``None`` if unknown.
    replayed_by: str | None = Field(default=None, max_length=320)
    #: What the run was (failed, held) and why, as it was before.
    status: RunStatus = Field(sa_type=String(16))
    error: str | None = Field(default=None, sa_type=Text)
    #: The flow version the run had run, and the one the replay runs.
    from_version: int
    to_version: int
    #: JSON: the ledger's rows of the steps that had not succeeded, as they were.
    steps: str = Field(sa_type=Text)


class DigestItemRow(SQLModel, table=True):
    """One event's item collected into its flow's digest, waiting for a release. A release
    deletes the items it takes, in the transaction that stores them in its event.

    ``run_id`` is unique: the run that collected the item stores it once.
    """

    __tablename__ = "digest_items"
    __table_args__ = (Index("ix_digest_items_flow", "flow_id", "run_id"),)

    id: str = Field(primary_key=True, max_length=36)
    flow_id: str = Field(max_length=36)
    run_id: str = Field(unique=True, index=True, max_length=36)
    #: JSON text of the item.
    item: str = Field(sa_type=Text)
    collected_at: float


class ScheduleTickRow(SQLModel, table=True):
    """The latest tick of a schedule that was fired, by the dedup scope its ticks are stored
    under (a flow's trigger, or its digest's release).

    Kept apart from the tick events, which retention deletes: a scheduler starting after
    downtime looks back from here, and an old tick whose event is gone is not fired again.
    """

    __tablename__ = "schedule_ticks"

    scope: str = Field(primary_key=True, max_length=200)
    tick: float


def stats_hour(ts: float) -> int:
    """The start of the hour of ``ts`` (epoch seconds): the key of a :class:`RunStatsRow`."""
    return int(ts // 3600) * 3600


class RunStatsRow(SQLModel, table=True):
    """How many runs of a flow finished in one hour, counted as they finish; a replay takes
    back the failure it replaces (the run is counted again when it finishes)."""

    __tablename__ = "run_stats"

    flow_id: str = Field(primary_key=True, max_length=36)
    #: The hour's start, in epoch seconds. Indexed on its own: figures read the last hours of
    #: every flow, and the key (flow first) would make that a scan of all history.
    hour: int = Field(primary_key=True, index=True)
    succeeded: int = 0
    failed: int = 0
    filtered: int = 0


def _user_fk(*, nullable: bool = False) -> Column[str]:
    """A column naming a user; the database deletes the row with its user."""
    return Column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=nullable
    )


class ApiToken(SQLModel, table=True):
    """A bearer token for the API; only its SHA-256 is stored.

    ``user_id`` is the user who created it in the UI, or ``None`` for a token made with
    ``maillon tokens create`` (it belongs to whoever runs the install).
    """

    __tablename__ = "api_tokens"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    user_id: str | None = Field(default=None, sa_column=_user_fk(nullable=True))
    created_at: float
    last_used_at: float | None = None


class Role:
    """What a user may do. The owner (one per install) manages users; members use the app."""

    OWNER = "owner"
    MEMBER = "member"
    ALL = (OWNER, MEMBER)


#: 1 for the owner, NULL for members: unique, since NULLs are distinct in a unique index. An
#: expression rather than a partial index (``WHERE role = 'owner'``): that needs dialect-specific
#: options, and declaring them loads PostgreSQL's dialect into every process, SQLite ones too.
_OWNER_ONLY = "(CASE WHEN role = 'owner' THEN 1 END)"


class UserRow(SQLModel, table=True):
    """A person who signs in to the UI. ``email`` is stored lower-cased, so unique in any case.

    ``password_hash`` is an Argon2id hash, or ``None`` until a member has used the one-time
    link the owner gave them. A unique index allows a single owner: two set-ups racing on an
    empty install cannot both succeed, whatever the database's isolation level.
    """

    __tablename__ = "users"
    __table_args__ = (Index("uq_users_single_owner", text(_OWNER_ONLY), unique=True),)

    id: str = Field(primary_key=True, max_length=36)
    email: str = Field(unique=True, index=True, max_length=320)
    name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=200)
    role: str = Field(max_length=16)
    #: The UI language the user chose (a BCP 47 tag); ``None``: the browser's.
    locale: str | None = Field(default=None, max_length=35)
    #: The IANA time zone the user reads times in; ``None``: the install's default.
    time_zone: str | None = Field(default=None, max_length=64)
    created_at: float
    last_sign_in_at: float | None = None


class SessionRow(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(sa_column=_user_fk())
    created_at: float
    expires_at: float = Field(index=True)


class PasswordLinkRow(SQLModel, table=True):
    """A one-time link that lets a user choose a password; only the token's SHA-256 is stored."""

    __tablename__ = "password_links"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(sa_column=_user_fk())
    created_at: float
    expires_at: float


class RejectedDeliveryRow(SQLModel, table=True):
    """A delivery refused for its signature: what was sent, and why it was refused.

    Kept so that a refusal is never silent: the operator sees a sender whose secret is wrong
    (or someone forging deliveries). The body is kept only up to :data:`REJECTED_BODY_CHARS`.
    """

    __tablename__ = "rejected_deliveries"
    __table_args__ = (Index("ix_rejected_deliveries_flow_id", "flow_id", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    flow_id: str = Field(max_length=36)
    received_at: float
    reason: str = Field(sa_type=Text)
    #: The request's method, query and headers (credentials dropped), as JSON.
    meta: str = Field(sa_type=Text)
    body: str = Field(sa_type=Text)


#: How much of a rejected delivery's body is kept.
REJECTED_BODY_CHARS = 16 * 1024


class SignInFailureRow(SQLModel, table=True):
    """One failed sign-in, counted against ``key`` (an e-mail address or a client address).

    In the database rather than in memory so that the limit holds across processes.
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400)
    at: float = Field(index=True)


class AlertRow(SQLModel, table=True):
    """Failures waiting to be told, batched per subject (a flow, or an app registration).

    A failure adds to its subject's row in the transaction that records it; a process sends
    the row's message once it is due (at most one per subject per interval) under a lease, so
    that with several processes a batch is sent by one of them, and a restart loses nothing.
    """

    __tablename__ = "alerts"

    #: ``flow:<flow id>`` or ``source:<connection id>:<event>``.
    subject: str = Field(primary_key=True, max_length=300)
    flow_id: str | None = Field(default=None, max_length=36)
    #: What the subject is called in the message if it is gone by then (a deleted flow).
    label: str = Field(max_length=300)
    #: Failures since the last message, and the latest one's words and run.
    count: int = 0
    first_at: float | None = None
    last_at: float | None = None
    latest: str | None = Field(default=None, sa_type=Text)
    latest_run_id: str | None = Field(default=None, max_length=36)
    #: Whether the flow was paused since the last message (the message says how to resume).
    paused: bool = False
    #: When the next message may go (``None``: nothing to tell).
    due_at: float | None = Field(default=None, index=True)
    last_sent_at: float | None = None
    #: Why the last message could not be sent (the channel refused it), if it could not.
    send_error: str | None = Field(default=None, sa_type=Text)
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: float | None = None


class InstallSettingRow(SQLModel, table=True):
    """A setting of the install kept in the database (set from the UI, the API or the CLI),
    as JSON under its name: every process of an install reads the same value."""

    __tablename__ = "install_settings"

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(sa_type=Text)
    updated_at: float


class OAuthStateRow(SQLModel, table=True):
    """A consent flow in progress: its ``state`` and what the callback needs (sealed)."""

    __tablename__ = "oauth_states"

    state: str = Field(primary_key=True, max_length=100)
    provider: str = Field(max_length=50)
    payload: str = Field(sa_type=Text)
    created_at: float
