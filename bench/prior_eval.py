"""Held-out evaluation of the introspection prior on Groove MIDI Dataset validation bars: what the
sampler draws (candidate set at the default temperature) and the full model, per relation, beside
supertonic's original table (counted from drummy's corpus), unconditional frequencies, a smoothed
back-off and exact match, under both ghost-note rules (gridtonic.prior.evaluation holds the work).

    python bench/prior_eval.py [PRIOR] [--temperature T]
    python bench/prior_eval.py --tune      # settings on the tuning split of train, never validation
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gridtonic.prior import database, evaluation
from gridtonic.prior.evaluation import BASELINES, GHOST_RULES, PREDICTORS, Relation
from gridtonic.prior.sampler import FOCUS, Sampler, default_path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
GMD = CORPUS / "groove-midi-dataset"


def table(results: list[Relation], names: tuple[str, ...] = PREDICTORS) -> None:
    print(f"{'relation':<26}{'cases':>6}{'mass':>5} | " + " | ".join(f"{n:^19}" for n in names))
    print(f"{'':<37} | " + " | ".join(f"{'bits':>6} {'top5':>5} {'ham':>5}" for _ in names))
    for r in results:
        cols = " | ".join(f"{r.scores[n].bits:>6.2f} {r.scores[n].top5:>5.3f} {r.scores[n].hamming:>5.2f}"
                          for n in names)
        print(f"{r.label:<26}{r.cases:>6}{100 * r.draw_mass:>4.0f}% | {cols}")
    for who in ("draw", "model"):
        lost = [f"{r.label}: {b}" for r in results for b in BASELINES
                if b in r.scores and not r.scores[who].at_least(r.scores[b])]
        print(f"{who} at least matches every baseline on every metric: "
              + ("yes" if not lost else f"no ({'; '.join(lost)})"))


def tune(temperatures: list[float]) -> None:
    fit, held = evaluation.tuning_split(GMD)
    s = Sampler(evaluation.counts_of(fit), "train minus tuning split")
    print(f"tuning split: {sum(map(len, held))} bars held out of train, {sum(map(len, fit))} counted")
    for t in temperatures:
        print(f"\ntemperature {t:g}")
        table(evaluation.evaluate(s, held, temperature=t, only=("draw", "model", *BASELINES[1:])),
              ("draw", "model", *BASELINES[1:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("prior", nargs="?", type=Path, help="prior file (default: the shipped one)")
    ap.add_argument("--temperature", type=float, default=FOCUS, help=f"of the draws (default {FOCUS:g})")
    ap.add_argument("--tune", type=float, nargs="*", help="temperatures to try on the tuning split")
    args = ap.parse_args()
    if not (GMD / "info.csv").is_file():
        raise SystemExit(f"prior_eval: {GMD} has no info.csv; nothing to evaluate on")
    if args.tune is not None:
        tune(args.tune or [0.5, 0.7, 1.0])
        return
    original = Sampler(database.build([(CORPUS / "drummy", 1)])[0], "drummy (the original's corpus)")
    s = Sampler.from_file(args.prior or default_path())
    print(f"prior {s.source}; draws at temperature {args.temperature:g}; mass = median share of the "
          "model's probability in the candidate set")
    for rule, ghost in GHOST_RULES.items():
        runs, stats = evaluation.validation_runs(GMD, ghost)
        print(f"\nGMD validation, ghost notes: {rule} ({stats.files} files, {sum(map(len, runs))} bars)")
        table(evaluation.evaluate(s, runs, original, args.temperature))


if __name__ == "__main__":
    main()
