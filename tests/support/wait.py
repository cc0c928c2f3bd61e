"""Waiting for something a test can observe, with a deadline, instead of sleeping a guessed time.

A sleep long enough on an idle machine is too short on a loaded one (the test fails for
nothing), and one that checks that nothing happened proves only that it did not happen *yet*.
Tests wait for the state they need; to show that something did not happen, they first wait for
a later event that could only have come after it (see the held-runs tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_for"]

T = TypeVar("T")


def wait_for(
    check: Callable[[], T | None],
    timeout: float = 10,
    *,
    what: str | Callable[[], str] = "a condition",
) -> T:
    """Call ``check`` until it returns something truthy, and return that.

    Raises ``AssertionError`` naming ``what`` (a callable is asked at that moment, so that the
    message can say what was last seen) once ``timeout`` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout} s waiting for {described}")
        time.sleep(0.01)
