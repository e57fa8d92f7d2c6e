"""Held-out evaluation of a prior on Groove MIDI Dataset bars it never counted: what the sampler
*draws* (its candidate set at a temperature, the weights it really samples with) and the full
model over all 65,536 patterns beside it, against four baselines, per relation, under two ghost-note
rules (gridtonic's cleaning, and every hit kept).

Metrics, each an exact expectation over the predictor's distribution q, averaged over cases:
- bits: log2 q(truth); a predictor that gives the truth nothing scores log2(1/65536) = -16 bits;
- top5: the truth is among the 5 patterns q favours;
- hamming: expected Hamming distance of a draw from q to the truth (steps wrong out of 16).

Baselines: ``original`` (supertonic's table: the top 50 patterns of the exact basis, counted from
drummy's corpus, renormalised; for bar 2 a uniform pick among the 100 most common patterns, as
its ``random(S)``; an unseen basis returns nothing, scored as uniform), ``unconditional`` (the
class's pattern frequencies), ``back-off`` (the exact basis row interpolated Witten-Bell with the
frequencies) and ``exact`` (the exact basis row alone; unseen basis: uniform).

Splits: the shipped prior counts GMD *train*; ``tuning_split`` keeps every fifth train file out of
the counts to choose settings on, so validation is only ever reported, never tuned on. Shared by
``bench/prior_eval.py`` (the table) and the test holding the shipped prior to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gridtonic.prior.corpus import EVERY_HIT, GHOST_VELOCITY, Run, Stats, corpus_files, read_file
from gridtonic.prior.database import Counts, Tally
from gridtonic.prior.drums import CLASS_ID, CLASSES
from gridtonic.prior.sampler import FOCUS, Rows, Sampler

FLOOR = -16.0  # log2(1/65536)
ALL = np.arange(1 << 16, dtype=np.int64)
POPCOUNT = np.array([bin(i).count("1") for i in range(1 << 16)], np.float64)
UNIFORM = (ALL, np.full(len(ALL), 1.0 / len(ALL)))
RELATIONS = (  # (label, target, basis, next bar?)
    ("snare | kick", "snare", "kick", False),
    ("closed hat | kick", "closed hat", "kick", False),
    ("open hat | kick", "open hat", "kick", False),
    ("kick | snare", "kick", "snare", False),
    ("kick bar 2 | bar 1", "kick", "kick", True),
    ("snare bar 2 | bar 1", "snare", "snare", True),
    ("closed hat bar 2 | bar 1", "closed hat", "closed hat", True),
)
GHOST_RULES = {"cleaned": GHOST_VELOCITY, "every hit": EVERY_HIT}
PREDICTORS = ("draw", "model", "original", "unconditional", "back-off", "exact")
BASELINES = PREDICTORS[2:]
TUNE_EVERY = 5  # every fifth train file is the tuning split

Distribution = tuple[np.ndarray, np.ndarray]  # pids, probabilities summing to 1


@dataclass(frozen=True)
class Score:
    bits: float  # mean log2-likelihood of the truth
    top5: float  # fraction of cases with the truth among the 5 favourites
    hamming: float  # mean expected Hamming distance of a draw to the truth

    def at_least(self, other: Score, slack: float = 0.0) -> bool:
        """As good on every metric (``slack`` bits/fraction/steps of tolerance)."""
        return (self.bits >= other.bits - slack and self.top5 >= other.top5 - slack
                and self.hamming <= other.hamming + slack)


@dataclass(frozen=True)
class Relation:
    label: str
    cases: int
    scores: dict[str, Score]  # predictor -> score
    draw_mass: float  # median share of the model's probability inside the candidate set


def runs_of(root: Path, split: str, ghost: dict[str, int] = GHOST_VELOCITY) -> tuple[list[Run], Stats]:
    """The bars of one split of a GMD-style folder, ghost notes removed by ``ghost``."""
    stats = Stats()
    return [run for path in corpus_files(root, split, stats) for run in read_file(path, stats, ghost)], stats


def validation_runs(root: Path, ghost: dict[str, int] = GHOST_VELOCITY) -> tuple[list[Run], Stats]:
    return runs_of(root, "validation", ghost)


def counts_of(runs: list[Run]) -> Counts:
    """The prior's count tables of ``runs`` (what ``database.build`` would write for them)."""
    tally = Tally()
    present = [c for c in range(len(CLASSES)) if any(bar[c] for run in runs for bar in run)]
    tally.add(runs, 1, present)
    return tally.counts()


def tuning_split(root: Path, ghost: dict[str, int] = GHOST_VELOCITY) -> tuple[list[Run], list[Run]]:
    """(runs to count, runs to tune on): train files, every ``TUNE_EVERY``-th held out."""
    stats = Stats()
    files = corpus_files(root, "train", stats)
    fit = [run for i, p in enumerate(files) if i % TUNE_EVERY for run in read_file(p, stats, ghost)]
    tune = [run for i, p in enumerate(files) if not i % TUNE_EVERY for run in read_file(p, stats, ghost)]
    return fit, tune


def cases(runs: list[Run], target: int, basis: int, next_bar: bool) -> list[tuple[int, int]]:
    """(basis pattern, true target pattern) for every bar, or every bar and the next."""
    if next_bar:
        return [(a[basis], b[target]) for run in runs for a, b in zip(run, run[1:], strict=False)]
    return [(bar[basis], bar[target]) for run in runs for bar in run]


def _normalised(ys: np.ndarray, w: np.ndarray) -> Distribution:
    total = w.sum()
    return (ys, w / total) if total > 0 else UNIFORM


def _table(pids: np.ndarray, n: np.ndarray) -> Distribution:
    return _normalised(pids, n.astype(np.float64)) if len(pids) else UNIFORM


