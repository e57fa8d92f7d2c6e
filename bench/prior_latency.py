"""Figures for the introspection prior: ``generate`` latency over 10,000 random basis patterns
(p50/p99, target p99 <= 1 ms), load time of the shipped prior, and build times from ../shared.

    python bench/prior_latency.py
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from gridtonic.prior import database, sampler
from gridtonic.prior.drums import CLASSES

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
N = 10_000


def build_time(sources: list[tuple[Path, int]], split: str | None) -> str:
    if not all(p.exists() for p, _ in sources):
        return "skipped (corpus not in ../shared)"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "prior.sqlite"
        t0 = time.perf_counter()
        counts, corpora = database.build(sources, split)
        database.write(out, counts, corpora, {})
        return f"{time.perf_counter() - t0:.2f} s ({out.stat().st_size / 1e6:.1f} MB)"


def main() -> None:
    t0 = time.perf_counter()
    s = sampler.Sampler.from_file(sampler.default_path())
    print(f"load shipped prior: {time.perf_counter() - t0:.3f} s")
    rng = random.Random(1)
    names = ["kick", "snare", "closed hat", "open hat", "clap"]
    times = []
    for i in range(N):
        target, basis = rng.sample(names, 2)
        pattern, current = rng.getrandbits(16), rng.getrandbits(16)
        t = time.perf_counter()
        s.generate(target, pattern, basis, 1.0, i, current)
        times.append(time.perf_counter() - t)
    q = statistics.quantiles(times, n=100)
    print(f"generate, {N} random bases ({len(CLASSES)} classes): p50 {q[49] * 1e3:.3f} ms, "
          f"p99 {q[98] * 1e3:.3f} ms, max {max(times) * 1e3:.3f} ms")
    print(f"build from drummy: {build_time([(SHARED / 'drummy', 1)], None)}")
    print(f"build from GMD train (the shipped prior): "
          f"{build_time([(SHARED / 'groove-midi-dataset', 1)], 'train')}")


if __name__ == "__main__":
    main()
