"""Synthetic MIDI clock streams and the step times a follower predicts from them.

Tests and ``bench/clock_follow`` judge a follower the way the sequencer uses it: each 16th's time
is predicted ``LOOKAHEAD`` before it is due from the ticks received so far, and compared with the
master's jitter-free tick. norns' method is here too, as the baseline to beat.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

import numpy as np

from gridtonic.core.sequencer import LOOKAHEAD
from gridtonic.midi.clock import PPQN, SPP_TICKS, MidiClock


class Follower(Protocol):
    def tick(self, t: float) -> float | None: ...

    def start(self) -> None: ...

    def time_at(self, beat: float) -> float: ...


def master(bpm: Callable[[float], float], seconds: float, start: float = 1.0) -> np.ndarray:
    """Ideal tick times of a master whose tempo at time t is ``bpm(t)``."""
    times = [start]
    while times[-1] < start + seconds:
        times.append(times[-1] + 60.0 / (PPQN * bpm(times[-1])))
    return np.asarray(times)


def jitter(times: np.ndarray, amount: float, seed: int = 1) -> np.ndarray:
    """Arrival times: each tick late or early by up to ``amount`` s (uniform), order kept."""
    rng = np.random.default_rng(seed)
    return np.maximum.accumulate(times + rng.uniform(-amount, amount, len(times)))


def jack(times: np.ndarray, period: float = 256 / 48000, stalls: float = 0.01, stall: float = 0.025,
         seed: int = 1) -> np.ndarray:
    """Arrivals over JACK MIDI from a sender on a busy machine: the sender wakes ±0.3 ms (σ) off,
    a fraction ``stalls`` of ticks is held up by up to ``stall`` s, and everything lands on the
    next JACK period boundary (what the tests' jackd dummy at 256 frames / 48 kHz does)."""
    rng = np.random.default_rng(seed)
    sent = times + rng.normal(0.0, 3e-4, len(times)) + (rng.random(len(times)) < stalls) * rng.uniform(
        0.0, stall, len(times))
    phase = rng.uniform(0.0, period)
    return np.ceil((np.maximum.accumulate(sent) - phase) / period) * period + phase


def followed(arrivals: np.ndarray) -> MidiClock:
    """A MidiClock started and fed every tick of ``arrivals`` (long-run phase checks)."""
    c = MidiClock()
    c.start()
    for t in arrivals:
        c.tick(t)
    return c


def step_errors(follower: Follower, ideal: np.ndarray, arrivals: np.ndarray,
                numbers: np.ndarray | None = None) -> np.ndarray:
    """Predicted minus ideal time of every 16th (every sixth tick), each predicted ``LOOKAHEAD``
    before it is due; the master sends Start just before the first tick. ``numbers``: the master's
    tick number of each arrival, when some ticks were lost on the way (default: none were)."""
    follower.start()
    numbers = np.arange(len(arrivals)) if numbers is None else numbers
    errors = []
    i = 0
    for k in range(0, len(ideal), SPP_TICKS):
        while i < len(arrivals) and arrivals[i] <= ideal[k] - LOOKAHEAD:
            follower.tick(arrivals[i])
            i += 1
        if i == 0 or numbers[i - 1] >= k:  # no tick yet, or the step's own tick came: no prediction
            errors.append(np.nan)
            continue
        errors.append(follower.time_at(k / PPQN) - ideal[k])
    return np.asarray(errors)


class NornsClock:
    """norns' ``clock_midi.c``: the beat is the mean of the last 24 tick intervals, and its phase
    snaps to every raw tick."""

    def __init__(self) -> None:
        self._intervals: deque[float] = deque(maxlen=PPQN)
        self._last: float | None = None
        self._count = -1

    def start(self) -> None:
        self._count = -1

    def tick(self, t: float) -> float | None:
        if self._last is not None:
            self._intervals.append(t - self._last)
        self._last = t
        self._count += 1
        return None

    def time_at(self, beat: float) -> float:
        period = sum(self._intervals) / len(self._intervals)
        assert self._last is not None
        return self._last + (beat * PPQN - self._count) * period
