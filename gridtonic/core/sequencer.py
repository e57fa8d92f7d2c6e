"""The step sequencer: the task that hands out hits ahead of the clock, and the transport.

Hits carry their *ideal* time from the clock, computed ahead of need (``LOOKAHEAD``); the engine
stamps each bundle with that time plus a fixed latency, so the loop's sleep precision never shows
in the audio. What plays is decided by a :class:`~gridtonic.core.playback.Playback` (lengths,
speeds, conditions, ratchets, nudges, locks, chains); a step with probability p plays when
``chance`` (a hash, not a random generator) is below p, so the same session plays the same hits
live and in an offline render.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import replace

import trio

from gridtonic.core.clock import Clock
from gridtonic.core.playback import STEP_BEATS, Hit, Playback, chance, step_beat
from gridtonic.core.session import Session

__all__ = ["LOOKAHEAD", "STEP_BEATS", "TICK", "Hit", "Sequencer", "chance", "hits_between", "step_beat"]

log = logging.getLogger(__name__)

LOOKAHEAD = 0.05  # s of hits computed ahead of the clock
TICK = 0.01  # s between scheduling passes


def _timed(hits: list[Hit], clock: Clock) -> list[Hit]:
    return [replace(h, time=clock.time_at(h.beat)) for h in hits]


def hits_between(session: Session, clock: Clock, b0: float, b1: float) -> list[Hit]:
    """All hits in [b0, b1) in time order of a playback started at beat 0 (what an offline render
    plays; a chain switches the patterns of a copy, never of ``session``)."""
    playback = Playback(copy.deepcopy(session) if session.chain else session)
    if b0 > 0.0:
        playback.hits(0.0, b0)
    return _timed(playback.hits(b0, b1), clock)


class Sequencer:
    """Transport state plus the scheduling loop; ``sinks`` receive every hit (engine, MIDI, crow…)."""

    def __init__(self, session: Session, clock: Clock, sinks: list[Callable[[Hit], None]] | None = None):
        self.session = session
        self.clock = clock
        self.sinks = sinks if sinks is not None else []
        self.listeners: list[Callable[[float | None], None]] = []  # told the start beat, or None on stop
        self.playing = False
        self._fill_held: set[int] = set()  # ids of the surfaces holding Elektron's FILL key
        self.playback = Playback(session)
        self._scheduled = 0.0  # beats up to which hits have been handed out
        self.failures = 0
        self._failures: dict[str, int] = {}

    @property
    def fill(self) -> bool:
        """FILL is on while any surface holds it (a page letting go leaves a grid's FILL on)."""
        return bool(self._fill_held)

    def hold_fill(self, holder: object, held: bool) -> None:
        """``holder`` (a surface) presses or lets go of FILL."""
        if held:
            self._fill_held.add(id(holder))
        else:
            self._fill_held.discard(id(holder))

    def start(self, beat: float = 0.0) -> None:
        """Start the transport at ``beat``; the first hit lands one tick from now."""
        now = trio.current_time()
        self.clock.restart(now + TICK, beat)
        self.play_from(beat)

    def play_from(self, beat: float) -> None:
        """Play from ``beat`` on the clock as it is (a MIDI master placed it); hits before it are skipped."""
        self._scheduled = beat
        self.playback = Playback(self.session, origin=min(beat, 0.0))
        self.playback.skip_to(beat)
        self.playing = True
        for listener in self.listeners:
            listener(beat)

    def stop(self) -> None:
        self.playing = False
        for listener in self.listeners:
            listener(None)

    def positions(self, now: float) -> list[int]:
        """Each track's position in its own pattern at trio time ``now``."""
        return self.playback.positions(self.clock.beat_at(now))

    def schedule(self, now: float) -> list[Hit]:
        """Hand out the hits due before ``now + LOOKAHEAD`` that were not handed out yet."""
        if not self.playing:
            return []
        horizon = self.clock.beat_at(now + LOOKAHEAD)
        if horizon <= self._scheduled:
            return []
        self.playback.fill = self.fill
        try:
            hits = _timed(self.playback.hits(self._scheduled, horizon), self.clock)
        except Exception:  # noqa: BLE001 - a bug in one step must not end the music: that span is lost
            self._failed("deciding the steps")
            hits = []
        self._scheduled = horizon
        for h in hits:
            for sink in self.sinks:
                try:
                    sink(h)
                except Exception:  # noqa: BLE001 - one output failing leaves the others playing
                    self._failed(f"an output ({getattr(sink, '__qualname__', sink)})")
        return hits

    def _failed(self, what: str) -> None:
        """Log the 1st, 2nd, 4th, 8th … failure of ``what`` with its traceback: a bug stays a
        handful of lines."""
        self.failures += 1
        n = self._failures[what] = self._failures.get(what, 0) + 1
        if n & (n - 1) == 0:
            log.exception("sequencer: %s failed (%d so far); playing on", what, n)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            self.schedule(trio.current_time())
            await trio.sleep(TICK)
