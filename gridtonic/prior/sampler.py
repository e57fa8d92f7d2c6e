"""The in-memory sampler: a new 16-step pattern for one instrument given another's (or given the
same instrument's previous bar), from the prior's counts, always with an answer.

The probability of pattern y given basis x is an interpolated back-off (Witten-Bell):
  exact basis x → bases at Hamming distance 1 → distance 2 (only while evidence is thin)
  → the class's unconditional frequencies → independent per-step frequencies,
each level mixing in the next with weight types/(count + types). The last level gives every one
of the 65,536 patterns some probability, so an unseen basis or an unseen answer never means
"nothing". Sampling draws from the patterns the prior has seen, with these probabilities.

Loading reads SQLite once (seconds at most, so ``load`` runs it in a trio thread); ``generate``
is pure numpy over in-memory arrays (well under a millisecond) and never touches the clock path.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from importlib import resources
from itertools import combinations
from pathlib import Path

import numpy as np
import trio

from gridtonic.core.session import Track
from gridtonic.io import store
from gridtonic.prior import database
from gridtonic.prior.database import Counts, ImpossibleData, PriorError
from gridtonic.prior.drums import CLASS_ID, CLASSES, FALLBACK_CLASS, HALF, class_of, decode, encode

log = logging.getLogger(__name__)

THIN = 20  # pooled count below which the back-off also pools bases at Hamming distance 2
# Back-off weight of a conditional level: C·types / (count + C·types). Witten-Bell (C = 1) trusts
# a basis's few counts too much within a bar of human drumming (C = 6); bar → next bar rows are
# sharper (a bar mostly repeats), and C = 6 there flattened P(backbeat → backbeat) from 0.62 to 0.46:
# C = 2. Both chosen on the tuning split of train (bench/prior_eval.py --tune), never on validation.
CONCENTRATION = 6.0
NEXT_CONCENTRATION = 2.0
STEP_PSEUDO = 4.0  # the class's step rates count as this many bars in a basis's step rates
# Most frequent patterns always among the candidates: with 64 a draw covered a median 75 % of the
# model's mass; 2048 lets a draw score as well as the model (tuning split), still under 1 ms.
TOP_UNCONDITIONAL = 2048
# Temperatures outside this range only make every draw the favourite or near-uniform noise.
TEMPERATURE_MIN, TEMPERATURE_MAX = 0.05, 5.0
# The default temperature, where the focus/wild control starts: on the tuning split 0.9 is the
# warmest setting whose draws are at least as close (expected Hamming) to the drummer as every
# baseline's while keeping their likelihood; the original's draws are 1-2 steps further off.
FOCUS = 0.9
BITS = np.arange(HALF, dtype=np.int64)
_FLIPS = [np.array([sum(1 << j for j in c) for c in combinations(range(HALF), d)], np.int64) for d in (1, 2)]
# A class without data in the prior borrows the closest one (drummy and GMD have no claps).
STAND_IN = {"clap": "snare", "ride": "closed hat", "open hat": "closed hat", "crash": "ride",
            "tom": "snare", "closed hat": "snare", "snare": "kick", "kick": "snare"}


def checked_temperature(temperature: float) -> float:
    """``temperature`` clamped to the usable range, with a one-line warning when it was outside
    (NaN plays as 1), so a typo never silently turns into something else."""
    if TEMPERATURE_MIN <= temperature <= TEMPERATURE_MAX:
        return temperature
    used = 1.0 if math.isnan(temperature) else min(max(temperature, TEMPERATURE_MIN), TEMPERATURE_MAX)
    log.warning("temperature %g is outside %g..%g; using %g", temperature, TEMPERATURE_MIN,
                TEMPERATURE_MAX, used)
    return used


def default_path() -> Path:
    """The prior shipped in the package (built from ../shared by ``make prior``)."""
    return Path(str(resources.files("gridtonic.prior") / "data" / "prior.sqlite"))


@dataclass(frozen=True)
class Rows:
    """basis pid → row of (pid, count), as sorted keys with CSR offsets."""

    keys: np.ndarray
    start: np.ndarray
    pids: np.ndarray
    n: np.ndarray
    concentration: float  # how far these rows' counts are trusted (see CONCENTRATION)

    @classmethod
    def from_columns(cls, basis: np.ndarray, pids: np.ndarray, n: np.ndarray, concentration: float) -> Rows:
        order = np.lexsort((pids, basis))
        basis, pids, n = basis[order], pids[order], n[order].astype(np.float64)
        keys, first = np.unique(basis, return_index=True)
        return cls(keys, np.append(first, len(basis)), pids, n, concentration)

    def gather(self, bases: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All (pid, count) entries of the rows of ``bases`` that exist, pooled and summed."""
        if not len(self.keys):
            return np.zeros(0, np.int64), np.zeros(0)
        i = np.minimum(np.searchsorted(self.keys, bases), len(self.keys) - 1)
        i = i[self.keys[i] == bases]
        if not len(i):
            return np.zeros(0, np.int64), np.zeros(0)
        s, e = self.start[i], self.start[i + 1]
        if len(i) == 1:
            return self.pids[s[0]:e[0]], self.n[s[0]:e[0]]
        lens = e - s
        pos = np.repeat(s - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
        pids, inverse = np.unique(self.pids[pos], return_inverse=True)
        return pids, np.bincount(inverse, weights=self.n[pos])


@dataclass(frozen=True)
class Unconditional:
    """One class's pattern frequencies, with per-step hit rates for patterns never seen."""

    pids: np.ndarray  # sorted
    n: np.ndarray
    top: np.ndarray  # the most frequent pids
    rate: np.ndarray  # P(step j hit), per step

    @classmethod
    def from_counts(cls, pids: np.ndarray, n: np.ndarray, top: int = TOP_UNCONDITIONAL) -> Unconditional:
        n = n.astype(np.float64)
        rate = _hits(pids, n) / max(n.sum(), 1.0)
        top = pids[np.argsort(-n, kind="stable")[:top]]
        return cls(pids, n, np.sort(top), rate)

    def probability(self, ys: np.ndarray, rate: np.ndarray | None = None) -> np.ndarray:
        """Frequencies, backing off to independent steps at ``rate`` (default the class's)."""
        return _interpolate(self.pids, self.n, ys, _per_step(self.rate if rate is None else rate, ys))


def _hits(pids: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Weighted hit count of each step."""
    return ((pids[:, None] >> BITS) & 1).T @ n


def _per_step(rate: np.ndarray, ys: np.ndarray) -> np.ndarray:
    r = np.clip(rate, 1e-3, 1 - 1e-3)
    bits = (ys[:, None] >> BITS) & 1
    return np.exp(bits @ np.log(r) + (1 - bits) @ np.log1p(-r))


def _lookup(pids: np.ndarray, n: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Counts of ``ys`` in a sorted (pids, n) row (0 where absent)."""
    if not len(pids):
        return np.zeros(len(ys))
    i = np.minimum(np.searchsorted(pids, ys), len(pids) - 1)
    return np.where(pids[i] == ys, n[i], 0.0)


def _interpolate(pids: np.ndarray, n: np.ndarray, ys: np.ndarray, lower: np.ndarray,
                 concentration: float = 1.0) -> np.ndarray:
    """Witten-Bell style: (count(y) + c·types · lower(y)) / (total + c·types)."""
    total, types = n.sum(), concentration * len(pids)
    if total <= 0:
        return lower
    return (_lookup(pids, n, ys) + types * lower) / (total + types)


@dataclass(frozen=True)
class Evidence:
    """The pooled rows a basis backs off through, nearest first, and how the answer was found."""

    levels: list[tuple[np.ndarray, np.ndarray]]
    how: str
    concentration: float


@dataclass(frozen=True)
class Generated:
    """A generated 16-step pattern, with how the sampler found it."""

    pid: int
    probability: float  # under the model (before temperature and the exclusion)
    relation: str  # e.g. "snare | kick"
    how: str  # e.g. "exact basis (n=120)", "Hamming 1 (3 bases, n=14)"

    @property
    def pattern(self) -> str:
        return decode(self.pid)


@dataclass(frozen=True)
class Proposal:
    """New steps for a 32-step track; the action that asked decides whether to apply them."""

    steps: list[bool]
    how: str


class Sampler:
    """P(pattern | basis) for every class pair and bar → next bar, held in memory."""

    def __init__(self, counts: Counts, source: str = "prior", concentration: float = CONCENTRATION,
                 next_concentration: float = NEXT_CONCENTRATION, top: int = TOP_UNCONDITIONAL) -> None:
        self.source = source
        p = counts.pattern
        self.unconditional = {
            c: Unconditional.from_counts(p[p[:, 0] == c, 1], p[p[:, 0] == c, 2], top)
            for c in range(len(CLASSES))
        }
        self.with_data = frozenset(c for c, u in self.unconditional.items() if np.any(u.pids != 0))
        q = counts.pair
        self.within: dict[tuple[int, int], Rows] = {}
        for a, b in combinations(range(len(CLASSES)), 2):
            sel = q[(q[:, 0] == a) & (q[:, 2] == b)]
            self.within[a, b] = Rows.from_columns(sel[:, 1], sel[:, 3], sel[:, 4], concentration)
            self.within[b, a] = Rows.from_columns(sel[:, 3], sel[:, 1], sel[:, 4], concentration)
        j = counts.adjacent
        self.next_bar = {
            c: Rows.from_columns(*j[j[:, 0] == c, 1:4].T, next_concentration)
            for c in range(len(CLASSES))
        }

    @classmethod
    def from_file(cls, path: Path) -> Sampler:
        return cls(database.read_counts(path), str(path))

    # -- the model -------------------------------------------------------------------------

    def resolve(self, name: str) -> tuple[int, str]:
        """Class id for a class or track name, standing in for classes the prior has no data for."""
        cls = class_of(name)
        notes = [] if cls else [f"'{name}' is no known instrument; played as {FALLBACK_CLASS}"]
        cls = cls or FALLBACK_CLASS
        for _ in CLASSES:
            if CLASS_ID[cls] in self.with_data:
                return CLASS_ID[cls], "; ".join(notes)
            notes.append(f"no {cls} data in the prior; {cls} played as {STAND_IN[cls]}")
            cls = STAND_IN[cls]
        if not self.with_data:
            raise PriorError(f"{self.source}: no class has any data")
        c = min(self.with_data)
        return c, "; ".join([*notes, f"played as {CLASSES[c]}"])

    def evidence(self, rows: Rows, basis: int) -> Evidence:
        """Pool the rows of the basis, then of bases one step flip away, then two while thin."""
        levels = [rows.gather(np.array([basis], np.int64))]
        how = f"exact basis (n={levels[0][1].sum():g})" if len(levels[0][0]) else ""
        for d, flips in enumerate(_FLIPS, start=1):
            if d == 2 and sum(n.sum() for _, n in levels) >= THIN:
                break
            level = rows.gather(basis ^ flips)
            levels.append(level)
            if not how and len(level[0]):
                found = len(np.intersect1d(basis ^ flips, rows.keys, assume_unique=True))
                how = f"nearest bases at Hamming {d} ({found} found, n={level[1].sum():g})"
        return Evidence(levels, how or "unseen basis: unconditional frequencies", rows.concentration)

    def probability(self, target: int, evidence: Evidence, ys: np.ndarray) -> np.ndarray:
        """P(y | basis) for each y, through the whole back-off; patterns never seen get the step
        rates of the basis's evidence (smoothed towards the class's)."""
        u = self.unconditional[target]
        hits = sum((_hits(pids, n) for pids, n in evidence.levels), STEP_PSEUDO * u.rate)
        total = sum(n.sum() for _, n in evidence.levels) + STEP_PSEUDO
        p = u.probability(ys, hits / total)
        for pids, n in reversed(evidence.levels):
            p = _interpolate(pids, n, ys, p, evidence.concentration)
        return p

    def candidates(self, target: int, evidence: Evidence) -> np.ndarray:
        return np.unique(np.concatenate([self.unconditional[target].top] + [p for p, _ in evidence.levels]))

    def relation(self, target: int, basis: int) -> tuple[Rows, str]:
        """Within-bar rows target | basis; the next-bar rows when both are one class (a variation)."""
        if target == basis:
            return self.next_bar[target], f"{CLASSES[target]}: variation (next bar | bar)"
        return self.within[basis, target], f"{CLASSES[target]} | {CLASSES[basis]}"

    # -- generation ------------------------------------------------------------------------

    def draws(self, target: int, ev: Evidence, temperature: float, exclude: frozenset[int] = frozenset(),
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What a draw picks from: candidates ``ys``, the model's ``p`` of each and the drawing
        weights ``w`` (p ** (1/temperature), 0 for ``exclude``; not normalised, may be all 0).
        The evaluation scores exactly this."""
        ys = self.candidates(target, ev)
        p = self.probability(target, ev, ys)
        w = p ** (1.0 / temperature)
        if exclude:
            w[np.isin(ys, np.fromiter(exclude, np.int64))] = 0.0
        return ys, p, w

    def _draw(self, target: int, rows: Rows, basis_pid: int, temperature: float,
              rng: random.Random, exclude: int | None, relation: str) -> Generated:
        ev = self.evidence(rows, basis_pid)
        ys, p, w = self.draws(target, ev, temperature, frozenset() if exclude is None else {exclude})
        total = w.sum()
        if total > 0 and np.isfinite(total):
            i = min(int(np.searchsorted(np.cumsum(w), rng.random() * total, side="right")), len(ys) - 1)
            return Generated(int(ys[i]), float(p[i]), relation, ev.how)
        u = self.unconditional[target]  # nothing left to draw: per-step frequencies, a new pattern
        for _ in range(100):
            pid = encode([rng.random() < r for r in u.rate])
            if pid != exclude:
                break
        else:
            pid = (exclude or 0) ^ 1
        prob = float(self.probability(target, ev, np.array([pid]))[0])
        return Generated(pid, prob, relation, "per-step frequencies (every known pattern excluded)")

    def generate(self, target_instrument: str, basis_pattern: str | int, basis_instrument: str,
                 temperature: float = FOCUS, seed: int | None = None, exclude: str | int | None = None,
                 ) -> Generated:
        """A 16-step pattern for ``target_instrument`` given ``basis_instrument`` playing
        ``basis_pattern`` in the same bar; never the ``exclude`` pattern (the current one)."""
        target, note_t = self.resolve(target_instrument)
        basis, note_b = self.resolve(basis_instrument)
        rows, relation = self.relation(target, basis)
        g = self._draw(target, rows, _pid(basis_pattern), checked_temperature(temperature),
                       random.Random(seed), None if exclude is None else _pid(exclude), relation)
        return _noted(g, note_t, note_b)

    def next_bar_of(self, instrument: str, first_bar: str | int, temperature: float = FOCUS,
                    seed: int | None = None, exclude: str | int | None = None) -> Generated:
        """The bar after ``first_bar`` for one instrument: P(bar 2 | bar 1)."""
        c, note = self.resolve(instrument)
        g = self._draw(c, self.next_bar[c], _pid(first_bar), checked_temperature(temperature),
                       random.Random(seed), None if exclude is None else _pid(exclude),
                       f"{CLASSES[c]}: bar 2 | bar 1")
        return _noted(g, note)

    def track_from(self, target: Track, basis: Track, temperature: float = FOCUS,
                   seed: int | None = None) -> Proposal:
        """All 32 steps of ``target`` from ``basis``'s (introspect row from row), each half from the
        basis's half. A basis repeating its first half gives a repeating answer; the answer always
        differs from ``target``'s current steps."""
        rng = random.Random(seed)
        temperature = checked_temperature(temperature)  # once, so one warning for both halves
        b1, b2 = encode(basis.steps[:HALF]), encode(basis.steps[HALF:])
        c1, c2 = encode(target.steps[:HALF]), encode(target.steps[HALF:])
        first = self.generate(target.name, b1, basis.name, temperature, rng.getrandbits(64), c1)
        if b2 == b1:
            second = first
        else:
            second = self.generate(target.name, b2, basis.name, temperature, rng.getrandbits(64), c2)
        return Proposal(_steps(first.pid, second.pid), _hows(first, second))

    def second_half(self, track: Track, temperature: float = FOCUS, seed: int | None = None) -> Proposal:
        """Steps 17-32 of ``track`` conditioned on its steps 1-16 (P(bar 2 | bar 1)); never the
        current steps 17-32."""
        first = encode(track.steps[:HALF])
        g = self.next_bar_of(track.name, first, temperature, seed, encode(track.steps[HALF:]))
        return Proposal(_steps(first, g.pid), _hows(g))


def _pid(pattern: str | int) -> int:
    return pattern & 0xFFFF if isinstance(pattern, int) else encode(pattern)


def _noted(g: Generated, *notes: str) -> Generated:
    extra = "; ".join(n for n in dict.fromkeys(notes) if n)
    return Generated(g.pid, g.probability, g.relation, f"{g.how}; {extra}" if extra else g.how)


def _steps(first: int, second: int) -> list[bool]:
    return [bool(first >> j & 1) for j in range(HALF)] + [bool(second >> j & 1) for j in range(HALF)]


def _hows(*gs: Generated) -> str:
    return " / ".join(dict.fromkeys(f"{g.relation}: {g.how}" for g in gs))


def load_file(path: Path | None = None) -> Sampler | None:
    """The sampler for ``path`` (default: the shipped prior), or None with one logged line when the
    prior cannot be used: the instrument plays on without introspection."""
    path = path or default_path()
    try:
        return Sampler.from_file(path)
    except ImpossibleData as e:  # a prior, but damaged: never read again (other files are left be)
        try:
            where = f"moved to {store.move_aside(path)}"
        except OSError as moving:
            where = f"could not move it aside ({moving.strerror})"
        log.error("%s; %s; introspection is off", e, where)
    except Exception as e:  # noqa: BLE001 - a damaged prior turns introspection off, never the music
        log.error("%s; introspection is off", e if isinstance(e, PriorError) else store.unusable(path, e))
    return None


async def load(path: Path | None = None) -> Sampler | None:
    """``load_file`` in a worker thread, so the clock and sequencer never wait for it."""
    return await trio.to_thread.run_sync(load_file, path)
