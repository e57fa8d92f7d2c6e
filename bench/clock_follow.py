"""MIDI clock following: step-time error of gridtonic's DLL against the raw ticks and norns' method.

Synthetic 24 ppqn masters with uniform ±1 / ±2 ms arrival jitter, and as over JACK MIDI (arrivals
on the 5.3 ms period grid, 1 % of ticks held up by up to 25 ms: ``ticksim.jack``; errors about
their median, JACK's mean transfer delay); each 16th is predicted 50 ms ahead (the sequencer's
look-ahead) and compared with the master's jitter-free tick. Figures after the first 4 s (locking).
Also: settling after a 5 % tempo step, phase after 10 minutes.

    python bench/clock_follow.py
"""

from __future__ import annotations

import numpy as np

from gridtonic.midi.clock import PPQN, MidiClock
from gridtonic.midi.ticksim import NornsClock, followed, jack, jitter, master, step_errors

MS = 1e-3


def settled(errors: np.ndarray, due: np.ndarray, after: float, within: float = 0.5 * MS) -> float:
    late = due[(np.abs(errors) > within) & (due > after)]
    return float(late.max() - after) if len(late) else 0.0


def main() -> None:
    print("step-time error, ms (σ / max) after locking; 2 min per case")
    print(f"{'BPM':>4} {'jitter':>7} | {'raw ticks':>13} | {'norns':>13} | {'gridtonic DLL':>13}")
    for bpm in (90, 120, 174):
        for amount in (1 * MS, 2 * MS, None):
            ideal = master(lambda t, b=bpm: b, 120)
            arrivals = jitter(ideal, amount, seed=bpm) if amount else jack(ideal, seed=bpm)
            due = ideal[::6]
            keep = due > ideal[0] + 4.0
            raw = (arrivals - ideal)[::6][keep]
            cells = [raw]
            for follower in (NornsClock(), MidiClock()):
                e = step_errors(follower, ideal, arrivals)[keep]
                cells.append(e[~np.isnan(e)])
            if amount is None:
                cells = [c - np.median(c) for c in cells]
            row = " | ".join(f"{c.std() / MS:5.3f} / {np.abs(c).max() / MS:5.2f}" for c in cells)
            print(f"{bpm:>4} {f'±{amount / MS:g} ms' if amount else 'JACK':>7} | {row}")
    print()
    print("settling after a 5 % tempo step at 120 BPM (to within 0.5 ms of the master, ±1 ms jitter)")
    for to in (126.0, 114.0):
        ideal = master(lambda t, b=to: 120.0 if t < 11 else b, 25)
        for amount in (0.0, 1 * MS):
            e = step_errors(MidiClock(), ideal, jitter(ideal, amount))
            peak = np.nanmax(np.abs(e[ideal[::6] > 11])) / MS
            print(f"  120 → {to:g} BPM, jitter ±{amount / MS:g} ms: peak {peak:.2f} ms, "
                  f"settled in {settled(e, ideal[::6], 11.0):.2f} s")
    print()
    ideal = master(lambda t: 120, 600)
    c = followed(jitter(ideal, 1 * MS))
    n = len(ideal) - 1 + PPQN  # a beat after the last tick of 10 minutes
    phase = c.time_at(n / PPQN) - (ideal[-1] + PPQN * 60 / (PPQN * 120))
    print(f"phase error after 10 minutes at 120 BPM, ±1 ms jitter: {phase / MS:+.3f} ms "
          f"(tempo {c.tempo:.4f} BPM)")


if __name__ == "__main__":
    main()
