"""A delay-locked loop: jittery event times in, a smooth time line out.

Adriaensen's second-order DLL ("Using a DLL to filter time", LAC 2005): each event corrects a
prediction of the next one, and the filtered time of an event *is* that prediction, so the time
line never jumps. A fixed bandwidth trades jitter against how fast a tempo change is followed; a
narrow one (0.15 Hz) is needed to cut ±1 ms USB jitter tenfold but would take 5 s to follow a 5 %
tempo step. :class:`Lock` therefore shifts gear: wide while locking, narrow once locked, and wide
again for a moment when the errors stop averaging to zero (the master changed tempo).
"""

from __future__ import annotations

import math

LOCKING_BW = 2.0  # Hz, after a start or reset: locks within about half a second
LOCKED_BW = 0.12  # Hz, once locked
LOCKING_EVENTS = 96  # events at LOCKING_BW after a reset (a bar of MIDI clock)
SETTLE = 0.5  # s: once errors average out again, the bandwidth halves every SETTLE seconds
BIAS_ALPHA = 0.15  # smoothing of the running mean error (the tempo-change detector)
NOISE_ALPHA = 0.01  # smoothing of the running mean square error (the jitter estimate)
BIAS_LIMIT = 5.0  # a mean error beyond this many of its standard deviations means a tempo change
HOLD_LIMIT = 3.0  # the bandwidth narrows only while the mean error is within this many
NOISE_FLOOR = 2e-5  # s: jitter below this is treated as this (a perfect source must not look noisy)


def coefficients(bandwidth: float, period: float) -> tuple[float, float]:
    """Loop gains (b, c) for ``bandwidth`` Hz at ``period`` s: critically damped (ζ ≈ 0.707)."""
    w = 2.0 * math.pi * bandwidth * period
    return math.sqrt(2.0) * w, w * w


class Dll:
    """The filter itself: ``time`` is the filtered time of the last event, ``period`` the
    filtered interval, ``next`` the predicted time of the next event."""

    def __init__(self, t: float, period: float):
        self.time = float(t)
        self.period = float(period)
        self.next = self.time + self.period

    def update(self, t: float, bandwidth: float, limit: float = math.inf) -> float:
        """Take the event that arrived at ``t``; returns its error against the prediction, limited
        to ±``limit`` (one event held up by the system must not pull the time line)."""
        b, c = coefficients(bandwidth, self.period)
        e = min(max(t - self.next, -limit), limit)
        self.time = self.next
        self.next += b * e + self.period
        self.period += c * e
        return e


class Lock:
    """Chooses the bandwidth event by event from the errors the DLL reports."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.bandwidth = LOCKING_BW
        self._locking = LOCKING_EVENTS
        self._bias = 0.0
        self._noise = 0.0

    @property
    def locked(self) -> bool:
        return self._locking == 0

    def observe(self, error: float, period: float) -> float:
        """Fold in one error; returns the bandwidth for the next update."""
        self._bias += BIAS_ALPHA * (error - self._bias)
        self._noise += NOISE_ALPHA * ((error - self._bias) ** 2 - self._noise)
        if self._locking:
            self._locking -= 1
            return self.bandwidth
        spread = math.sqrt(max(self._noise, NOISE_FLOOR**2) * BIAS_ALPHA / (2.0 - BIAS_ALPHA))
        if abs(self._bias) > BIAS_LIMIT * spread:
            self.bandwidth = LOCKING_BW
        elif abs(self._bias) < HOLD_LIMIT * spread:
            self.bandwidth = max(LOCKED_BW, self.bandwidth * 0.5 ** (period / SETTLE))
        return self.bandwidth
