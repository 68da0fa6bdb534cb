"""Waiting on the cluster: a deadline, a poll interval, and readiness rules that can fail.

:func:`wait_ready` polls a :class:`~installer.cluster.readiness.Readiness` rule: it returns when
the rule is ready, raises :class:`ReadinessError` at once when the rule says the object failed
for good (waiting out ``--timeout`` would only hide the message), and raises
:class:`WaitTimeoutError` with the rule's last message when time runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from installer.cluster.readiness import Readiness
from installer.errors import ReadinessError, WaitTimeoutError

# Polls slow down to this: a pending 1 MB CRD read four times a second loads the very API
# server that is establishing it.
MAX_INTERVAL = 2.0


@dataclass(frozen=True)
class Clock:
    """Time as a wait sees it: a timeout, a first poll interval (growing by half each poll, up
    to MAX_INTERVAL), and the clock and sleep to use (tests pass simulated ones)."""

    timeout: float = 300.0
    interval: float = 0.25
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.monotonic


def wait_for(
    what: str, check: Callable[[], bool], timeout: float, interval: float, sleep: Callable[[float], None]
) -> None:
    """Poll ``check`` until it holds; WaitTimeoutError naming ``what`` after ``timeout`` seconds."""
    wait_ready(
        what,
        lambda: Readiness.ready("") if check() else Readiness.waiting(""),
        Clock(timeout, interval, sleep),
    )


def wait_ready(what: str, rule: Callable[[], Readiness], clock: Clock) -> Readiness:
    """Poll ``rule`` until ready; fail at once when it fails, or with its last word at the deadline."""
    deadline = clock.now() + clock.timeout
    interval = clock.interval
    while True:
        state = rule()
        if state.ok:
            return state
        if state.failing:
            raise ReadinessError(f"waiting for {what}: {state.message}")
        if clock.now() >= deadline:
            said = f" (last: {state.message})" if state.message else ""
            raise WaitTimeoutError(f"timed out after {clock.timeout:g}s waiting for {what}{said}")
        clock.sleep(min(interval, max(0.0, deadline - clock.now())))
        interval = min(max(interval, clock.interval) * 1.5, max(MAX_INTERVAL, clock.interval))
