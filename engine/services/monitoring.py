"""What an operator's tools ask a running install: is it ready, and its metrics.

``/healthz`` says only that the process answers. ``/readyz`` (:meth:`Monitoring.ready`) says
whether it can do its work: the database answers, its schema is the one this code expects,
the writer thread (through which every delivery is committed) is running, and the oldest due
run has not waited longer than ``MAILLON_READY_MAX_QUEUE_AGE`` (workers stuck, or none
running). Both are public and cheap: two indexed queries, no lock.

``/metrics`` (:meth:`Monitoring.scrape`) needs the metrics token, compared in constant time.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from maillon.engine.db import SCHEMA_HEAD
from maillon.engine.errors import NotFound, Unauthenticated
from maillon.engine.metrics import Metrics, QueueState
from maillon.engine.models import RunStatus
from maillon.engine.services.base import Service
from maillon.engine.settings import Settings
from maillon.engine.writer import Writer

__all__ = ["Monitoring", "Readiness", "read_queue"]

_QUEUED = RunStatus.QUEUED.value


@dataclass(frozen=True)
class Readiness:
    """Each check's verdict (``"ok"`` or what is wrong); ready when every one is ok."""

    checks: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.checks.values())


def read_queue(db: Engine) -> QueueState:
    """Queued runs, and how long the oldest due one has waited (the queue's own indexes)."""
    now = time.time()
    with db.connect() as conn:
        queued = conn.execute(
            text("SELECT count(*) FROM runs WHERE status = :s"), {"s": _QUEUED}
        ).scalar_one()
        oldest = conn.execute(
            text("SELECT min(available_at) FROM runs WHERE status = :s AND available_at <= :now"),
            {"s": _QUEUED, "now": now},
        ).scalar_one()
    return QueueState(int(queued), max(0.0, now - oldest) if oldest is not None else 0.0)


class Monitoring(Service):
    """Readiness and metrics of this process."""

    def __init__(self, db: Engine, writer: Writer, metrics: Metrics, settings: Settings) -> None:
        super().__init__(db)
        self._writer = writer
        self._metrics = metrics
        self._max_age = settings.ready_max_queue_age
        token = settings.metrics_token
        self._token = token.get_secret_value().encode() if token else None

    async def queue(self) -> QueueState:
        """How many runs are queued, and how long the oldest due one has waited: the backlog
        when intake outruns the workers (every process with workers sees the same queue)."""
        return await self.sync(read_queue, self.db)

    async def ready(self) -> Readiness:
        """Database reachable, schema current, writer alive, queue moving."""
        return await self.sync(self._ready)

    def _ready(self) -> Readiness:
        checks: dict[str, str] = {}
        checks["writer"] = "ok" if self._writer.alive else "the writer thread is not running"
        try:
            with self.db.connect() as conn:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            checks["database"] = "ok"
            checks["schema"] = (
                "ok"
                if revision == SCHEMA_HEAD
                else f"schema at {revision}, this code needs {SCHEMA_HEAD}: run maillon migrate"
            )
            age = read_queue(self.db).oldest_due_age
            checks["queue"] = (
                "ok"
                if age <= self._max_age
                else f"the oldest due run has waited {age:.0f}s (more than {self._max_age:g}s): "
                "are workers running?"
            )
        except SQLAlchemyError as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        return Readiness(checks)

    async def scrape(self, authorization: str | None) -> tuple[bytes, str]:
        """The metrics text and its content type, for a caller with the metrics token.

        Raises :class:`NotFound` when metrics are not served over the app (off, or on a port
        of their own) and :class:`Unauthenticated` for a wrong or missing token.
        """
        if self._token is None or not self._metrics.enabled:
            raise NotFound("metrics are served only with MAILLON_METRICS_TOKEN set")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self._token
        ):
            raise Unauthenticated("send the metrics token: Authorization: Bearer <token>")
        return await self.sync(self._metrics.render)
