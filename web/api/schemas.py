"""What the API returns, kept apart from the database models."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from maillon.engine.alerts import AlertSettings
from maillon.engine.digests import Released
from maillon.engine.flows import FlowDocument, FlowSpec
from maillon.engine.models import (
    AlertRow,
    EventRow,
    FlowVersionRow,
    RejectedDeliveryRow,
    RunRow,
    RunStatus,
    StepRow,
    StepStatus,
    SubscriptionRow,
    SubscriptionStatus,
)
from maillon.engine.payloads import readable_json
from maillon.engine.services.alerts import AlertState
from maillon.engine.services.connections import ConnectionView
from maillon.engine.services.flows import MAX_NOTE, FlowView
from maillon.engine.services.runs import RUN_FILTERS, Replay, run_state
from maillon.engine.services.schedules import FlowTiming, RunStarted
from maillon.engine.versions import Change, ChangeKind

__all__ = [
    "AlertBatchOut",
    "AlertsOut",
    "ConnectionIn",
    "ConnectionOut",
    "ConnectionUpdate",
    "DiffOut",
    "EventOut",
    "FlowNameOut",
    "FlowOut",
    "FlowVersionOut",
    "PublishIn",
    "QueueOut",
    "RejectedDeliveryOut",
    "ReleasedOut",
    "ReplayOut",
    "ResumedOut",
    "RunOut",
    "StepOut",
    "TimingOut",
    "iso",
]


def iso(ts: float | None) -> str | None:
    """Epoch seconds as an ISO-8601 UTC string."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="milliseconds")


def _json(text: str | None) -> Any:
    return readable_json(text)


class SubscriptionOut(BaseModel):
    """Whether the app posts the flow's event to Maillon, and why not if it refused."""

    url: str
    status: SubscriptionStatus
    error: str | None
    updated_at: str | None

    @classmethod
    def of(cls, row: SubscriptionRow) -> SubscriptionOut:
        return cls(url=row.url, status=row.status, error=row.error, updated_at=iso(row.updated_at))


class FlowOut(FlowDocument):
    """A flow as stored, with its identity and the URL its events arrive at: its published
    version (``GET /api/flows/{id}/draft``: its draft)."""

    id: str
    version: int = Field(description="The published version: the one new runs take.")
    has_draft: bool = Field(
        False,
        description="Whether the flow has unpublished changes "
        "(GET /api/flows/{id}/draft; POST /api/flows/{id}/publish).",
    )
    draft_saved_at: str | None = None
    draft_author: str | None = None
    hook_url: str | None = Field(
        description="The flow's own URL (webhook trigger); app triggers share the app's URL."
    )
    subscription: SubscriptionOut | None = Field(
        None, description="App triggers: the app's registration of the event URL."
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Fields templates read that the sample event (or an earlier step) lacks; "
        "shown with a single flow, not in lists.",
    )
    state: str = Field(
        description="enabled, disabled, or paused (switched off by Maillon after "
        "on_failure.pause_after failed runs in a row; its deliveries are held: "
        "POST /api/flows/{id}/resume)."
    )
    paused_at: str | None = None
    failures_in_row: int = Field(
        0,
        description="Failed runs in a row (a success resets it); while the flow is paused, "
        "the number that paused it.",
    )
    created_at: str | None
    updated_at: str | None

    @classmethod
    def of(cls, view: FlowView, spec: FlowSpec | None = None) -> FlowOut:
        """``view`` with its published definition, or ``spec`` (its draft) in its place."""
        row = view.row
        return cls(
            **(spec or view.spec).model_dump(),
            enabled=row.enabled,
            id=row.id,
            version=row.version,
            has_draft=view.draft is not None,
            draft_saved_at=iso(row.draft_saved_at),
            draft_author=row.draft_author,
            hook_url=view.hook_url,
            subscription=SubscriptionOut.of(view.subscription) if view.subscription else None,
            warnings=view.warnings,
            state=view.state,
            paused_at=iso(row.paused_at),
            failures_in_row=row.failures_in_row,
            created_at=iso(row.created_at),
            updated_at=iso(row.updated_at),
        )


