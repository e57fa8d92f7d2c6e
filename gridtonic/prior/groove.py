"""Groove: how hard and how far off the grid each step is played, learned from drummers'
performances (the Groove MIDI Dataset keeps both), so a generated pattern is not a flat grid.

For one instrument class, a step's velocity (0..1) and timing offset (in steps, -0.5..0.5) are
the drummers' median at that step of the bar plus a linear correction from the bar's context:
whether the basis instrument (the kick; the snare for the kick) hits with it, whether the
instrument's own neighbouring steps are hit and how busy the instrument and the basis are. The
correction is fitted by least absolute deviations (what the held-out error measures;
``bench/groove_eval.py``) and kept only where it helps on hits of train files it was not fitted on
(the context carries drummers' habits that do not always travel). The weights are stored in the
prior and applied at a key press as one small matrix product.

gridtonic's micro-timing unit is ``Track.nudge``: 1/24 of a step, -12..12.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gridtonic.prior.corpus import GHOST_VELOCITY, Hit, Stats, bars_of, corpus_files, read_file
from gridtonic.prior.drums import CLASS_ID, CLASSES, HALF, encode

NUDGES = 24  # Track.nudge units per step
NUDGE_MAX = 12
OFFSET_MAX = NUDGE_MAX / NUDGES  # steps off the grid a groove may play (half a step)
OUTPUTS = ("velocity", "timing")
BASIS = {c: CLASS_ID["snare"] if name == "kick" else CLASS_ID["kick"] for c, name in enumerate(CLASSES)}
CONTEXT = 6  # bias, basis hit on the step, own previous and next step hit, own and basis density
WEIGHTS = HALF + CONTEXT  # per class and output: the median at each step, then the context's weights
CENTRES = {"median": np.median, "mean": np.mean}
FOLDS = 5  # cross-validation folds (by file) choosing each class's centre and context
ROUNDS = 20  # reweighted least-squares rounds towards least absolute deviations
RIDGE = 1.0
_STEPS = np.arange(HALF)


def context(own: np.ndarray, basis: np.ndarray, step: np.ndarray) -> np.ndarray:
    """(n, CONTEXT) for n steps: ``own`` and ``basis`` are the bars' pids, ``step`` 0..15."""
    out = np.empty((len(step), CONTEXT))
    out[:, 0] = 1.0
    out[:, 1] = _BITS[basis, step]
    out[:, 2] = _BITS[own, (step - 1) % HALF]
    out[:, 3] = _BITS[own, (step + 1) % HALF]
    out[:, 4] = _POPCOUNT[own]
    out[:, 5] = _POPCOUNT[basis]
    return out


# step j of every pid, and every pid's hits / 16: table look-ups keep a key press's groove cheap
_BITS = ((np.arange(1 << HALF)[:, None] >> _STEPS) & 1).astype(np.uint8)
_POPCOUNT = _BITS.sum(axis=1) / HALF


