"""The worker processes of ``maillon serve``: started, woken, restarted after a crash, stopped.

Why processes: one Python process runs its Python on one core at a time. With intake, template
rendering, the actions' HTTP calls and the group commits all in the web process, the other cores
of the machine stayed idle while runs queued up. So ``maillon serve`` takes the webhooks (and
commits them) in its own process and executes runs in ``worker_processes`` children, each a
``maillon worker`` with its own writer thread that group-commits what that process writes
(claims, steps). They share the queue (the runs table) as the processes of a PostgreSQL fleet
do; on SQLite their write transactions take turns (``BEGIN IMMEDIATE`` and a busy timeout,
:mod:`maillon.engine.db`), each short: a claim, a batch of step records.

Wake-ups: each child gets one end of a ``SOCK_SEQPACKET`` socket pair. After a commit that
queued runs, the web process sends a byte to each child (:meth:`Supervisor.notify`, a relay of
its :class:`~maillon.engine.wakeup.Wakeup`); a byte that does not fit (the child has not read
the previous ones yet) is dropped, as that child is due to look at the queue anyway. The
workers' poll stays as the safety net. The same socket tells a child that its parent has gone
(end of file, even after a SIGKILL): it then stops as after SIGTERM, finishing its runs.

Memory: the first children are forked from ``serve`` itself, before it starts a thread, rather
than started as new interpreters. A new interpreter imports the whole stack again (~70 MB of its
own); a forked child shares the pages of what ``serve`` imported until one side writes to them.
What exists at the fork is frozen first (:func:`gc.freeze`), so that neither side's garbage
collections walk those objects and copy the pages they live on. A process with threads must not
fork (another thread may hold a lock that the child then never sees released), so a child
started again later is a new interpreter running ``argv``.

A child that exits while ``serve`` runs is started again, after a delay that doubles with each
crash in a row (a child that crashes at once must not spin a core), and the runs it held are
taken over by the other workers when their leases expire (:mod:`maillon.engine.queue`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["SUPPORTED", "WAKE_FD_VARIABLE", "Supervisor", "listen_for_wakeups"]

log = logging.getLogger(__name__)


def _seqpacket_pairs() -> bool:
    """Whether this system makes the wake-up sockets' pairs. Tried, not inferred from the
    constant: macOS defines ``SOCK_SEQPACKET`` but refuses it for Unix sockets, and Windows
    has no Unix socket pairs."""
    try:
        pair = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except (AttributeError, OSError):
        return False
    for end in pair:
        end.close()
    return True


#: Whether worker processes can be started here; where not, ``maillon serve`` executes runs in
#: its own process.
SUPPORTED = _seqpacket_pairs()

#: Whether children may be forked rather than started as new interpreters: on macOS, system
#: frameworks that some modules load do not survive a fork without exec (Python's
#: multiprocessing starts new interpreters there for that reason).
_FORK_SAFE = sys.platform == "linux"

#: The environment variable that gives a worker process the descriptor of its wake-up socket.
WAKE_FD_VARIABLE = "MAILLON_WAKE_FD"


class _Forked:
    """A child forked from this process, with the part of :class:`subprocess.Popen`'s interface
    that the supervisor uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else: its status is lost
                self.returncode = 255
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
            time.sleep(0.02)
        return code

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


@dataclass
class _Child:
    """One slot of the pool: its process (when running) and the parent's end of its socket."""

    index: int
    proc: subprocess.Popen[bytes] | _Forked | None = None
    sock: socket.socket | None = None
    started: float = 0.0
    #: Crashes in a row (a child that ran long enough before exiting resets it).
    crashes: int = 0
    #: When to start this slot again (monotonic), after a crash.
    restart_at: float | None = None


