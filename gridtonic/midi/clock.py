"""Following an external MIDI clock: the master's 24 ticks a beat and transport as a :class:`Clock`.

norns snaps the beat to every raw tick, so USB jitter goes straight into the groove. Here a DLL
(:mod:`gridtonic.core.dll`) smooths the tick times and the beat is extrapolated from the smoothed line,
so the sequencer schedules ahead exactly as with the internal clock. The tick *count* comes from
the master (Start, Continue, Song Position Pointer), so the phase stays on its downbeat.

Pure: every method takes the arrival time; :mod:`gridtonic.midi.inport` feeds it from a port.
"""

from __future__ import annotations

import logging
import math

from gridtonic.core.dll import LOCKED_BW, Dll, Lock

log = logging.getLogger(__name__)

PPQN = 24
SPP_TICKS = 6  # a Song Position Pointer counts 16ths ("MIDI beats") of six ticks
DROPOUT = 4.0  # a gap longer than this many ticks resets the loop and is judged by :class:`Gap`
NORMAL = 0.5  # of a period: an interval this close to it is at the master's rate (a burst's are ~0)
SETTLED = 2  # normal intervals in a row after a gap before it is judged (one could be mid-burst)
ERROR_LIMIT = 0.25  # of a period: a tick held up longer (a system stall) pulls the loop no further
MIN_PERIOD, MAX_PERIOD = 60.0 / (PPQN * 400.0), 60.0 / (PPQN * 15.0)  # s per tick at 400 and 15 BPM
HOLD = 4.0  # ticks the beat runs on past the last tick (a flywheel) before it holds


class Gap:
    """How many ticks a dropout lost. A stall delays bytes and then delivers them in a burst:
    every tick counts once. A loss (a cable pulled, a port reopened) leaves a gap and then ticks
    at the normal rate: the song position must jump over the missing ones, or the beat stays
    behind the master for good. Judged once the rate is back (``SETTLED`` normal intervals in a
    row, so the middle of a burst is never mistaken for it): the ticks the time since the last
    tick before the gap holds at the old period, minus those received. That is round(gap /
    period) − 1 for a plain loss, 0 after a stall and a burst, and the rest when both happened."""

    def __init__(self, last: float, period: float):
        self.last = last  # raw arrival of the last tick before the gap
        self.period = period  # the smoothed period before it
        self.received = 1  # the tick after the gap
        self.normal = 0

    def judge(self, t: float, interval: float) -> int | None:
        """The tick at ``t``, ``interval`` after the one before; the lost ticks once judged, else None."""
        self.received += 1
        self.normal = self.normal + 1 if abs(interval - self.period) <= NORMAL * self.period else 0
        if self.normal < SETTLED:
            return None
        return max(0, round((t - self.last) / self.period) - self.received)


class MidiClock:
    """Beat ↔ time from received ticks. ``tick``/``start``/``resume``/``stop``/``song_position``
    are the master's messages; ``tick`` returns the beat to play from when playback (re)starts on
    that tick (after Start, Continue or a Song Position Pointer while playing, or the jump over
    ticks lost in a dropout), else None."""

    def __init__(self, tempo: float = 120.0):
        self.tempo = float(tempo)
        self.running = False
        self._dll: Dll | None = None
        self._lock = Lock()
        self._last: float | None = None  # raw arrival of the last tick (None: re-anchor on the next)
        self._measured = False  # whether the period comes from ticks (not from the initial tempo)
        self._tick = 0  # song position of the last tick, in ticks
        self._next: int | None = None  # position the next tick takes when playback (re)starts
        self._song = 0  # where Continue resumes, in ticks
        self._gap: Gap | None = None  # a dropout not judged yet

    @property
    def locked(self) -> bool:
        return self._dll is not None and self._lock.locked

    @property
    def settled(self) -> bool:
        """Locked with the bandwidth fully narrowed (2-2.5 s after a lock or a tempo change): the
        tempo is within 0.1 BPM, 0.15 with a busy sender (``ticksim.jack``), where at the wide
        bandwidth it wobbles by ±0.5."""
        return self.locked and self._lock.bandwidth <= LOCKED_BW * 1.001

    @property
    def period(self) -> float:
        """Smoothed seconds per tick."""
        return self._dll.period if self._dll else 60.0 / (PPQN * self.tempo)

    def beat_at(self, t: float) -> float:
        if self._dll is None:
            return self._tick / PPQN
        return (self._tick + min((t - self._dll.time) / self._dll.period, HOLD)) / PPQN

    def time_at(self, beat: float) -> float:
        anchor = self._dll.time if self._dll else 0.0
        return anchor + (beat * PPQN - self._tick) * self.period

    def tick(self, t: float) -> float | None:
        lost = self._follow(t)
        self.tempo = 60.0 / (PPQN * self.period)
        if self._next is not None:  # the master placed this tick: nothing to judge
            self._tick, self._next, self.running, self._gap = self._next, None, True, None
            return self._tick / PPQN
        if not self.running:
            return None
        self._tick += 1 + lost
        if lost:
            log.info("%d MIDI clock ticks lost: the beat jumps to the master's", lost)
            return self._tick / PPQN
        return None

    def start(self) -> None:
        """Start (0xFA): the next tick is beat 0."""
        self._song = 0
        self._next = 0

    def resume(self) -> None:
        """Continue (0xFB): the next tick is the song position."""
        self._next = self._song

    def stop(self) -> None:
        """Stop (0xFC): playback stops; Continue resumes after the last tick; the loop re-locks."""
        if self.running:
            self._song = self._tick + 1
        self.running = False
        self._next = None
        self.reset()

    def song_position(self, sixteenths: int) -> None:
        """Song Position Pointer (0xF2): where Continue resumes; while playing, a jump at the next tick."""
        self._song = sixteenths * SPP_TICKS
        if self.running:
            self._next = self._song

    def reset(self) -> None:
        """Re-lock from the next tick (wide bandwidth), keeping the tempo as the first guess."""
        self._last = None
        self._gap = None
        self._lock.reset()

    def _follow(self, t: float) -> int:
        """Feed the loop with a tick at ``t``; returns the ticks a dropout lost (once judged)."""
        last, self._last = self._last, t
        if last is not None and not self._measured:  # the first interval gives the first period
            if MIN_PERIOD <= t - last <= MAX_PERIOD:
                self._dll, self._measured = Dll(t, t - last), True
                return 0
            last = None
        lost = 0
        if self._gap is not None and last is not None:
            judged = self._gap.judge(t, t - last)
            if judged is not None:
                lost, self._gap = judged, None
        if last is not None and t - last > DROPOUT * self.period:
            log.debug("no MIDI clock for %.0f ms: re-locking", (t - last) * 1e3)
            if self._gap is None:  # a second gap before the first was judged: judged as one
                self._gap = Gap(last, self.period)
            last = None
            self._lock.reset()
        if last is None or self._dll is None:
            self._dll = Dll(t, self.period)
        else:
            limit = ERROR_LIMIT * self._dll.period if self._lock.locked else math.inf
            error = self._dll.update(t, self._lock.bandwidth, limit)
            self._lock.observe(error, self._dll.period)
        return lost
