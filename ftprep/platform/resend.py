"""Re-sending a request that creates something (an upload, a billable job) without ever
creating it twice: after an unanswered attempt, look for what it would have created — for a
bounded time, since a server can store it after the client gave up — and re-send only when
nothing turned up."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ftprep.platform.client import Unanswered
from ftprep.platform.errors import MAX_WAIT

T = TypeVar("T")

# Seconds between the looks after an unanswered request: 7.5 s in all, then re-send.
SETTLE_DELAYS = (0.5, 1.0, 2.0, 4.0)


def look_before_resend(find: Callable[[], T | None], exc: Unanswered,
                       sleep: Callable[[float], None],
                       settle: tuple[float, ...] = SETTLE_DELAYS) -> T | None:
    """What the unanswered request created, if the server has it: looked for at once and,
    when the server may still store it (no answer, a gateway error), again after each
    `settle` delay."""
    found = find()
    if found is not None or not exc.may_land_late:
        return found
    for delay in settle:
        sleep(delay)
        found = find()
        if found is not None:
            return found
    return None


def resend_delay(exc: Unanswered, attempt: int) -> float | None:
    """How long to wait before attempt `attempt + 1`: the server's Retry-After when it gave
    one, else exponential backoff. None when it asks for longer than ftprep waits."""
    if exc.delay is not None and exc.delay >= 0:
        return exc.delay if exc.delay <= MAX_WAIT else None
    return min(0.5 * 2 ** (attempt - 1), 8.0)