class Supervisor:
    """Keeps ``count`` worker processes running ``argv`` until :meth:`stop`.

    ``env``: their environment (the parent's, with what the command line changed).
    ``fork``: what a child forked from this process runs, the same as ``argv`` does (it may
    raise :class:`SystemExit`); given, the children that :meth:`start` starts on Linux while this
    process has one thread are forked (see the module's docstring).
    ``first_delay`` and ``max_delay``: the backoff before restarting a crashed child;
    ``stable_after``: seconds a child must have run for its exit not to count as a crash in a row.
    """

    def __init__(
        self,
        argv: Sequence[str],
        count: int,
        env: dict[str, str],
        *,
        first_delay: float = 0.5,
        max_delay: float = 30.0,
        stable_after: float = 30.0,
        check_interval: float = 0.2,
        fork: Callable[[], object] | None = None,
    ) -> None:
        self._argv = list(argv)
        self._fork = fork
        self._env = env
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._stable_after = stable_after
        self._check_interval = check_interval
        self._children = [_Child(i) for i in range(count)]
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # orders restarts against stop()
        # Held while sending wake-ups and while closing a socket: a descriptor closed by the
        # watcher during a send could be reused by the next socket pair before the send.
        self._sockets = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start every child, and the thread that watches them."""
        fork = self._fork is not None and _FORK_SAFE and threading.active_count() == 1
        if fork:
            # Collected, then frozen: the children inherit no garbage, and the collections of
            # either side no longer touch (and so copy) the pages they share.
            gc.collect()
            gc.freeze()
            # What sits in these buffers would otherwise be written once more by each child.
            sys.stdout.flush()
            sys.stderr.flush()
        with self._lock:
            for child in self._children:
                self._spawn(child, fork=fork)
        self._thread = threading.Thread(target=self._watch, name="maillon-supervisor", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Wake every child's workers (never blocks; see the module's docstring)."""
        with self._sockets:
            for child in self._children:
                sock = child.sock
                if sock is None:
                    continue
                # Full (a wake-up is pending already), or the child is gone (restarted soon).
                with contextlib.suppress(OSError):
                    sock.send(b"w")

    def stop(self, timeout: float) -> None:
        """Ask every child to stop (SIGTERM: they finish the runs in progress), wait up to
        ``timeout`` seconds, then kill those still running."""
        with self._lock:
            self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        running = [c.proc for c in self._children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker process %d did not stop in %.0f s: killed", proc.pid, timeout)
                proc.kill()
                proc.wait()
        for child in self._children:
            self._close(child)

    def _spawn(self, child: _Child, *, fork: bool = False) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        env = {**self._env, WAKE_FD_VARIABLE: str(theirs.fileno())}
        # A session of its own: Ctrl-C in a terminal reaches `serve` only, which then stops its
        # children in order (after the web server has stopped taking webhooks).
        proc: subprocess.Popen[bytes] | _Forked
        try:
            if fork:
                proc = _Forked(self._fork_child(env, ours))
            else:
                proc = subprocess.Popen(  # noqa: S603 (our own interpreter and command)
                    self._argv, env=env, pass_fds=(theirs.fileno(),), start_new_session=True
                )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self._close(child)
        child.proc, child.sock = proc, ours
        child.started = time.monotonic()
        child.restart_at = None
        log.info("worker process %d started (pid %d)", child.index, proc.pid)

    def _close(self, child: _Child) -> None:
        with self._sockets:
            sock, child.sock = child.sock, None
            if sock is not None:
                sock.close()

    def _fork_child(self, env: dict[str, str], ours: socket.socket) -> int:
        """Fork a child that runs ``fork`` with ``env``; its pid (in this process)."""
        assert self._fork is not None
        pid = os.fork()
        if pid:
            return pid
        status = 1
        try:
            # The parent's ends of the sockets: a child holding its sibling's would keep that
            # sibling from seeing end of file when the parent dies, until it exits itself.
            ours.close()
            for other in self._children:
                self._close(other)
            os.setsid()
            os.environ.clear()
            os.environ.update(env)
            self._fork()
            status = 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:
            log.exception("worker process failed")
        finally:
            # Never back into the parent's code (its stack is this child's too), nor its exit
            # handlers: not even when flushing fails (standard output a closed pipe).
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(BaseException):
                    stream.flush()
            os._exit(status)

    def _watch(self) -> None:
        while not self._stopping.wait(self._check_interval):
            now = time.monotonic()
            for child in self._children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        with self._lock:
                            if self._stopping.is_set():
                                return
                            try:
                                self._spawn(child)
                            except OSError:
                                # Out of processes, memory or descriptors for now: this thread
                                # must live on to try again, or the child would never return.
                                log.exception(
                                    "could not start worker process %d; trying again in %.0f s",
                                    child.index,
                                    self._max_delay,
                                )
                                child.restart_at = now + self._max_delay
                    continue
                proc = child.proc
                if proc is None or (returncode := proc.poll()) is None:
                    continue
                lived = now - child.started
                child.crashes = 1 if lived >= self._stable_after else child.crashes + 1
                delay = min(self._max_delay, self._first_delay * 2 ** (child.crashes - 1))
                log.warning(
                    "worker process %d (pid %d) exited with %s after %.0f s; starting it again "
                    "in %.1f s (its runs are taken over when their leases expire)",
                    child.index,
                    proc.pid,
                    _describe(returncode),
                    lived,
                    delay,
                )
                self._close(child)
                child.restart_at = now + delay


def _describe(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-returncode).name
    return f"status {returncode}"


def listen_for_wakeups(wake: Callable[[], None], gone: Callable[[], None]) -> bool:
    """In a worker process started by a :class:`Supervisor`, call ``wake`` whenever the parent
    says runs were queued, and ``gone`` once if the parent goes away; in the running event loop.

    Returns whether this process has such a parent (``False``: nothing to listen to).
    """
    fd = os.environ.pop(WAKE_FD_VARIABLE, None)
    if fd is None:
        return False
    sock = socket.socket(fileno=int(fd))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        woken = False
        while True:
            try:
                data = sock.recv(64)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:  # the parent closed its end, or died
                loop.remove_reader(sock)
                sock.close()
                gone()
                return
            woken = True
        if woken:
            wake()

    loop.add_reader(sock, readable)
    return True