class QueueOut(BaseModel):
    """The run queue now: the same figures as the metrics ``maillon_queue_depth`` and
    ``maillon_queue_oldest_due_seconds``."""

    queued: int = Field(description="Runs waiting to be executed (due now, or later for a retry).")
    oldest_due_seconds: float = Field(
        description="How long the oldest due run has waited for a worker (0 with none)."
    )


class PublishIn(BaseModel):
    """What a publish says about itself."""

    # Counted as kept: without the spaces around it, as PUT's note is.
    model_config = ConfigDict(str_strip_whitespace=True)

    note: str | None = Field(
        None, max_length=MAX_NOTE, description="Why this version: kept in the flow's history."
    )


class FlowVersionOut(BaseModel):
    """A published version of a flow: who published it, when, why."""

    version: int
    author: str | None = Field(description="An e-mail address, an API token's name, or cli.")
    note: str | None
    published_at: str | None
    live: bool = Field(description="Whether it is the published version new runs take.")
    definition: dict[str, Any] | None = Field(
        None, description="The version's flow (GET /api/flows/{id}/versions/{version} only)."
    )

    @classmethod
    def of(cls, row: FlowVersionRow, live: int, spec: FlowSpec | None = None) -> FlowVersionOut:
        return cls(
            version=row.version,
            author=row.author,
            note=row.note,
            published_at=iso(row.published_at),
            live=row.version == live,
            definition=spec.model_dump(mode="json", exclude_none=True) if spec else None,
        )


class ChangeOut(BaseModel):
    """One difference between two versions of a flow."""

    path: str = Field(description="trigger.event, steps[notify].input.text, ...")
    kind: ChangeKind
    before: Any = None
    after: Any = None


class DiffOut(BaseModel):
    """What changed from one version of a flow to another."""

    before: str
    after: str
    changes: list[ChangeOut]

    @classmethod
    def of(cls, before: str, after: str, changes: list[Change]) -> DiffOut:
        return cls(
            before=before,
            after=after,
            changes=[
                ChangeOut(path=c.path, kind=c.kind, before=c.before, after=c.after) for c in changes
            ],
        )


class ResumedOut(BaseModel):
    """A flow switched on again, and how many of its held runs were queued."""

    flow: FlowOut
    released: int


class AlertBatchOut(BaseModel):
    """Failures of one subject (a flow, or an app registration) not told yet, or whose last
    message could not be sent."""

    subject: str = Field(description="flow:<flow id> or source:<connection id>:<event>")
    flow_id: str | None
    label: str
    count: int = Field(description="Failures since the last message.")
    latest: str | None = Field(description="The latest failure's error.")
    latest_run_id: str | None
    paused: bool
    due_at: str | None = Field(description="When the next message goes.")
    last_sent_at: str | None
    send_error: str | None = Field(description="Why the last message could not be sent.")

    @classmethod
    def of(cls, row: AlertRow) -> AlertBatchOut:
        return cls(
            subject=row.subject,
            flow_id=row.flow_id,
            label=row.label,
            count=row.count,
            latest=row.latest,
            latest_run_id=row.latest_run_id,
            paused=row.paused,
            due_at=iso(row.due_at),
            last_sent_at=iso(row.last_sent_at),
            send_error=row.send_error,
        )


class AlertsOut(BaseModel):
    """Where failure alerts go (``null``: alerts are off), and what waits to be told."""

    settings: AlertSettings | None
    batches: list[AlertBatchOut]

    @classmethod
    def of(cls, state: AlertState) -> AlertsOut:
        return cls(settings=state.settings, batches=[AlertBatchOut.of(b) for b in state.batches])


