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
from gridtonic.prior.evaluation import BASELINES, GHOST_RULES, PREDICTORS, Relation, Score
from gridtonic.prior.sampler import FOCUS, Sampler, Setting, default_path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
GMD = CORPUS / "groove-midi-dataset"
CONCENTRATIONS = (3.0, 6.0, 12.0, 24.0, 48.0)  # tried within a bar
NEXT_CONCENTRATIONS = (1.0, 2.0, 4.0, 8.0)  # tried bar → next bar
TEMPERATURES = (0.7, 0.8, 0.9, 1.0, 1.1)  # tried as each relation's temperature at the default focus


def table(results: list[Relation], names: tuple[str, ...] = PREDICTORS, verdict: bool = True) -> None:
    print(f"{'relation':<26}{'cases':>6}{'mass':>5} | " + " | ".join(f"{n:^19}" for n in names))
    print(f"{'':<37} | " + " | ".join(f"{'bits':>6} {'top5':>5} {'ham':>5}" for _ in names))
    for r in results:
        cols = " | ".join(f"{r.scores[n].bits:>6.2f} {r.scores[n].top5:>5.3f} {r.scores[n].hamming:>5.2f}"
                          for n in names)
        print(f"{r.label:<26}{r.cases:>6}{100 * r.draw_mass:>4.0f}% | {cols}")
    for who in ("draw", "model") if verdict else ():
        lost = [f"{r.label}: {b}" for r in results for b in BASELINES
                if b in r.scores and not r.scores[who].at_least(r.scores[b])]
        print(f"{who} at least matches every baseline on every metric: "
              + ("yes" if not lost else f"no ({'; '.join(lost)})"))


def margin(draw: Score, best: Score) -> float:
    """The draw's worst lead over the best baseline, in units of 0.1 bit / 1 % top-5 / 0.1 step."""
    return min((draw.bits - best.bits) / 0.1, (draw.top5 - best.top5) / 0.01,
               (best.hamming - draw.hamming) / 0.1)


def tune() -> None:
    """Each relation's Setting, chosen on the tuning split of train under both ghost-note rules
    (the counts always cleaned, as shipped): the (concentration, sharpness) whose draws at the
    default temperature lead the best baseline by the widest worst margin."""
    fit, _ = evaluation.tuning_split(GMD)
    held = {rule: evaluation.tuning_split(GMD, ghost)[1] for rule, ghost in GHOST_RULES.items()}
    counts = evaluation.counts_of(fit)
    print(f"tuning split: {sum(map(len, held['cleaned']))} bars held out of train, "
          f"{sum(map(len, fit))} counted")
    chosen = {}
    for relation in evaluation.RELATIONS:
        label, target, _, next_bar = relation
        plain = Sampler(counts, "fit")
        best = {rule: Score(*(f([r.scores[b] for b in BASELINES[1:]]) for f in (
            lambda xs: max(x.bits for x in xs), lambda xs: max(x.top5 for x in xs),
            lambda xs: min(x.hamming for x in xs))))
            for rule, runs in held.items()
            for (r,) in [evaluation.evaluate(plain, runs, only=BASELINES[1:], relations=(relation,))]}
        results = []
        for c in NEXT_CONCENTRATIONS if next_bar else CONCENTRATIONS:
            for t in TEMPERATURES:
                setting = Setting(c, FOCUS / t)
                s = Sampler(counts, "fit", {(target, next_bar): setting})
                worst = min(margin(r.scores["draw"], best[rule]) for rule, runs in held.items()
                            for r in evaluation.evaluate(s, runs, only=("draw",), relations=(relation,)))
                results.append((worst, setting))
        worst, setting = max(results, key=lambda r: r[0])
        chosen[target, next_bar] = setting
        print(f"{label:<26} concentration {setting.concentration:g}, temperature "
              f"{FOCUS / setting.sharpness:g} at the default: worst lead {worst:+.1f}")
    print("TUNED = {" + ", ".join(f"{k!r}: Setting({v.concentration:g}, {v.sharpness:.4g})"
                                  for k, v in chosen.items()) + "}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("prior", nargs="?", type=Path, help="prior file (default: the shipped one)")
    ap.add_argument("--temperature", type=float, default=FOCUS, help=f"of the draws (default {FOCUS:g})")
    ap.add_argument("--tune", action="store_true", help="choose each relation's Setting on the tuning split")
    args = ap.parse_args()
    if not (GMD / "info.csv").is_file():
        raise SystemExit(f"prior_eval: {GMD} has no info.csv; nothing to evaluate on")
    if args.tune:
        tune()
        return
    original = Sampler(database.build([(CORPUS / "drummy", 1)])[0], "drummy (the original's corpus)")
    s = Sampler.from_file(args.prior or default_path())
    print(f"prior {s.source}; draws at temperature {args.temperature:g}; mass = median share of the "
          "model's probability in the candidate set")
    for rule, ghost in GHOST_RULES.items():
        runs, stats = evaluation.validation_runs(GMD, ghost)
        print(f"\nGMD validation, ghost notes: {rule} ({stats.files} files, {sum(map(len, runs))} bars)")
        table(evaluation.evaluate(s, runs, original, args.temperature))
        bar2 = tuple(r for r in evaluation.RELATIONS if r[3])
        print('steps 17-32: mode "likely" (bar 1 may repeat; the draw above) against "new" (never bar 1)')
        modes = evaluation.evaluate(s, runs, temperature=args.temperature, only=("draw", "new"),
                                    relations=bar2)
        table(modes, ("draw", "new"), verdict=False)
        print("whole kit: drawn given the basis alone | given it and a class drawn before (KIT_JOINT)")
        for label, n, alone, joint in evaluation.kit(s, runs, args.temperature):
            print(f"{label:<32}{n:>6} | {alone.bits:>6.2f} {alone.top5:>5.3f} {alone.hamming:>5.2f} | "
                  f"{joint.bits:>6.2f} {joint.top5:>5.3f} {joint.hamming:>5.2f}")


if __name__ == "__main__":
    main()
