"""io.tasks: a device task that dies is started again with backoff; cancellation still stops it."""

from __future__ import annotations

import logging
from itertools import pairwise

import pytest
import trio

from gridtonic.io import tasks
from gridtonic.io.tasks import Dropped, supervise


class Flaky:
    """A device task that reports started, then fails after ``alive`` s, ``fails`` times, then runs on."""

    def __init__(self, fails: int, alive: float = 0.0):
        self.fails = fails
        self.alive = alive
        self.starts: list[float] = []

    async def run(self, label: str, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        self.starts.append(trio.current_time())
        task_status.started(f"{label} {len(self.starts)}")
        await trio.sleep(self.alive)
        if len(self.starts) <= self.fails:
            raise KeyError(f"bug {len(self.starts)}")
        await trio.sleep_forever()


def restarts(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == tasks.__name__]


async def test_a_task_that_raises_restarts_with_backoff_one_line_each(autojump_clock, caplog):
    flaky, seen = Flaky(fails=8), []
    async with trio.open_nursery() as n:
        t0 = trio.current_time()
        first = await n.start(lambda task_status: supervise("pads", flaky.run, "unit", on_start=seen.append,
                                                           task_status=task_status))
        await trio.sleep(60)
        n.cancel_scope.cancel()
    assert first == "unit 1" and seen == [f"unit {i}" for i in range(1, 10)]
    gaps = [round(b - a, 6) for a, b in pairwise([t0, *flaky.starts])]
    assert gaps == [0, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    lines = restarts(caplog)
    assert len(lines) == 8
    assert lines[0].startswith("pads stopped (KeyError: 'bug 1' (test_tasks.py:")
    assert lines[0].endswith("); starting it again in 0.1 s") and lines[-1].endswith("again in 5 s")


async def test_backoff_starts_over_after_a_long_life(autojump_clock, caplog):
    flaky = Flaky(fails=3, alive=tasks.MOST)
    with trio.move_on_after(60):
        await supervise("crow", flaky.run, "x")
    gaps = [round(b - a - tasks.MOST, 6) for a, b in pairwise(flaky.starts)]
    assert gaps == [0.1, 0.1, 0.1]


async def test_cancellation_ends_it_while_running_and_while_backing_off(autojump_clock):
    for wait in (0.05, 0.15):  # during the task, then during the 0.1 s back-off after its death
        flaky = Flaky(fails=1, alive=0.1)
        with trio.move_on_after(wait) as scope:
            await supervise("midi", flaky.run, "x")
        assert scope.cancelled_caught and len(flaky.starts) == 1


async def test_an_error_before_the_first_start_is_the_callers(autojump_clock):
    async def broken(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        raise OSError("port in use")

    with pytest.raises(ExceptionGroup) as caught:
        async with trio.open_nursery() as n:
            await n.start(supervise, "web page", broken)
    assert caught.group_contains(OSError, match="port in use")


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
async def test_keyboard_interrupt_and_system_exit_pass_through(autojump_clock, exc):
    calls = []

    async def quits(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        calls.append(1)
        task_status.started()
        raise exc

    with pytest.raises(BaseExceptionGroup) as caught:
        await supervise("grid", quits)
    assert caught.group_contains(exc) and calls == [1]


def test_dropped_logs_the_first_second_fourth(caplog):
    caplog.set_level(logging.WARNING)
    drop = Dropped(logging.getLogger("gridtonic.test"), "MIDI in")
    for i in range(100):
        drop(f"message {i}")
    assert drop.count == 100
    assert [r.getMessage() for r in caplog.records] == [
        f"MIDI in: ignored message {n - 1} ({n} so far)" for n in (1, 2, 4, 8, 16, 32, 64)]
