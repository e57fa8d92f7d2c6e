"""Held-out evaluation of a prior on the Groove MIDI Dataset *validation* split (never used for the
shipped prior, which counts only the train split): mean log-likelihood (natural log) and top-5
hit rate of the true pattern, for the sampler's back-off model and two baselines from the same
prior — unconditional frequencies, and exact-match lookup like the original (coverage shown;
an unseen basis or an unseen answer scores a uniform 1/65536, a miss for top-5).

    python bench/prior_eval.py [PRIOR ...] [--gmd ../shared/corpus/groove-midi-dataset]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from gridtonic.corpus import Run, Stats, corpus_files, read_file
from gridtonic.drums import CLASS_ID
from gridtonic.sampler import Sampler, default_path

ROOT = Path(__file__).resolve().parent.parent
GMD = ROOT.parent / "shared" / "corpus" / "groove-midi-dataset"
UNIFORM = math.log(1 / 65536)
TASKS = (  # (label, target, basis, next bar?)
    ("snare | kick", "snare", "kick", False),
    ("hats | kick", "closed hat", "kick", False),
    ("kick | snare", "kick", "snare", False),
    ("kick bar 2 | bar 1", "kick", "kick", True),
    ("snare bar 2 | bar 1", "snare", "snare", True),
    ("hats bar 2 | bar 1", "closed hat", "closed hat", True),
)


def validation_runs(root: Path) -> tuple[list[Run], Stats]:
    stats = Stats()
    runs = [run for path in corpus_files(root, "validation", stats) for run in read_file(path, stats)]
    return runs, stats


def cases(runs: list[Run], target: int, basis: int, next_bar: bool) -> list[tuple[int, int]]:
    if next_bar:
        return [(a[basis], b[target]) for run in runs for a, b in zip(run, run[1:], strict=False)]
    return [(bar[basis], bar[target]) for run in runs for bar in run]


def evaluate(s: Sampler, runs: list[Run]) -> None:
    print(f"{'relation':<22}{'cases':>7} | {'model LL':>9} {'top5':>6} | {'uncond LL':>9} {'top5':>6} | "
          f"{'exact LL':>9} {'top5':>6} {'cover':>6}")
    for label, target_name, basis_name, next_bar in TASKS:
        target, basis = CLASS_ID[target_name], CLASS_ID[basis_name]
        rows = s.next_bar[target] if next_bar else s.within[basis, target]
        u = s.unconditional[target]
        u_top = set(u.pids[np.argsort(-u.n, kind="stable")[:5]].tolist())
        model, uncond, exact = [], [], []
        covered = 0
        for x, y in cases(runs, target, basis, next_bar):
            ev = s.evidence(rows, x)
            ys = s.candidates(target, ev)
            p = s.probability(target, ev, ys)
            top = set(ys[np.argsort(-p, kind="stable")[:5]].tolist())
            py = s.probability(target, ev, np.array([y]))[0]
            model.append((math.log(py), y in top))
            uncond.append((math.log(u.probability(np.array([y]))[0]), y in u_top))
            pids, n = rows.gather(np.array([x]))
            covered += bool(len(pids))
            hit = pids[pids == y]
            prob = n[pids == y].sum() / n.sum() if len(hit) else 0.0
            top_exact = set(pids[np.argsort(-n, kind="stable")[:5]].tolist())
            exact.append((math.log(prob) if prob > 0 else UNIFORM, y in top_exact))
        k = len(model)
        cols = [np.mean([a for a, _ in r]) for r in (model, uncond, exact)]
        hits = [100 * np.mean([b for _, b in r]) for r in (model, uncond, exact)]
        print(f"{label:<22}{k:>7} | {cols[0]:>9.3f} {hits[0]:>5.1f}% | {cols[1]:>9.3f} {hits[1]:>5.1f}% | "
              f"{cols[2]:>9.3f} {hits[2]:>5.1f}% {100 * covered / k:>5.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("priors", nargs="*", type=Path, help="prior files (default: the shipped one)")
    ap.add_argument("--gmd", type=Path, default=GMD, help="Groove MIDI Dataset folder (with info.csv)")
    args = ap.parse_args()
    if not (args.gmd / "info.csv").is_file():
        raise SystemExit(f"prior_eval: {args.gmd} has no info.csv; nothing to evaluate on")
    runs, stats = validation_runs(args.gmd)
    print(f"GMD validation: {stats.files} files, {sum(map(len, runs))} bars in {len(runs)} runs "
          f"(skipped {dict(stats.skipped)})")
    print("model = back-off sampler (answers every case: coverage 100 %); uncond = unconditional "
          "frequencies; exact = exact-match lookup like the original (cover = basis found); "
          "LL = mean natural log-likelihood of the true pattern")
    for path in args.priors or [default_path()]:
        print(f"\nprior {path}")
        evaluate(Sampler.from_file(path), runs)


if __name__ == "__main__":
    main()
