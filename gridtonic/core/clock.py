"""Beat time ↔ trio time.

Every clock source (internal now, MIDI later) answers the same two questions, so the sequencer
schedules ahead the same way whatever drives it. The internal clock is piecewise linear: a tempo
change re-anchors at the current beat, so already-passed beats never move.
"""

from __future__ import annotations

from typing import Protocol

TEMPO_RANGE = (20.0, 300.0)  # BPM: every tempo the session, a surface, a preset or a clock sets


class Clock(Protocol):
    tempo: float

    def beat_at(self, t: float) -> float: ...

    def time_at(self, beat: float) -> float: ...


class InternalClock:
    """Beats from a start time and a tempo (BPM); ``tap`` sets the tempo from taps."""

    def __init__(self, tempo: float = 120.0, start: float = 0.0, beat: float = 0.0):
        self.tempo = float(tempo)
        self._t0 = float(start)
        self._b0 = float(beat)
        self._taps: list[float] = []

    def beat_at(self, t: float) -> float:
        return self._b0 + (t - self._t0) * self.tempo / 60.0

    def time_at(self, beat: float) -> float:
        return self._t0 + (beat - self._b0) * 60.0 / self.tempo

    def restart(self, t: float, beat: float = 0.0) -> None:
        """Beat ``beat`` falls at time ``t`` (transport start)."""
        self._t0, self._b0 = float(t), float(beat)

    def set_tempo(self, tempo: float, now: float) -> None:
        """Change tempo from ``now`` on, keeping the beat at ``now`` where it is."""
        b = self.beat_at(now)
        self.tempo = min(max(float(tempo), TEMPO_RANGE[0]), TEMPO_RANGE[1])
        self._t0, self._b0 = float(now), b

    def tap(self, now: float) -> None:
        """Tap tempo: the mean interval of the last taps (a gap over 2 s starts a new series)."""
        if self._taps and now - self._taps[-1] > 2.0:
            self._taps.clear()
        self._taps = (self._taps + [now])[-5:]
        if len(self._taps) >= 2:
            interval = (self._taps[-1] - self._taps[0]) / (len(self._taps) - 1)
            self.set_tempo(60.0 / interval, now)
