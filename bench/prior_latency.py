"""Figures for the introspection prior: one key press's latency on *real* bases (bars of GMD
validation drumming, not random patterns: real bases have deep evidence rows), groove included,
called directly and through ``trio.to_thread`` as the surface calls it (target p99 <= 1 ms); load
time, file size and build time of the shipped prior. Wall-clock figures: quote them with the machine's load.

    python bench/prior_latency.py
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

import trio

from gridtonic.core.session import Track
from gridtonic.prior import database, evaluation, sampler
from gridtonic.prior.drums import CLASS_ID, decode

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
GMD = SHARED / "groove-midi-dataset"
N = 5_000
NAMES = ("kick", "snare", "closed hat", "open hat")


def quantiles(times: list[float]) -> str:
    q = statistics.quantiles(times, n=100)
    return f"p50 {q[49] * 1e3:.3f} ms, p99 {q[98] * 1e3:.3f} ms, max {max(times) * 1e3:.3f} ms"


def presses(n: int) -> list[tuple[str, Track, Track]]:
    """(verb, target, basis) of n key presses on 32-step tracks made of real consecutive bars."""
    runs, _ = evaluation.validation_runs(GMD)
    pairs = [(a, b) for run in runs for a, b in zip(run, run[1:], strict=False)]
    rng = random.Random(1)
    out = []
    for i in range(n):
        a, b = rng.choice(pairs)
        t, s = rng.sample(NAMES, 2)
        target, basis = Track(t), Track(s)
        target.set_pattern(decode(a[CLASS_ID[t]]) + decode(b[CLASS_ID[t]]))
        basis.set_pattern(decode(a[CLASS_ID[s]]) + decode(b[CLASS_ID[s]]))
        out.append(("second_half" if i % 2 else "track_from", target, basis))
    return out


def call(s: sampler.Sampler, verb: str, target: Track, basis: Track) -> object:
    """One key press with the groove (velocity and nudge) included."""
    if verb == "second_half":
        return s.second_half(target, groove=1.0, basis=basis)
    return s.track_from(target, basis, groove=1.0)


async def threaded(s: sampler.Sampler, jobs: list[tuple[str, Track, Track]]) -> list[float]:
    times = []
    for verb, target, basis in jobs:
        t = time.perf_counter()
        await trio.to_thread.run_sync(call, s, verb, target, basis)
        times.append(time.perf_counter() - t)
    return times


def build_time(sources: list[tuple[Path, int]], split: str | None) -> str:
    if not all(p.exists() for p, _ in sources):
        return "skipped (corpus not in ../shared)"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "prior.sqlite"
        t0, c0 = time.perf_counter(), time.process_time()
        counts, corpora = database.build(sources, split)
        database.write(out, counts, corpora, {})
        return (f"{time.perf_counter() - t0:.2f} s wall, {time.process_time() - c0:.2f} s CPU "
                f"({out.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    path = sampler.default_path()
    t0 = time.perf_counter()
    s = sampler.Sampler.from_file(path)
    print(f"load shipped prior ({path.stat().st_size / 1e6:.1f} MB): {time.perf_counter() - t0:.3f} s")
    if not (GMD / "info.csv").is_file():
        raise SystemExit(f"prior_latency: no GMD at {GMD}; no real bases to press keys on")
    jobs = presses(N)
    for job in jobs[:200]:  # warm up numpy and the thread cache; then every basis is new again
        call(s, *job)
    s.forget()
    direct, cpu = [], []
    for job in jobs:
        t, c = time.perf_counter(), time.thread_time()
        call(s, *job)
        direct.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    print(f"key press, {N} real bases (track_from / second_half), direct: {quantiles(direct)}")
    print(f"  its CPU time (what other processes on the machine cannot inflate): {quantiles(cpu)}")
    s.forget()
    hop = trio.run(threaded, s, jobs)
    print(f"key press through trio.to_thread (as the surface calls it): {quantiles(hop)}")
    again = [job for job in jobs[:N // 10] for _ in range(10)]  # a performer re-rolling one row
    hop = trio.run(threaded, s, again)
    print(f"the same row re-rolled (cached basis), through trio.to_thread: {quantiles(hop)}")
    print(f"build from GMD train (the shipped prior): {build_time([(GMD, 1)], 'train')}")


if __name__ == "__main__":
    main()
