"""Held-out evaluation of priors on the Groove MIDI Dataset validation split, as a table: the
back-off sampler against unconditional frequencies and exact-match lookup like the original (the
work is in ``gridtonic.prior.evaluation``, which tests/test_sampler.py also holds the shipped prior to).

    python bench/prior_eval.py [PRIOR ...] [--gmd ../shared/corpus/groove-midi-dataset]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gridtonic.prior.evaluation import Relation, evaluate, validation_runs
from gridtonic.prior.sampler import Sampler, default_path

ROOT = Path(__file__).resolve().parent.parent
GMD = ROOT.parent / "shared" / "corpus" / "groove-midi-dataset"


def table(results: list[Relation]) -> None:
    print(f"{'relation':<22}{'cases':>7} | {'model LL':>9} {'top5':>6} | {'uncond LL':>9} {'top5':>6} | "
          f"{'exact LL':>9} {'top5':>6} {'cover':>6}")
    for r in results:
        cols = "".join(f" | {s.ll:>9.3f} {100 * s.top5:>5.1f}%" for s in (r.model, r.unconditional, r.exact))
        print(f"{r.label:<22}{r.cases:>7}{cols} {100 * r.exact_coverage:>5.1f}%")


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
    print("model = back-off sampler; uncond = unconditional frequencies; exact = exact-match lookup "
          "like the original (cover = basis found); LL = mean natural log-likelihood of the true pattern")
    for path in args.priors or [default_path()]:
        s = Sampler.from_file(path)
        results = evaluate(s, runs)
        coverage = min(r.model_coverage for r in results)
        print(f"\nprior {path} (model coverage {100 * coverage:.1f} %)")
        table(results)


if __name__ == "__main__":
    main()
