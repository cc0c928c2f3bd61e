"""What the engine counts for ``/metrics``, in Prometheus' text format (the official client).

The engine reports what happens through one object, whose methods are called where it happens:
intake (deliveries accepted, and refused by reason), the executor (each step's duration by
action, retries, each run's final status) and the writer (each batch's size and commit time).
The queue's depth and the age of its oldest due run are read from the database when scraped.

Metrics are off unless an operator asks for them (``MAILLON_METRICS_TOKEN`` or
``MAILLON_METRICS_PORT``): then :class:`Metrics` itself, whose methods do nothing, is used, and
``prometheus_client`` is never imported. On, :class:`PrometheusMetrics` keeps its own registry,
so that several engines in one process (tests) never share or collide.

On the hot path a report is one increment of a child metric resolved in advance, or one
histogram observation per writer batch (not per delivery).

``maillon serve`` executes runs in worker processes of its own: their counts reach its
``/metrics`` through prometheus_client's multiprocess mode (:func:`share_between_processes`),
each process writing its values to files in one directory that a scrape adds up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

__all__ = ["Metrics", "PrometheusMetrics", "QueueState", "Refusal", "share_between_processes"]

#: prometheus_client's switch to its multiprocess mode: the directory of the values' files.
SHARED_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def share_between_processes(directory: Path) -> None:
    """Count in files under ``directory``, for this process and the children it starts, so
    that a scrape of this process adds up the counts of all (call before any metric exists).

    The files of a previous start are removed: counters start again from zero with the process,
    as Prometheus expects of a restart.
    """
    from maillon.engine.settings import make_private_dir

    make_private_dir(directory)
    for old in directory.glob("*.db"):
        old.unlink()
    os.environ[SHARED_DIR_VARIABLE] = str(directory)


class Refusal:
    """Why a delivery was refused (the ``reason`` label of refused deliveries)."""

    UNKNOWN_HOOK = "unknown_hook"
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    INVALID = "invalid"
    SIGNATURE = "signature"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    ALL = (
        UNKNOWN_HOOK,
        MALFORMED,
        TOO_LARGE,
        UNSUPPORTED_TYPE,
        INVALID,
        SIGNATURE,
        RATE_LIMITED,
        UNAVAILABLE,
    )


@dataclass(frozen=True)
class QueueState:
    """The queue as a scrape sees it."""

    #: Runs waiting (due now or later, for a retry).
    queued: int
    #: Seconds the oldest due run has waited to be claimed (0 with none).
    oldest_due_age: float


class Metrics:
    """The engine's reports; this base does nothing (metrics off)."""

    enabled = False

    def delivered(self, status: str) -> None:
        """A delivery was committed, with its :attr:`~maillon.engine.intake.Accepted.status`."""

    def refused(self, reason: str) -> None:
        """A delivery was refused; ``reason`` is one of :class:`Refusal`."""

    def step(self, action: str, seconds: float, status: str) -> None:
        """A step of ``action`` ended (``succeeded``, ``retrying`` or ``failed``)."""

    def run_finished(self, status: str, count: int = 1) -> None:
        """``count`` runs reached their final status (several when cancelled together)."""

    def batch(self, size: int, seconds: float) -> None:
        """The writer committed a batch of ``size`` ops in ``seconds``."""

    def render(self) -> tuple[bytes, str]:
        """The text to answer a scrape with, and its content type."""
        raise LookupError("metrics are off")


# Buckets in seconds: steps call remote APIs (milliseconds to a timeout); commits are fsyncs.
_STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class PrometheusMetrics(Metrics):
    """Metrics kept in a registry of this engine's own; ``queue`` reads the queue at scrape."""

    enabled = True

    def __init__(self, queue: Callable[[], QueueState]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        #: What a scrape reads.
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        shared = os.environ.get(SHARED_DIR_VARIABLE)
        if shared is not None:
            from prometheus_client.multiprocess import MultiProcessCollector

            # The values of every process, this one's included, come from the files: this
            # process's metrics are declared apart, or a scrape would count them twice.
            MultiProcessCollector(self.registry, path=shared)  # type: ignore[no-untyped-call]
            r = CollectorRegistry()
        deliveries = Counter(
            "maillon_deliveries", "Deliveries stored, by status.", ["status"], registry=r
        )
        self._delivered = {
            s: deliveries.labels(s) for s in ("queued", "held", "duplicate", "stored")
        }
        refused = Counter(
            "maillon_deliveries_refused", "Deliveries refused, by reason.", ["reason"], registry=r
        )
        self._refused = {reason: refused.labels(reason) for reason in Refusal.ALL}
        self._runs = Counter(
            "maillon_runs_finished", "Runs finished, by final status.", ["status"], registry=r
        )
        self._steps = Histogram(
            "maillon_step_duration_seconds",
            "Time each step attempt took, by action.",
            ["action"],
            buckets=_STEP_BUCKETS,
            registry=r,
        )
        self._retries = Counter(
            "maillon_step_retries",
            "Step attempts that will be retried, by action.",
            ["action"],
            registry=r,
        )
        self._batch_size = Histogram(
            "maillon_writer_batch_size",
            "Ops per writer transaction.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self._commit = Histogram(
            "maillon_writer_commit_seconds",
            "Time a writer transaction took, commit included.",
            buckets=_COMMIT_BUCKETS,
            registry=r,
        )
        self.registry.register(_QueueCollector(queue))

    def delivered(self, status: str) -> None:
        self._delivered[status].inc()

    def refused(self, reason: str) -> None:
        self._refused[reason].inc()

    def step(self, action: str, seconds: float, status: str) -> None:
        self._steps.labels(action).observe(seconds)
        if status == "retrying":
            self._retries.labels(action).inc()

    def run_finished(self, status: str, count: int = 1) -> None:
        self._runs.labels(status).inc(count)

    def batch(self, size: int, seconds: float) -> None:
        self._batch_size.observe(size)
        self._commit.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _QueueCollector:
    """Gauges read from the database at each scrape, rather than kept up to date by every
    process (with several processes on one database, no one process knows the queue)."""

    def __init__(self, read: Callable[[], QueueState]) -> None:
        self._read = read

    def describe(self) -> list[Any]:
        # Described without reading: registering must not touch the database.
        return []

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        state = self._read()
        yield GaugeMetricFamily(
            "maillon_queue_depth",
            "Runs queued (due, waiting to retry, or held by a delay step).",
            value=state.queued,
        )
        yield GaugeMetricFamily(
            "maillon_queue_oldest_due_seconds",
            "How long the oldest due run has waited to be claimed.",
            value=state.oldest_due_age,
        )