class TimingOut(BaseModel):
    """When a flow's schedule fires next, and what its digest holds."""

    schedule: str | None = Field(
        description="The schedule trigger, in words (`cron 0 18 * * * (Europe/Paris)`)."
    )
    next_tick: str | None = Field(description="When the schedule fires next (not while off).")
    last_tick: str | None = Field(description="The latest tick that ran.")
    digest: str | None = Field(description="The digest's name.")
    waiting: int = Field(description="Items collected, waiting for the digest's release.")
    next_release: str | None = Field(
        description="When the digest's schedule releases it next (not while off)."
    )

    @classmethod
    def of(cls, timing: FlowTiming) -> TimingOut:
        return cls(
            schedule=timing.schedule.describe() if timing.schedule else None,
            next_tick=iso(timing.next_tick),
            last_tick=iso(timing.last_tick),
            digest=timing.digest.name if timing.digest else None,
            waiting=timing.waiting,
            next_release=iso(timing.next_release),
        )


class ReleasedOut(BaseModel):
    """A digest released by hand: the event holding its items, and the run queued for it."""

    event_id: str | None
    run_id: str | None
    count: int
    held: bool = Field(description="The flow is off: the run is held until it is released.")

    @classmethod
    def of(cls, released: Released) -> ReleasedOut:
        return cls(
            event_id=released.event_id,
            run_id=released.run_id,
            count=released.count,
            held=released.held,
        )


class RunStartedOut(BaseModel):
    """A scheduled flow run by hand: the tick's event, and the run queued for it."""

    event_id: str
    run_id: str
    held: bool = Field(description="The flow is off: the run is held until it is released.")

    @classmethod
    def of(cls, started: RunStarted) -> RunStartedOut:
        return cls(event_id=started.event_id, run_id=started.run_id, held=started.held)


class ConnectionIn(BaseModel):
    """A new connection: ``values`` must fit the app's connection model."""

    app: str = Field(examples=["slack"])
    name: str = Field(min_length=1, max_length=200, examples=["team-slack"])
    values: dict[str, Any] = Field(default_factory=dict, examples=[{"bot_token": "xoxb-…"}])


class ConnectionUpdate(BaseModel):
    """Changes to a connection; secrets that are not given are kept."""

    name: str | None = Field(None, min_length=1, max_length=200)
    values: dict[str, Any] = Field(default_factory=dict)


class FlowNameOut(BaseModel):
    """A flow, by id and name."""

    id: str
    name: str


class ConnectionOut(BaseModel):
    """A connection without its secrets: only the names of the secrets that are set."""

    id: str
    name: str
    app: str
    config: dict[str, Any]
    secrets_set: list[str]
    hook_prefix: str | None = Field(
        description="Apps with triggers: events are posted to <hook_prefix><event name>."
    )
    created_at: str | None
    updated_at: str | None
    secret_inputs_dropped: list[FlowNameOut] = Field(
        default_factory=list,
        description=(
            "In the answer to a save that made the connection send elsewhere (its URL or host "
            "changed, or it took a name steps give): the flows whose steps' secret inputs were "
            "dropped, as they would have been sent there. Give them again in those flows; "
            "until then those steps fail."
        ),
    )
    older_versions_dropped: list[FlowNameOut] = Field(
        default_factory=list,
        description=(
            "Likewise, the flows where only versions kept for replays held such secret inputs: "
            "their runs replay with the current version now (version=current)."
        ),
    )

    @classmethod
    def of(cls, view: ConnectionView) -> ConnectionOut:
        row = view.row
        return cls(
            id=row.id,
            name=row.name,
            app=row.app,
            config=view.config,
            secrets_set=view.secrets_set,
            hook_prefix=view.hook_prefix,
            created_at=iso(row.created_at),
            updated_at=iso(row.updated_at),
            secret_inputs_dropped=[
                FlowNameOut(id=f.id, name=f.name) for f in view.secret_inputs_dropped
            ],
            older_versions_dropped=[
                FlowNameOut(id=f.id, name=f.name) for f in view.older_versions_dropped
            ],
        )


class StepOut(BaseModel):
    key: str
    position: int
    status: StepStatus
    attempts: int
    input: Any
    output: Any
    error: str | None
    details: Any = Field(
        None, description="What the app said besides the error (status code, error code)."
    )
    started_at: str | None
    finished_at: str | None

    @classmethod
    def of(cls, row: StepRow) -> StepOut:
        return cls(
            key=row.step_key,
            position=row.position,
            status=row.status,
            attempts=row.attempts,
            input=_json(row.input),
            output=_json(row.output),
            error=row.error,
            details=_json(row.details),
            started_at=iso(row.started_at),
            finished_at=iso(row.finished_at),
        )


