"""Device tasks that never end the performance: a bad message is dropped with a sparse log line
(:class:`Dropped`), and a task that dies anyway is started again, backing off (:func:`supervise`).

A grid, a Launchpad, a MIDI port, crow or the page is the outside world: a bug reached by one odd
message must cost that message, at worst the device for a moment, never the music.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import trio

log = logging.getLogger(__name__)

FIRST = 0.1  # s before the first restart; doubling up to MOST (and back to FIRST after MOST s alive)
MOST = 5.0


class Dropped:
    """Counts messages dropped from one source; logs the 1st, 2nd, 4th, 8th … so a flood stays quiet."""

    def __init__(self, logger: logging.Logger, source: str):
        self.logger = logger
        self.source = source
        self.count = 0

    def __call__(self, why: object) -> None:
        self.count += 1
        if self.count & (self.count - 1) == 0:
            self.logger.warning("%s: ignored %s (%d so far)", self.source, why, self.count)

    def raised(self, what: str, e: BaseException) -> None:
        """``what`` (the message, shortly) made a handler raise ``e``: a bug, dropped like bad input."""
        self(f"{what}: {failure(e)}")


def failure(e: BaseException) -> str:
    """``Type: message (file:line)`` of an unexpected exception, where it was raised: one line."""
    while isinstance(e, BaseExceptionGroup):
        e = e.exceptions[0]
    where = traceback.extract_tb(e.__traceback__)[-1:] if e.__traceback__ else []
    at = "".join(f" ({f.filename.rsplit('/', 1)[-1]}:{f.lineno})" for f in where)
    return f"{type(e).__name__}: {e}{at}"


async def supervise(name: str, task: Callable[..., Awaitable[Any]], *args: Any,
                    on_start: Callable[[Any], None] | None = None,
                    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
    """Run ``task(*args)`` (a trio task that reports started), starting it again whenever it dies
    of an ``Exception``, after FIRST s doubling to MOST, one log line each time; reports the
    task's first started value, and gives ``on_start`` every one. Until the first start, an error
    is the caller's (options that cannot work: one line from the CLI, not a retry loop).
    Cancellation, KeyboardInterrupt and SystemExit pass through."""
    delay, started = FIRST, False
    while True:
        since = trio.current_time()
        try:
            async with trio.open_nursery() as n:
                value = await n.start(task, *args)
                if on_start is not None:
                    on_start(value)
                if not started:
                    started = True
                    task_status.started(value)
            return  # it ended by itself
        except* Exception as group:
            if not started:
                raise
            if trio.current_time() - since >= MOST:
                delay = FIRST
            log.error("%s stopped (%s); starting it again in %g s", name, failure(group), delay)
        await trio.sleep(delay)
        delay = min(delay * 2, MOST)
