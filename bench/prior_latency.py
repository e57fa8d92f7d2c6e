"""Figures for the introspection prior: one key press's latency on *real* bases (bars of GMD
validation drumming, not random patterns: real bases have deep evidence rows), groove included,
as the surface runs it (a track's press in the trio thread, target p99 <= 1 ms; a whole kit from
one track through ``trio.to_thread``), and for comparison outside trio and through the thread hop;
load time, file size and build time of the shipped prior.

Every press is cold: the sampler's answers are forgotten before it, so each one computes its
bases from scratch (a re-rolled row, whose answers are cached, is measured on its own), and
presses come 1 ms apart, as a performer's do, so the CPU caches are not kept warm for it. Wall
times include what the other processes on the machine take from it: each run prints the load
average beside them, and the CPU time of the press's own thread (``time.thread_time``), which
load disturbs less. An empty ``trio.to_thread`` call shows what the hop alone costs.

    python bench/prior_latency.py
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import trio

from gridtonic.core.session import Track
from gridtonic.prior import database, evaluation, sampler
from gridtonic.prior.drums import CLASS_ID, CLASSES, decode

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
GMD = SHARED / "groove-midi-dataset"
N = 5_000
KITS = 500
GAP = 1e-3  # between presses
NAMES = ("kick", "snare", "closed hat", "open hat")

Press = Callable[[], object]


def quantiles(times: list[float]) -> str:
    q = statistics.quantiles(times, n=100)
    return f"p50 {q[49] * 1e3:.3f} ms, p99 {q[98] * 1e3:.3f} ms, max {max(times) * 1e3:.3f} ms"


def bar_pairs() -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Consecutive bars of GMD validation (each a pid per class)."""
    runs, _ = evaluation.validation_runs(GMD)
    return [(a, b) for run in runs for a, b in zip(run, run[1:], strict=False)]


def track(name: str, a: tuple[int, ...], b: tuple[int, ...]) -> Track:
    t = Track(name)
    t.set_pattern(decode(a[CLASS_ID[name]]) + decode(b[CLASS_ID[name]]))
    return t


def presses(s: sampler.Sampler, pairs: list, n: int) -> list[Press]:
    """n key presses on 32-step tracks made of real consecutive bars, groove (velocity and nudge)
    included: steps 1-32 of one track from another's, or steps 17-32 from 1-16."""
    rng = random.Random(1)
    out: list[Press] = []
    for i in range(n):
        a, b = rng.choice(pairs)
        target, basis = (track(name, a, b) for name in rng.sample(NAMES, 2))
        if i % 2:
            out.append(lambda t=target, b=basis: s.second_half(t, groove=1.0, basis=b))
        else:
            out.append(lambda t=target, b=basis: s.track_from(t, b, groove=1.0))
    return out


def kits(s: sampler.Sampler, pairs: list, n: int) -> list[Press]:
    """n whole kits: every class's track from the kick's, groove included."""
    rng = random.Random(2)
    out: list[Press] = []
    for _ in range(n):
        a, b = rng.choice(pairs)
        tracks = [track(name, a, b) for name in CLASSES]
        out.append(lambda ts=tracks: s.kit_from(ts, 0, groove=1.0))
    return out


def timed(s: sampler.Sampler, press: Press) -> tuple[float, float]:
    """(wall, CPU time of this thread) of one cold press."""
    time.sleep(GAP)
    s.forget()
    t, c = time.perf_counter(), time.thread_time()
    press()
    return time.perf_counter() - t, time.thread_time() - c


def direct(s: sampler.Sampler, jobs: list[Press]) -> tuple[list[float], list[float]]:
    wall, cpu = zip(*(timed(s, press) for press in jobs), strict=True)
    return list(wall), list(cpu)


async def in_trio(s: sampler.Sampler, jobs: list[Press], cold: bool = True, hop: bool = True,
                  ) -> tuple[list[float], list[float]]:
    """Wall time of each press from a trio task, through ``trio.to_thread`` (``hop``) or in the trio
    thread itself, and its CPU time in the thread that ran it."""
    wall, cpu = [], []

    def run(press: Press) -> float:
        c = time.thread_time()
        press()
        return time.thread_time() - c

    for press in jobs:
        await trio.sleep(GAP)
        if cold:
            s.forget()
        t = time.perf_counter()
        cpu.append(await trio.to_thread.run_sync(run, press) if hop else run(press))
        wall.append(time.perf_counter() - t)
    return wall, cpu


async def hops(n: int) -> list[float]:
    out = []
    for _ in range(n):
        await trio.sleep(GAP)
        t = time.perf_counter()
        await trio.to_thread.run_sync(int)
        out.append(time.perf_counter() - t)
    return out


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


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" ({os.cpu_count()} cores)"


def every_way(s: sampler.Sampler, jobs: list[Press], surface: str) -> None:
    """Wall and CPU time of ``jobs``: outside trio, in the trio thread, through ``trio.to_thread``;
    ``surface`` names the way the surface runs them."""
    for label, run in (("outside trio", lambda: direct(s, jobs)),
                       ("in the trio thread", lambda: trio.run(in_trio, s, jobs, True, False)),
                       ("trio.to_thread", lambda: trio.run(in_trio, s, jobs))):
        wall, cpu = run()
        mark = "  <- as the surface runs it" if label == surface else ""
        print(f"  {label + ':':20s} {quantiles(wall)};  CPU {quantiles(cpu)}{mark}")


def main() -> None:
    print(f"load average at start: {load()}")
    path = sampler.default_path()
    t0 = time.perf_counter()
    s = sampler.Sampler.from_file(path)
    print(f"load shipped prior ({path.stat().st_size / 1e6:.1f} MB): {time.perf_counter() - t0:.3f} s")
    if not (GMD / "info.csv").is_file():
        raise SystemExit(f"prior_latency: no GMD at {GMD}; no real bases to press keys on")
    pairs = bar_pairs()
    jobs = presses(s, pairs, N)
    for press in jobs[:200]:  # warm up numpy and the thread cache; then every press forgets
        press()
    print(f"key press (track_from / second_half, groove on), {N} cold presses on real bases:")
    every_way(s, jobs, "in the trio thread")
    print(f"  empty to_thread hop: {quantiles(trio.run(hops, N))}")
    again = [press for press in jobs[:N // 10] for _ in range(10)]  # a performer re-rolling one row
    wall, cpu = trio.run(in_trio, s, again, False, False)
    print(f"  re-rolled row (cached basis), in the trio thread: {quantiles(wall)};  CPU {quantiles(cpu)}")
    whole = kits(s, pairs, KITS)
    print(f"whole kit (kit_from: 7 tracks from the kick, groove on), {KITS} cold kits on real bars:")
    every_way(s, whole, "trio.to_thread")
    print(f"load average at end: {load()}")
    print(f"build from GMD train (the shipped prior): {build_time([(GMD, 1)], 'train')}")


if __name__ == "__main__":
    main()
