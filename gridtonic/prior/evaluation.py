"""Held-out evaluation of a prior on the Groove MIDI Dataset *validation* split (never counted in the
shipped prior, which holds only the train split): mean log-likelihood (natural log) and top-5 hit
rate of the true pattern, for the sampler's back-off model and two baselines from the same prior —
unconditional frequencies, and exact-match lookup like the original (an unseen basis or an unseen
answer scores a uniform 1/65536, a miss for top-5).

Shared by ``bench/prior_eval.py`` (prints the table) and the test holding the shipped prior to it,
so the figures in the README and the check in CI come from one piece of code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gridtonic.prior.corpus import Run, Stats, corpus_files, read_file
from gridtonic.prior.drums import CLASS_ID
from gridtonic.prior.sampler import Sampler

UNIFORM = math.log(1 / 65536)
TASKS = (  # (label, target, basis, next bar?)
    ("snare | kick", "snare", "kick", False),
    ("hats | kick", "closed hat", "kick", False),
    ("kick | snare", "kick", "snare", False),
    ("kick bar 2 | bar 1", "kick", "kick", True),
    ("snare bar 2 | bar 1", "snare", "snare", True),
    ("hats bar 2 | bar 1", "closed hat", "closed hat", True),
)


@dataclass(frozen=True)
class Score:
    """One predictor on one relation: mean log-likelihood of the true pattern and top-5 hit rate."""

    ll: float
    top5: float  # fraction 0..1


@dataclass(frozen=True)
class Relation:
    """The three predictors on one relation, with how often each answered."""

    label: str
    cases: int
    model: Score
    unconditional: Score
    exact: Score
    model_coverage: float  # cases the model gave a positive, finite probability (should be 1)
    exact_coverage: float  # cases whose basis the exact-match lookup found


def validation_runs(root: Path) -> tuple[list[Run], Stats]:
    """The bars of the GMD validation split under ``root`` (a folder with info.csv)."""
    stats = Stats()
    runs = [run for path in corpus_files(root, "validation", stats) for run in read_file(path, stats)]
    return runs, stats


def cases(runs: list[Run], target: int, basis: int, next_bar: bool) -> list[tuple[int, int]]:
    """(basis pattern, true target pattern) for every bar, or every bar and the next."""
    if next_bar:
        return [(a[basis], b[target]) for run in runs for a, b in zip(run, run[1:], strict=False)]
    return [(bar[basis], bar[target]) for run in runs for bar in run]


def _score(rows: list[tuple[float, bool]]) -> Score:
    return Score(float(np.mean([ll for ll, _ in rows])), float(np.mean([hit for _, hit in rows])))


def relation(s: Sampler, runs: list[Run], label: str, target_name: str, basis_name: str,
             next_bar: bool) -> Relation:
    """Score the model and both baselines on one relation."""
    target, basis = CLASS_ID[target_name], CLASS_ID[basis_name]
    rows = s.next_bar[target] if next_bar else s.within[basis, target]
    u = s.unconditional[target]
    u_top = set(u.pids[np.argsort(-u.n, kind="stable")[:5]].tolist())
    model, uncond, exact = [], [], []
    answered = covered = 0
    for x, y in cases(runs, target, basis, next_bar):
        ev = s.evidence(rows, x)
        ys = s.candidates(target, ev)
        p = s.probability(target, ev, ys)
        top = set(ys[np.argsort(-p, kind="stable")[:5]].tolist())
        py = float(s.probability(target, ev, np.array([y]))[0])
        answered += bool(0 < py <= 1 and math.isfinite(py))
        model.append((math.log(py) if py > 0 else UNIFORM, y in top))
        uncond.append((math.log(u.probability(np.array([y]))[0]), y in u_top))
        pids, n = rows.gather(np.array([x]))
        covered += bool(len(pids))
        prob = n[pids == y].sum() / n.sum() if len(pids) else 0.0
        top_exact = set(pids[np.argsort(-n, kind="stable")[:5]].tolist())
        exact.append((math.log(prob) if prob > 0 else UNIFORM, y in top_exact))
    k = len(model)
    return Relation(label, k, _score(model), _score(uncond), _score(exact), answered / k, covered / k)


def evaluate(s: Sampler, runs: list[Run]) -> list[Relation]:
    """Every relation of ``TASKS``."""
    return [relation(s, runs, *task) for task in TASKS]