@dataclass(frozen=True)
class Samples:
    """Every kept hit of a set of performances, with its bar's pids: what the groove learns from
    and is scored on."""

    cls: np.ndarray
    step: np.ndarray  # 0..15 within the bar
    own: np.ndarray  # the hit's class's pid in its bar
    basis: np.ndarray  # the basis class's pid in that bar
    velocity: np.ndarray  # 0..1
    offset: np.ndarray  # steps off the grid
    file: np.ndarray  # which performance

    @classmethod
    def of(cls, performances: list[list[Hit]]) -> Samples:
        rows = []
        for i, hits in enumerate(performances):
            bars = bars_of(hits)
            loudest: dict[tuple[int, int], Hit] = {}  # two notes of one class on one step: the louder
            for h in hits:
                if (h.step, h.cls) not in loudest or h.velocity > loudest[h.step, h.cls].velocity:
                    loudest[h.step, h.cls] = h
            for (step, c), h in sorted(loudest.items()):
                bar = bars[step // HALF]
                rows.append((c, step % HALF, bar[c], bar[BASIS[c]], h.velocity / 127, h.offset, i))
        a = np.array(rows, np.float64).reshape(-1, 7)
        ints = a[:, [0, 1, 2, 3, 6]].astype(np.int64)
        return cls(ints[:, 0], ints[:, 1], ints[:, 2], ints[:, 3], a[:, 4], a[:, 5], ints[:, 4])

    def where(self, keep: np.ndarray) -> Samples:
        fields = ("cls", "step", "own", "basis", "velocity", "offset", "file")
        return Samples(*(getattr(self, f)[keep] for f in fields))

    def of_class(self, c: int) -> Samples:
        return self.where(self.cls == c)

    def context(self) -> np.ndarray:
        return context(self.own, self.basis, self.step)


def _least_absolute(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weights minimising sum |y - x w| (plus a small ridge), by reweighted least squares."""
    w = np.ones(len(y))
    ridge = RIDGE * np.eye(x.shape[1])
    for _ in range(ROUNDS):
        xw = x * w[:, None]
        coef = np.linalg.solve(x.T @ xw + ridge, xw.T @ y)
        w = 1.0 / np.maximum(np.abs(y - x @ coef), 1e-3)
    return coef


def _fit_one(s: Samples, y: str, centre: str, with_context: bool) -> np.ndarray:
    """Per-step ``centre`` (median or mean) of ``y``, then (``with_context``) the context's
    weights on what that leaves."""
    values, stat = getattr(s, y), CENTRES[centre]
    centres = np.array([stat(values[s.step == j]) if np.any(s.step == j) else stat(values)
                        for j in range(HALF)])
    coef = _least_absolute(s.context(), values - centres[s.step]) if with_context else np.zeros(CONTEXT)
    return np.concatenate([centres, coef])


def _error(w: np.ndarray, s: Samples, y: str) -> float:
    return float(np.abs(getattr(s, y) - w[s.step] - s.context() @ w[HALF:]).mean())


def learn(performances: list[list[Hit]]) -> np.ndarray:
    """(classes, outputs, WEIGHTS) weights from train performances. For each class and output,
    the per-step centre (median or mean) and whether the context is used are chosen by
    ``FOLDS``-fold cross-validation over the performances (each fold's files scored by weights
    fitted on the other files), then refitted on all of them. Rounded, so a rebuild on another
    machine's BLAS gives the same prior; classes without hits get zeros (left flat)."""
    every = Samples.of(performances)
    weights = np.zeros((len(CLASSES), len(OUTPUTS), WEIGHTS))
    choices = [(centre, ctx) for centre in CENTRES for ctx in (False, True)]
    for c in range(len(CLASSES)):
        e = every.of_class(c)
        folds = [(e.where(e.file % FOLDS != k), e.where(e.file % FOLDS == k)) for k in range(FOLDS)]
        if any(len(f.cls) < WEIGHTS or not len(t.cls) for f, t in folds):
            continue
        for i, y in enumerate(("velocity", "offset")):
            errors = [sum(_error(_fit_one(f, y, *k), t, y) * len(t.cls) for f, t in folds) for k in choices]
            weights[c, i] = _fit_one(e, y, *choices[int(np.argmin(errors))])
    return np.round(weights, 6)


@dataclass(frozen=True)
class Groove:
    """Per-step velocity (0..1) and nudge (1/24 step, -12..12) for 32 steps, steps left alone."""

    velocity: list[float]
    nudge: list[int]


class GrooveModel:
    """The fitted weights, applied to a track's 32 steps. The model is affine in the 32 bits of a
    bar (its own 16 steps and the basis's), so at load each class's weights become one
    (1 + 32, 32) matrix (the answer with no hits, then what each bit adds to each step's velocity
    and timing) and a key press grooves both bars with one product, cached or not."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights
        self.classes = frozenset(c for c in range(len(CLASSES)) if np.any(weights[c]))
        self._affine = {c: self._affine_of(c) for c in self.classes}

    def _raw(self, c: int, own: np.ndarray, basis: np.ndarray, step: np.ndarray) -> np.ndarray:
        w = self.weights[c]
        return w[:, step].T + context(own, basis, step) @ w[:, HALF:].T

    def predict(self, c: int, own: np.ndarray, basis: np.ndarray, step: np.ndarray) -> np.ndarray:
        """(n, 2): velocity 0..1 and offset in steps, for n steps of class ``c``."""
        return np.clip(self._raw(c, own, basis, step), (0.0, -OFFSET_MAX), (1.0, OFFSET_MAX))

    def _affine_of(self, c: int) -> np.ndarray:
        """Row 0: every step's (velocity, offset) of a bar with no hits; row 1 + k: what hit k adds
        (k < 16: the instrument's own step k, then the basis's), found by playing each bit alone
        through ``context``."""
        one = np.concatenate([[0], 1 << _STEPS, np.zeros(HALF, np.int64)])
        other = np.concatenate([[0], np.zeros(HALF, np.int64), 1 << _STEPS])
        out = self._raw(c, np.repeat(one, HALF), np.repeat(other, HALF), np.tile(_STEPS, len(one)))
        out = out.reshape(len(one), 2 * HALF)  # (bar, step · 2 + output)
        out[1:] -= out[0]
        return out

    def groove(self, c: int, steps: list[bool], basis: list[bool] | None = None,
               amount: float = 1.0) -> Groove:
        """Velocity and nudge for each of 32 steps of class ``c`` (as if hit, so a step added later
        fits too), given the basis instrument's steps (none: the basis rests). ``amount`` 0..1
        goes from flat (velocity 1, on the grid) to the drummer's groove."""
        amount = min(max(amount, 0.0), 1.0)
        if c not in self.classes:  # no performances of this class in the prior: flat
            return Groove([1.0] * 2 * HALF, [0] * 2 * HALF)
        basis = basis or []
        bars = [[encode(steps[h:h + HALF]), encode(basis[h:h + HALF])] for h in (0, HALF)]
        a = self._affine[c]
        out = np.minimum(np.maximum(a[0] + _BITS[bars].reshape(2, 2 * HALF) @ a[1:], _LOW), _HIGH)
        velocity = np.round(1.0 - amount * (1.0 - out[:, 0::2]), 4)
        nudge = np.rint(amount * out[:, 1::2] * NUDGES)  # within ±NUDGE_MAX, as the offset is
        return Groove(velocity.ravel().tolist(), nudge.astype(int).ravel().tolist())


_LOW, _HIGH = np.tile([0.0, -OFFSET_MAX], HALF), np.tile([1.0, OFFSET_MAX], HALF)  # per step and output


def performances_of(root: Path, split: str, ghost: dict[str, int] = GHOST_VELOCITY) -> list[list[Hit]]:
    """The kept hits of every beat file of one split of a GMD-style folder."""
    stats, out = Stats(), []
    for path in corpus_files(root, split, stats):
        for _ in read_file(path, stats, ghost, out):
            pass
    return out
