"""The step sequencer: which hits fall in a span of beats, and the task that schedules them ahead.

Hits carry their *ideal* time from the clock, computed ahead of need (``LOOKAHEAD``); the engine
stamps each bundle with that time plus a fixed latency, so the loop's sleep precision never shows
in the audio. Steps are 16ths; per-track swing delays the odd 16ths like the original's lattice.
A step with probability p plays when ``chance`` (a hash, not a random generator) is below p, so the
same session plays the same hits live and in an offline render.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import trio

from gridtonic.core.clock import Clock
from gridtonic.core.session import STEPS, Session, Track

STEP_BEATS = 0.25
LOOKAHEAD = 0.05  # s of hits computed ahead of the clock
TICK = 0.01  # s between scheduling passes
MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15  # splitmix64's increment: keeps seed 0, track 0, step 0 away from 0


@dataclass(frozen=True)
class Hit:
    time: float  # ideal trio time of the hit
    beat: float
    step: int  # absolute 16th count since the transport started
    track: int
    velocity: float


def step_beat(step: int, swing: float) -> float:
    """Beat of 16th number ``step``: odd 16ths move later with swing > 50 %."""
    pair, odd = divmod(step, 2)
    return pair * 2 * STEP_BEATS + odd * 2 * STEP_BEATS * swing / 100.0


def _mix(x: int) -> int:
    """splitmix64's finaliser: every input bit flips about half the output bits."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def chance(seed: int, track: int, step: int) -> float:
    """A uniform draw in [0, 1) that depends only on its arguments (no random state to share or
    reset): the same step of the same track in the same session always draws the same number."""
    x = 0
    for part in (seed, track, step):
        x = _mix(((x ^ part) + GOLDEN) & MASK64)
    return (x >> 11) / 2.0**53


def track_hits(track: Track, index: int, b0: float, b1: float,
               seed: int) -> Iterable[tuple[float, int, float]]:
    """(beat, step, velocity) of ``track`` (number ``index``)'s hits with b0 <= beat < b1: its set steps
    that pass their probability draw."""
    if track.mute:
        return
    first = max(0, math.floor(b0 / STEP_BEATS) - 2)
    last = math.ceil(b1 / STEP_BEATS) + 1
    for n in range(first, last):
        b = step_beat(n, track.swing)
        pos = n % STEPS
        if b0 <= b < b1 and track.steps[pos] and chance(seed, index, n) < track.probability[pos]:
            yield b, n, track.velocity[pos]


def hits_between(session: Session, clock: Clock, b0: float, b1: float) -> list[Hit]:
    """All hits in [b0, b1) in time order."""
    hits = [
        Hit(clock.time_at(b), b, n, i, v)
        for i, t in enumerate(session.tracks)
        for b, n, v in track_hits(t, i, b0, b1, session.seed)
    ]
    hits.sort(key=lambda h: (h.beat, h.track))
    return hits


class Sequencer:
    """Transport state plus the scheduling loop; ``sinks`` receive every hit (engine, MIDI, crow…)."""

    def __init__(self, session: Session, clock: Clock, sinks: list[Callable[[Hit], None]] | None = None):
        self.session = session
        self.clock = clock
        self.sinks = sinks if sinks is not None else []
        self.listeners: list[Callable[[float | None], None]] = []  # told the start beat, or None on stop
        self.playing = False
        self._scheduled = 0.0  # beats up to which hits have been handed out

    def start(self, beat: float = 0.0) -> None:
        """Start the transport at ``beat``; the first hit lands one tick from now."""
        now = trio.current_time()
        self.clock.restart(now + TICK, beat)
        self.play_from(beat)

    def play_from(self, beat: float) -> None:
        """Play from ``beat`` on the clock as it is (a MIDI master placed it); hits before it are skipped."""
        self._scheduled = beat
        self.playing = True
        for listener in self.listeners:
            listener(beat)

    def stop(self) -> None:
        self.playing = False
        for listener in self.listeners:
            listener(None)

    def step_now(self) -> int:
        """The 16th under the playhead (for displays)."""
        return max(0, math.floor(self.clock.beat_at(trio.current_time()) / STEP_BEATS))

    def schedule(self, now: float) -> list[Hit]:
        """Hand out the hits due before ``now + LOOKAHEAD`` that were not handed out yet."""
        if not self.playing:
            return []
        horizon = self.clock.beat_at(now + LOOKAHEAD)
        if horizon <= self._scheduled:
            return []
        hits = hits_between(self.session, self.clock, self._scheduled, horizon)
        self._scheduled = horizon
        for h in hits:
            for sink in self.sinks:
                sink(h)
        return hits

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            self.schedule(trio.current_time())
            await trio.sleep(TICK)
