"""Scheduling cost of the sequencer with every feature on, and its worst lag in a live run.

The session: 8 tracks × 64 steps, every step set, with ratchets (1–8, ramps), nudges either way,
a condition on every other step (A:B, FILL, PRE, NEI, 1ST and negations), probabilities, accents,
a parameter lock on every third step, per-track speeds (1/2×…2×, triplets) and swing, fills every
4 bars, a chain of two slots. Reported:
- cost: CPU µs per decided step and per hit, deciding 64 bars in the live loop's 10 ms spans
  (Playback alone, and with the engine's bundles built as the bridge builds them, not sent);
- lag: ``Sequencer.run`` on the real clock for ``--seconds`` handing every hit to the bundle
  builder: how late each pass woke (after its 10 ms sleep) and the smallest lead a hit had over its
  ideal time when handed out (the bundle's latency covers this; negative would be a late hit).

    python bench/sequencer.py [--seconds 60] [--bars 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import trio

from gridtonic.core.clock import InternalClock
from gridtonic.core.playback import Playback
from gridtonic.core.sequencer import LOOKAHEAD, TICK, Sequencer
from gridtonic.core.session import CONDITIONS, MAX_STEPS, SPEEDS, Session, Steps, Track, default_session
from gridtonic.sound.engine import Voices

SPAN_BEATS = TICK * 120 / 60  # one 10 ms pass at 120 BPM


def busy_session() -> Session:
    s = default_session()
    while len(s.tracks) < 8:
        s.tracks.append(Track(name=f"t{len(s.tracks) + 1}", patch_a=dict(s.tracks[0].patch_a)))
    conditions = [c for c in CONDITIONS if ":" not in c] + ["1:2", "3:4", "2:3"]
    for i, t in enumerate(s.tracks):
        t.length, t.speed, t.swing = MAX_STEPS - i, SPEEDS[2 + i % 5], 50.0 + 4 * i
        for n in range(MAX_STEPS):
            t.steps[n] = True
            t.ratchet[n], t.ramp[n] = 1 + (n + i) % 8, (-1.0, 0.5, 1.0)[n % 3]
            t.nudge[n] = (n * 7 + i) % 25 - 12
            t.condition[n] = conditions[(n + i) % len(conditions)] if n % 2 else None
            t.probability[n] = 0.7 if n % 4 == 0 else 1.0
            t.accent[n] = n % 5 == 0
            t.locks[n] = {"oscFreq": 60.0 + n, "nFilQ": 2.0} if n % 3 == 0 else {}
    s.fill_every = 4
    s.slots = [tuple(Steps.of(t) for t in s.tracks)] * 2
    s.chain = [0, 1]
    return s


def cost(bars: int, with_bundles: bool) -> tuple[float, float, int]:
    """(µs per decided step, µs per hit, hits) over ``bars`` bars in 10 ms spans."""
    s = busy_session()
    playback, voices, clock = Playback(s), Voices(s), InternalClock(120.0)
    decide, decided = playback._decide, [0]

    def counted(i: int) -> None:  # a call more per step (~0.1 µs): counts steps across chain restarts
        decided[0] += 1
        decide(i)

    playback._decide = counted  # type: ignore[method-assign]
    hits = 0
    b, end = 0.0, 4.0 * bars
    t0 = time.process_time()
    while b < end:
        out = playback.hits(b, b + SPAN_BEATS)
        if with_bundles:
            for h in out:
                voices.messages(h, clock.time_at(h.beat))
        hits += len(out)
        b += SPAN_BEATS
    spent = time.process_time() - t0
    return spent / max(decided[0], 1) * 1e6, spent / max(hits, 1) * 1e6, hits


async def lag(seconds: float) -> dict[str, float]:
    s = busy_session()
    seq = Sequencer(s, InternalClock(120.0))
    voices = Voices(s)
    leads: list[float] = []
    wakes: list[float] = []

    def sink(hit) -> None:
        leads.append(hit.time - trio.current_time())
        voices.messages(hit)

    seq.sinks.append(sink)
    schedule = seq.schedule

    def timed(now: float):
        wakes.append(now)
        return schedule(now)

    seq.schedule = timed  # type: ignore[method-assign]
    async with trio.open_nursery() as n:
        seq.start()
        n.start_soon(seq.run)
        await trio.sleep(seconds)
        n.cancel_scope.cancel()
    late = (np.diff(wakes) - TICK) * 1e3
    return {"hits": len(leads), "passes": len(wakes), "wake_p50": float(np.percentile(late, 50)),
            "wake_p99": float(np.percentile(late, 99)), "wake_max": float(late.max()),
            "lead_min": min(leads) * 1e3, "lookahead": LOOKAHEAD * 1e3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--bars", type=int, default=64)
    args = ap.parse_args()
    for bundles in (False, True):
        per_step, per_hit, hits = cost(args.bars, bundles)
        what = "decide + build bundles" if bundles else "decide only"
        print(f"{what:24s} {per_step:7.1f} µs/step  {per_hit:7.1f} µs/hit  ({hits} hits, {args.bars} bars)")
    r = trio.run(lag, args.seconds)
    print(f"live {args.seconds:.0f} s: {r['hits']} hits in {r['passes']} passes; pass wake-up late by "
          f"p50 {r['wake_p50']:.2f} ms, p99 {r['wake_p99']:.2f} ms, max {r['wake_max']:.2f} ms; "
          f"smallest lead of a hit over its time {r['lead_min']:.1f} ms "
          f"(look-ahead {r['lookahead']:.0f} ms; below 0 = late)")


if __name__ == "__main__":
    main()
