"""One writer thread that commits many operations per transaction (group commit).

Every durable change on the hot paths (accepting a delivery, claiming runs, recording a step)
is an :class:`Op` handed to the :class:`Writer`. The writer drains whatever is waiting, applies it
in **one** transaction and commits once, then answers every caller. With ``synchronous=FULL`` an
fsync costs the same for one row as for a hundred, so throughput grows with load while each
caller still gets its answer only after its data is on disk.

Ops of the same class that arrive together are applied by ``apply_many``; the default applies
each in its own SAVEPOINT so that one failing op (a constraint violation) does not undo the others.
A batched ``apply_many`` that raises is undone and its ops applied one by one, the same way.
A batch of a single op is applied with ``apply`` and no savepoint: if it fails, the transaction
is rolled back instead.

Some errors end the transaction itself, not a statement: SQLite rolls all of it back on a full
disk or an I/O error. Going on op by op would then write outside any transaction, each op
committed on its own, and answer success for ops already undone: when a savepoint cannot be
rolled back, :class:`TransactionLost` fails the whole batch instead.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

from maillon.engine.db import for_writes, write_turns
from maillon.engine.metrics import Metrics

__all__ = ["Op", "TransactionLost", "Writer", "WriterStopped", "in_savepoint", "one_by_one"]

log = logging.getLogger(__name__)
T = TypeVar("T")
OpT = TypeVar("OpT")

#: Seconds between two attempts to connect when the database refuses: the first, and the most
#: (doubling in between).
_RECONNECT_DELAYS = (0.5, 5.0)


class WriterStopped(RuntimeError):
    """The writer is not running (shutting down): nothing was written."""


class TransactionLost(RuntimeError):
    """The batch's transaction is gone (a savepoint could not be undone): nothing of the batch
    was written, and nothing more may be written in it."""


class Op(Generic[T]):
    """A unit of durable work. Subclasses implement :meth:`apply`."""

    def apply(self, conn: Connection) -> T:
        """Apply this op inside the writer's open transaction and return its result."""
        raise NotImplementedError

    @classmethod
    def apply_many(cls, conn: Connection, ops: list[Op[Any]]) -> list[Any]:
        """Apply several ops of this class; return one result or exception per op, in order.

        Override to batch (one multi-row statement instead of one per op); an override that
        raises is undone, and its ops applied one by one.
        """
        return _each_alone(conn, ops)


def _each_alone(conn: Connection, ops: list[Op[Any]]) -> list[Any]:
    """Each op's ``apply``, in a savepoint of its own (:func:`one_by_one`)."""
    return one_by_one(conn, ops, lambda op: op.apply(conn))


def in_savepoint(conn: Connection, apply: Callable[[], T]) -> T:
    """``apply()`` in a savepoint: undone if it raises, and the error raised again.

    Raises :class:`TransactionLost` when the savepoint cannot be undone (nor released): the
    transaction around it is gone.
    """
    savepoint = conn.begin_nested()
    try:
        result = apply()
    except Exception as error:
        try:
            savepoint.rollback()
        except Exception:
            raise TransactionLost(f"the transaction was lost: {error}") from error
        raise
    try:
        savepoint.commit()
    except Exception as exc:
        raise TransactionLost(f"the transaction was lost: {exc}") from exc
    return result


def one_by_one(conn: Connection, ops: list[OpT], apply: Callable[[OpT], Any]) -> list[Any]:
    """``apply(op)`` for each op in a savepoint of its own: the result, or the exception of an
    op that failed, which leaves the others applied. :class:`TransactionLost` fails them all."""
    results: list[Any] = []
    for op in ops:
        try:
            results.append(in_savepoint(conn, partial(apply, op)))
        except TransactionLost:
            raise
        except Exception as exc:
            results.append(exc)
    return results


def _batches(cls: type[Op[Any]]) -> bool:
    """Whether ``cls`` applies a batch its own way (overrides :meth:`Op.apply_many`)."""
    return any("apply_many" in vars(k) for k in cls.__mro__ if k is not Op)


def _apply_group(conn: Connection, cls: type[Op[Any]], ops: list[Op[Any]]) -> list[Any]:
    """``cls.apply_many`` of ``ops``; if it raises instead of answering each op (one op it did
    not foresee), its writes are undone and each op is applied on its own, so that the op at
    fault fails alone rather than every op of the batch (deliveries of other senders among
    them)."""
    if not _batches(cls):
        return cls.apply_many(conn, ops)  # one by one already
    if len(ops) == 1:
        # In a savepoint still: a lone op of its class fails alone, not the batch's others.
        return _each_alone(conn, ops)
    try:
        return in_savepoint(conn, lambda: cls.apply_many(conn, ops))
    except TransactionLost:
        raise
    except Exception:
        log.exception("a batch of %d %s failed: applied one by one", len(ops), cls.__name__)
        return _each_alone(conn, ops)


