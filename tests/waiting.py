"""Waiting in tests: poll a condition with a deadline, never sleep a guessed time.

A test that sleeps "long enough" for something to happen is slow when the machine is idle
and flaky when it is loaded; ``wait_for`` returns as soon as the condition holds and, when
it never does, fails naming what it waited for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], timeout: float = 30.0, what: str = "a condition", poll: float = 0.01
) -> T:
    """Poll ``predicate`` until it returns a true value (returned), or fail after ``timeout`` s.

    The timeout is a deadline for a failure only: a passing test waits no longer than the
    condition takes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)  # the polling interval, not a synchronization