class ReplayOut(BaseModel):
    """A replay of a run, and the failure it replaced."""

    replayed_at: str | None
    replayed_by: str | None = Field(
        description="An e-mail address, an API token's name, or cli; null if unknown."
    )
    status: RunStatus = Field(description="What the run was before: failed, held or cancelled.")
    error: str | None = Field(description="The run's error before the replay.")
    from_version: int = Field(description="The flow version the run had run.")
    to_version: int = Field(description="The flow version the replay runs.")
    steps: list[StepOut] = Field(
        description="The steps that had not succeeded, as the ledger had them before."
    )

    @classmethod
    def of(cls, replay: Replay) -> ReplayOut:
        row = replay.row
        return cls(
            replayed_at=iso(row.replayed_at),
            replayed_by=row.replayed_by,
            status=row.status,
            error=row.error,
            from_version=row.from_version,
            to_version=row.to_version,
            steps=[StepOut.of(s) for s in replay.steps],
        )


class RunOut(BaseModel):
    id: str
    flow_id: str
    flow_version: int = Field(description="The flow's published version the run executes.")
    event_id: str
    status: RunStatus
    state: str = Field(
        description="The status, except for a queued run not yet due: `retrying` (a step "
        "failed for a passing reason and is tried again at `available_at`) or `waiting` (a "
        "delay step holds it until then).",
        # Written out for the document: Litestar cannot describe a union of two enumerations.
        json_schema_extra={"enum": [str(f) for f in RUN_FILTERS]},
    )
    available_at: str | None = Field(
        description="When the run is (or last was) due for a worker: for a `retrying` or "
        "`waiting` run, when it goes on."
    )
    claims: int
    #: Claims after the lease had expired; past the limit, the run fails as a poison run.
    takeovers: int
    error: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    steps: list[StepOut] | None = None
    replays: list[ReplayOut] | None = Field(
        None, description="With the run's steps: its replays, oldest first."
    )

    @classmethod
    def of(
        cls, row: RunRow, steps: list[StepRow] | None = None, replays: list[Replay] | None = None
    ) -> RunOut:
        return cls(
            id=row.id,
            flow_id=row.flow_id,
            flow_version=row.flow_version,
            event_id=row.event_id,
            status=row.status,
            state=run_state(row),
            available_at=iso(row.available_at),
            claims=row.claims,
            takeovers=row.takeovers,
            error=row.error,
            created_at=iso(row.created_at),
            started_at=iso(row.started_at),
            finished_at=iso(row.finished_at),
            steps=None if steps is None else [StepOut.of(s) for s in steps],
            replays=None if replays is None else [ReplayOut.of(r) for r in replays],
        )


class RejectedDeliveryOut(BaseModel):
    """A delivery refused for its signature: when, why, and what was sent (body cut at 16 KiB,
    as text)."""

    id: str
    flow_id: str
    received_at: str | None
    reason: str
    request: Any
    body: str

    @classmethod
    def of(cls, row: RejectedDeliveryRow) -> RejectedDeliveryOut:
        return cls(
            id=row.id,
            flow_id=row.flow_id,
            received_at=iso(row.received_at),
            reason=row.reason,
            request=_json(row.meta),
            body=row.body,
        )


class EventOut(BaseModel):
    id: str
    flow_id: str | None
    source: str
    dedup_key: str | None
    received_at: str | None
    body: Any
    request: Any
    runs: list[RunOut] | None = None

    @classmethod
    def of(cls, row: EventRow, runs: list[RunRow] | None = None) -> EventOut:
        return cls(
            id=row.id,
            flow_id=row.flow_id,
            source=row.source,
            dedup_key=row.dedup_key,
            received_at=iso(row.received_at),
            body=_json(row.body),
            request=_json(row.meta),
            runs=None if runs is None else [RunOut.of(r) for r in runs],
        )