class _Pending:
    """A submitted op and where its answer goes: an asyncio future (with its loop) or a
    ``concurrent.futures.Future`` (``loop`` is ``None``)."""

    __slots__ = ("future", "loop", "op")

    def __init__(
        self,
        op: Op[Any],
        future: asyncio.Future[Any] | Future[Any],
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.op = op
        self.future = future
        self.loop = loop


class Writer:
    """Owns the write connection; callers submit ops and await their committed results."""

    def __init__(
        self, engine: Engine, *, max_batch: int = 512, metrics: Metrics | None = None
    ) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._metrics = metrics or Metrics()
        # A SimpleQueue (in C) rather than a Condition over a deque: a put costs the event loop
        # a fraction of what a Condition's notify does. ``None`` asks the thread to stop.
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # orders submissions against stop()
        self._thread: threading.Thread | None = None
        self._stopping = False
        #: Batches committed, for benchmarks and diagnostics.
        self.commits = 0

    @property
    def alive(self) -> bool:
        """Whether the thread is running and taking work (not stopped, nor stopping)."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stopping

    def start(self) -> None:
        """Start the writer thread."""
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="maillon-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish what was submitted, then stop the thread."""
        with self._lock:
            if not self._stopping and self._thread is not None:
                self._stopping = True
                self._queue.put(None)
            thread = self._thread
        # Every caller waits for the end, a second one included.
        if thread is not None:
            thread.join()
            self._thread = None

    def _enqueue(self, pending: _Pending) -> None:
        with self._lock:
            if self._stopping or self._thread is None:
                raise WriterStopped("the writer is not running")
            self._queue.put(pending)

    async def submit(self, op: Op[T]) -> T:
        """Apply ``op`` and return its result once committed (from an asyncio task)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._enqueue(_Pending(op, fut, loop))
        return await fut

    def submit_sync(self, op: Op[T]) -> T:
        """Apply ``op`` and return its committed result (from a plain thread)."""
        fut: Future[T] = Future()
        self._enqueue(_Pending(op, fut, None))
        return fut.result()

    def _more(self, batch: list[_Pending]) -> bool:
        """Add what is waiting to ``batch`` (up to a full batch); return whether to stop after."""
        while len(batch) < self._max_batch:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                break
            if pending is None:
                return True
            batch.append(pending)
        return False

    def _loop(self) -> None:
        turn = write_turns(self._engine)
        delay = _RECONNECT_DELAYS[0]
        while True:
            try:
                with for_writes(self._engine).connect() as conn:
                    delay = _RECONNECT_DELAYS[0]
                    self._serve(conn, turn)
                return
            except Exception as exc:
                # The database refused the connection (a PostgreSQL server restarting or out of
                # connections, a data directory gone). Whoever waits is told so, and the writer
                # tries again: a thread that died here left every later submission waiting for
                # ever, in a process that looked alive.
                if self._refuse_waiting(exc) or self._stopping:
                    return
                log.exception("the writer cannot reach the database; trying again in %g s", delay)
                time.sleep(delay)
                delay = min(delay * 2, _RECONNECT_DELAYS[1])

    def _serve(self, conn: Connection, turn: AbstractContextManager[None]) -> None:
        """Apply batches on ``conn`` until asked to stop."""
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            stop = self._run_batch(conn, [first], turn)

    def _refuse_waiting(self, exc: Exception) -> bool:
        """Answer every op waiting with ``exc``; return whether a stop was asked for."""
        while True:
            waiting: list[_Pending] = []
            stop = self._more(waiting)
            _answer(waiting, [exc] * len(waiting))
            if stop or len(waiting) < self._max_batch:
                return stop

    def _run_batch(
        self, conn: Connection, batch: list[_Pending], turn: AbstractContextManager[None]
    ) -> bool:
        """Apply and commit ``batch`` and what joins it; return whether to stop after it."""
        stop = False
        try:
            with turn:
                # What was submitted while this process waited for its turn (other processes
                # writing to the same file) joins the batch: under contention, fewer and
                # larger transactions rather than one wait per small batch.
                stop = self._more(batch)
                results: list[Any] = [None] * len(batch)
                started = time.perf_counter()
                with conn.begin() as tx:
                    if len(batch) == 1:
                        # A lone op needs no savepoint: if it fails, rolling back the
                        # transaction undoes it and nothing else. Under light load most batches
                        # are a single op, and the SAVEPOINT/RELEASE pair was a large share of
                        # their statements.
                        try:
                            results[0] = batch[0].op.apply(conn)
                        except Exception as exc:
                            results[0] = exc
                            tx.rollback()
                    else:
                        for cls, indexes in _group(batch):
                            ops = [batch[i].op for i in indexes]
                            out = _apply_group(conn, cls, ops)
                            for i, r in zip(indexes, out, strict=True):
                                results[i] = r
            self.commits += 1
        except Exception as exc:
            # The commit failed (disk full, database gone): nobody may believe their op landed.
            log.exception("write batch of %d failed", len(batch))
            results = [exc] * len(batch)
        else:
            self._metrics.batch(len(batch), time.perf_counter() - started)
        _answer(batch, results)
        return stop


def _group(batch: list[_Pending]) -> list[tuple[type[Op[Any]], list[int]]]:
    """Indexes of the batch grouped by op class, in order of first appearance."""
    groups: dict[type[Op[Any]], list[int]] = {}
    for i, pending in enumerate(batch):
        groups.setdefault(type(pending.op), []).append(i)
    return list(groups.items())


def _answer(batch: list[_Pending], results: list[Any]) -> None:
    """Hand each caller its result (an exception instance means the op failed).

    Futures of one event loop are settled by a single callback: one cross-thread wake-up of
    that loop per batch rather than one per op, which under load is fewer GIL hand-offs
    between this thread and the loop's.
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for pending, result in zip(batch, results, strict=True):
        if pending.loop is None:
            sync: Future[Any] = pending.future  # type: ignore[assignment]
            if isinstance(result, BaseException):
                sync.set_exception(result)
            else:
                sync.set_result(result)
        else:
            by_loop.setdefault(pending.loop, []).append((pending.future, result))  # type: ignore[arg-type]
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, answers)
        except RuntimeError:
            log.warning("%d answers dropped: their event loop is closed", len(answers))


def _settle(answers: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for fut, result in answers:
        if fut.cancelled():
            continue
        if isinstance(result, BaseException):
            fut.set_exception(result)
        else:
            fut.set_result(result)