def predictors(s: Sampler, original: Sampler | None, target: int, basis: int, next_bar: bool,
               temperature: float) -> dict[str, Callable[[int], Distribution]]:
    """Each predictor as basis pid -> distribution over target patterns."""
    rows = s.next_bar[target] if next_bar else s.within[basis, target]
    u = s.unconditional[target]

    def draw(x: int) -> Distribution:
        ys, _, w = s.draws(target, s.evidence(rows, x), temperature)
        return _normalised(ys, w)

    def new(x: int) -> Distribution:  # steps 17-32 in mode "new": never a repeat of bar 1
        ys, _, w = s.draws(target, s.evidence(rows, x), temperature, frozenset({x}))
        return _normalised(ys, w)

    def model(x: int) -> Distribution:
        return ALL, s.probability(target, s.evidence(rows, x), ALL)

    def back_off(x: int) -> Distribution:  # Witten-Bell: (count + types · frequency) / (total + types)
        row = rows.pooled(np.array([x]))
        types = np.count_nonzero(row)
        if not types:
            return _table(u.pids, u.n)
        return u.pids, (row + types * u.n / u.n.sum()) / (row.sum() + types)

    out = {
        "draw": draw, "model": model,
        "unconditional": lambda x: _table(u.pids, u.n),
        "back-off": back_off,
        "exact": lambda x: _table(u.pids, rows.pooled(np.array([x]))),
    }
    if next_bar:
        out["new"] = new
    if original is not None:
        out["original"] = _original(original, target, basis, next_bar)
    return out


def _original(o: Sampler, target: int, basis: int, next_bar: bool) -> Callable[[int], Distribution]:
    u = o.unconditional[target]
    if next_bar:  # random(S): one of the 100 common patterns
        common = u.pids[np.argsort(-u.n, kind="stable")[:100]]
        return lambda x: _table(np.sort(common), np.ones(len(common)))
    rows: Rows = o.within[basis, target]

    def top50(x: int) -> Distribution:
        row = rows.pooled(np.array([x]))
        keep = np.sort(np.argsort(-row, kind="stable")[:min(50, np.count_nonzero(row))])
        return _table(u.pids[keep], row[keep])
    return top50


def _score(dist: Callable[[Any], Distribution], pairs: list[tuple[Any, int]]) -> Score:
    memo: dict[Any, tuple[Distribution, np.ndarray]] = {}
    bits, top, ham = [], [], []
    for x, y in pairs:
        if x not in memo:
            ys, q = dist(x)
            best = np.argsort(-q, kind="stable")[:5]
            memo[x] = ((ys, q), ys[best[q[best] > 0]])
        (ys, q), favourites = memo[x]
        i = np.searchsorted(ys, y)
        qy = q[i] if i < len(ys) and ys[i] == y else 0.0
        bits.append(max(float(np.log2(qy)), FLOOR) if qy > 0 else FLOOR)
        top.append(y in favourites)
        ham.append(float(q @ POPCOUNT[ys ^ y]))
    return Score(float(np.mean(bits)), float(np.mean(top)), float(np.mean(ham)))


def _draw_mass(s: Sampler, target: int, rows: Rows, pairs: list[tuple[int, int]]) -> float:
    mass = []
    for x in sorted({x for x, _ in pairs}):
        ev = s.evidence(rows, x)
        mass.append(s.probability(target, ev).sum())
    return float(np.median(mass))


def evaluate(s: Sampler, runs: list[Run], original: Sampler | None = None, temperature: float = FOCUS,
             only: tuple[str, ...] = PREDICTORS,
             relations: tuple[tuple[str, str, str, bool], ...] = RELATIONS) -> list[Relation]:
    """Each of ``relations``, for the predictors in ``only`` (``original`` needs a prior counted
    from drummy's corpus)."""
    out = []
    for label, target_name, basis_name, next_bar in relations:
        target, basis = CLASS_ID[target_name], CLASS_ID[basis_name]
        pairs = cases(runs, target, basis, next_bar)
        preds = predictors(s, original, target, basis, next_bar, temperature)
        scores = {name: _score(preds[name], pairs) for name in only if name in preds}
        rows = s.next_bar[target] if next_bar else s.within[basis, target]
        out.append(Relation(label, len(pairs), scores, _draw_mass(s, target, rows, pairs)))
    return out


# Whole-kit draws: a target given the basis alone, and jointly with a class drawn before it.
KIT_CASES = (("closed hat", "kick", "snare"), ("open hat", "kick", "closed hat"), ("ride", "kick", "snare"),
             ("tom", "kick", "snare"))


def kit(s: Sampler, runs: list[Run], temperature: float = FOCUS) -> list[tuple[str, int, Score, Score]]:
    """(label, cases, alone, joint) per ``KIT_CASES``: what the sampler draws for the target given
    the basis, and given the basis and the other class's true pattern in the same bar."""
    out = []
    for target, basis, extra in KIT_CASES:
        t, b, e = CLASS_ID[target], CLASS_ID[basis], CLASS_ID[extra]
        pairs = [((bar[b], bar[e]), bar[t]) for run in runs for bar in run]
        alone, joint = (_score(_given(s, t, classes, temperature), pairs) for classes in ((b,), (b, e)))
        out.append((f"{target} | {basis} & {extra}", len(pairs), alone, joint))
    return out


def _given(s: Sampler, target: int, classes: tuple[int, ...], temperature: float,
           ) -> Callable[[tuple[int, ...]], Distribution]:
    """The draws for ``target`` given the first len(classes) patterns of a case's basis tuple."""
    return lambda x: _normalised(*s.weights_given(target, tuple(zip(classes, x, strict=False)), temperature))
