"""The in-memory sampler: a new 16-step pattern for one instrument given another's (or given the
same instrument's previous bar, or jointly given two), from the prior's counts, always with an
answer; the groove (``groove``) adds velocity and timing; ``kit_from`` does a whole kit.

The probability of pattern y given basis x is an interpolated back-off (Witten-Bell):
  exact basis x → bases at Hamming distance 1 → distance 2 (only while evidence is thin)
  → the class's unconditional frequencies → independent per-step frequencies,
each level mixing in the next with weight C·types/(count + C·types), C per relation (``TUNED``).
The last level gives every one of the 65,536 patterns some probability, so an unseen basis or an
unseen answer never means "nothing". A draw picks among every pattern the class is known to play,
with weights p ** (sharpness / temperature).

Loading reads SQLite once and precomputes the back-off of every basis with deep evidence (``Deep``;
seconds at most, so ``load`` runs it in a trio thread); a key press is pure numpy over in-memory
arrays (a fraction of a millisecond; answers cached per basis), small enough for the surface to run
a track's in the trio thread, well inside the time the sequencer works ahead.
"""

from __future__ import annotations

import dataclasses
import functools
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
from gridtonic.prior.groove import BASIS, Groove, GrooveModel

log = logging.getLogger(__name__)

Given = tuple[tuple[int, int], ...]  # (basis class, basis pid) pairs a pattern is drawn given

THIN = 20  # pooled count below which the back-off also pools bases at Hamming distance 2
# Back-off weight of a conditional level: C·types / (count + C·types). Witten-Bell (C = 1) trusts
# a basis's few counts too much within a bar of human drumming (C = 6); bar → next bar rows are
# sharper (a bar mostly repeats), and C = 6 there flattened P(backbeat → backbeat) from 0.62 to 0.46:
# C = 2. Per relation, TUNED overrides these (bench/prior_eval.py --tune, on the tuning split of
# train, never on validation).
CONCENTRATION = 6.0
NEXT_CONCENTRATION = 2.0
CACHED = 256  # (target, basis) answers kept: a few MB, and a re-rolled row costs one draw
STEP_PSEUDO = 4.0  # the class's step rates count as this many bars in a basis's step rates
# Steps 17-32 from 1-16 (``second_half``): both modes always change something (the current steps
# 17-32 are never drawn again). "likely" lets bar 2 repeat bar 1, as 45 % of kick and 40 % of snare
# bar pairs in GMD do; "new" never repeats it. Default "likely": a repeat is what drummers play
# most, and excluding it costs the draws on every bar-2 relation (bench/prior_eval.py prints both).
NEXT_BAR_MODES = ("likely", "new")
NEXT_BAR = "likely"
# Whole-kit generation draws classes in this order, so a class can be drawn given one drawn before.
KIT_ORDER = ("kick", "snare", "closed hat", "clap", "open hat", "ride", "tom", "crash")
# (target, basis) → the class drawn before it that the target is drawn jointly with. Chosen on the
# tuning split of train (bench/prior_eval.py's whole-kit table): these beat the basis alone on
# likelihood, top-5 and Hamming; the closed hat given kick and snare only on Hamming, so not joint.
KIT_JOINT = {("open hat", "kick"): "closed hat", ("ride", "kick"): "snare", ("tom", "kick"): "snare"}
# Temperatures outside this range only make every draw the favourite or near-uniform noise.
TEMPERATURE_MIN, TEMPERATURE_MAX = 0.05, 5.0
# The default temperature, where the focus/wild control starts: on the tuning split 0.9 is the
# warmest setting whose draws are at least as close (expected Hamming) to the drummer as every
# baseline's while keeping their likelihood; the original's draws are 1-2 steps further off.
FOCUS = 0.9
BITS = np.arange(HALF, dtype=np.int64)
_FLIPS = [np.array([sum(1 << j for j in c) for c in combinations(range(HALF), d)], np.int64) for d in (1, 2)]
NEAR = np.concatenate([[0], *_FLIPS])  # what a basis is XORed with: itself, then one and two steps flipped
DISTANCE = np.repeat(np.arange(3), [1, *map(len, _FLIPS)])  # each of NEAR's Hamming distance
_NEARER = 1 + len(_FLIPS[0])  # NEAR's bases at Hamming 0 and 1
_NO_ROWS = np.zeros(1 << HALF, np.uint16)
# A class without data in the prior borrows the closest one (drummy and GMD have no claps).
STAND_IN = {"clap": "snare", "ride": "closed hat", "open hat": "closed hat", "crash": "ride",
            "tom": "snare", "closed hat": "snare", "snare": "kick", "kick": "snare"}


@dataclass(frozen=True)
class Setting:
    """How one relation's rows are used: ``concentration`` (how far a basis's counts are trusted,
    above) and ``sharpness``, which divides the performer's temperature, so one focus/wild control
    gives each relation the sharpness its draws score best at (dense hats want sharper draws than
    a mostly silent open hat, whose likelihood sharpening only costs)."""

    concentration: float
    sharpness: float = 1.0


# (target class, bar → next bar?) → Setting, chosen by ``bench/prior_eval.py --tune`` on the tuning
# split (both ghost-note rules): the widest worst lead over the best baseline. Sharpness is written
# as FOCUS / the relation's temperature at the default focus. Other classes use the defaults above.
TUNED: dict[tuple[str, bool], Setting] = {
    ("snare", False): Setting(6, FOCUS / 0.8), ("closed hat", False): Setting(6, FOCUS / 0.8),
    ("open hat", False): Setting(48), ("kick", False): Setting(12, FOCUS / 0.8),
    ("kick", True): Setting(4, FOCUS / 0.8), ("snare", True): Setting(4), ("closed hat", True): Setting(2),
}


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
    """basis pid → row of (target pattern, count): a look-up table from pid to row, and each
    row's entries as a range of ``index`` and ``n``. Row 0 is empty and is every pid's without
    one, so a key press gathers the rows of a basis and its neighbours without masking the
    misses. A row's patterns are held as indices into the target class's ``Unconditional.pids``,
    so pooling rows is one ``bincount`` into a dense vector over the class's patterns (a few
    thousand), with no sorting or merging at key-press time."""

    find: np.ndarray  # row of each of the 65,536 pids, 0 for none
    end: np.ndarray  # per row, one past its last entry
    length: np.ndarray  # per row, its entries
    total: np.ndarray  # per row, its count
    hits: np.ndarray  # (row, step): how often its patterns hit each step (exact integers)
    index: np.ndarray  # position of each entry's pattern in the target class's pids (< 65,536)
    n: np.ndarray  # each entry's count; both kept small, so a press's gathers read less memory
    size: int  # patterns of the target class
    setting: Setting
    offset: np.ndarray  # where each of NEAR's levels starts in the pooled counts
    deep: Deep  # the whole back-off of every row deep enough, precomputed

    @classmethod
    def from_columns(cls, basis: np.ndarray, pids: np.ndarray, n: np.ndarray, u: Unconditional,
                     setting: Setting) -> Rows:
        """Rows of (``basis``, target ``pids``, ``n``) counts, the target class being ``u``'s."""
        universe = u.pids
        order = np.lexsort((pids, basis))
        basis, pids, n = basis[order], pids[order], n[order].astype(np.float64)
        keys, first = np.unique(basis, return_index=True)
        index = np.searchsorted(universe, pids).astype(np.intp)
        hits = ((pids[:, None] >> BITS) & 1) * n[:, None]
        hits, total = (np.add.reduceat(hits, first), np.add.reduceat(n, first)) if len(n) else (hits, n)
        exact = np.float32 if np.all(total < 1 << 24) else np.float64  # half the memory where exact
        find = _NO_ROWS  # a class without data (the clap) shares one
        if len(keys):
            find = np.zeros(1 << HALF, np.uint16 if len(keys) < 0xFFFF else np.int32)  # 6 MB in all
            find[keys] = np.arange(1, len(keys) + 1)
        end = np.append(first[1:], len(n)).astype(np.intp)
        length = end - first
        rows = cls(find, *(np.concatenate([[0], x]) for x in (end, length, total)),
                   np.vstack([np.zeros((1, HALF)), hits]).astype(exact), index.astype(np.uint16),
                   n.astype(exact), len(universe), setting, DISTANCE * len(universe), Deep.none())
        return dataclasses.replace(rows, deep=Deep.of(rows, u))

    def _positions(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The entries of rows ``r`` in order, and each row's count of them."""
        lens = self.length[r]
        ends = np.cumsum(lens)
        return np.repeat(self.end[r] - ends, lens) + np.arange(ends[-1] if len(ends) else 0), lens

    def _pool(self, r: np.ndarray, offset: np.ndarray, levels: int) -> np.ndarray:
        """The summed counts of rows ``r``, row k's at ``offset[k]`` (its level · size): (levels, size)."""
        pos, lens = self._positions(r)
        at = np.repeat(offset, lens) + self.index[pos]
        return np.bincount(at, weights=self.n[pos], minlength=levels * self.size).reshape(levels, self.size)

    def pooled(self, bases: np.ndarray) -> np.ndarray:
        """The summed counts of the rows of ``bases`` that exist, dense over the class's patterns."""
        return self._pool(self.find[bases], np.zeros(len(bases), np.intp), 1)[0]

    def near(self, basis: int) -> tuple[np.ndarray, list[float], list[int], np.ndarray, list[int] | None]:
        """The back-off's evidence for ``basis`` in one pass: the pooled rows of the bases at
        Hamming 0 and 1 from it, and 2 while those count fewer than THIN, as (levels, size); each
        level's count and patterns (types), the step hits of them all, and (when the basis has
        no row, for saying so) how many bases of each distance have one."""
        r = self.find[basis ^ NEAR]
        n = np.bincount(DISTANCE, self.total[r], minlength=3).tolist()
        levels = 3 if n[0] + n[1] < THIN else 2
        r = r if levels == 3 else r[:_NEARER]
        pooled, counts = self._pool(r, self.offset[:len(r)], levels), n[:levels]
        # one entry per pattern, each counted (the loader's checks): the exact row's types are its entries
        types = [int(self.length[r[0]])]
        types += [np.count_nonzero(pooled[k]) if counts[k] else 0 for k in range(1, levels)]
        found = None if counts[0] else np.bincount(DISTANCE[:len(r)][r > 0], minlength=3).tolist()
        return pooled, counts, types, self.hits[r].sum(axis=0, dtype=np.float64), found


@dataclass(frozen=True)
class Unconditional:
    """One class's pattern frequencies over every pattern it is known to play (``pids``: counted
    in a bar, or as the answer of some row), with per-step hit rates for patterns never seen."""

    pids: np.ndarray  # sorted
    n: np.ndarray
    bits: np.ndarray  # (step, pattern) 0/1 of pids, for per-step probabilities as one product
    rate: np.ndarray  # P(step j hit), per step
    total: float  # bars counted
    types: float  # patterns counted at least once

    @classmethod
    def from_counts(cls, pids: np.ndarray, n: np.ndarray, also: np.ndarray) -> Unconditional:
        """Counts ``n`` of ``pids``; ``also`` are patterns the class answers with in some row."""
        universe = np.union1d(pids, also)
        dense = np.zeros(len(universe))
        dense[np.searchsorted(universe, pids)] = n
        bits = ((universe >> BITS[:, None]) & 1).astype(np.float64)
        total, types = float(dense.sum()), float(np.count_nonzero(dense))
        return cls(universe, dense, bits, bits @ dense / max(total, 1.0), total, types)

    def per_step(self, rate: np.ndarray, scale: float = 1.0, ys: np.ndarray | None = None) -> np.ndarray:
        """``scale`` · P(y) with independent steps hit at ``rate``, for ``ys`` (default: every
        known pattern)."""
        return self.from_logs(*step_logs(rate, scale), ys)

    def from_logs(self, hit: np.ndarray, base: float, ys: np.ndarray | None = None) -> np.ndarray:
        """exp(base + hit · bits(y)), ``step_logs``'s form of per-step probabilities."""
        bits = self.bits if ys is None else ((ys >> BITS[:, None]) & 1).astype(np.float64)
        out = hit @ bits
        out += base
        return np.exp(out, out=out)


def step_logs(rate: np.ndarray, scale: float | np.ndarray = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """log(``scale`` · P(y)) with independent steps hit at ``rate`` (kept off 0 and 1) as
    base + hit · bits(y): (hit, base), over the last axis (so for many rates at once)."""
    r = np.minimum(np.maximum(rate, 1e-3), 1 - 1e-3)
    miss = np.log1p(-r)
    with np.errstate(divide="ignore"):  # scale 0: nothing passes to the per-step level
        return np.log(r) - miss, miss.sum(axis=-1) + np.log(scale)


@dataclass(frozen=True)
class Deep:
    """The back-off of every basis whose row and Hamming-1 neighbours count THIN or more (most
    real bases: the drummers' own), precomputed at load: P(y | basis) is then the per-step
    probabilities at the basis's rates (as logs, weighted), the class's frequencies times ``share``,
    and one sparse vector of both levels' pooled counts, each already times its level's share, so
    a key press on such a basis does a few numpy calls instead of pooling 17 rows."""

    slot: np.ndarray  # per row, its slot in the arrays below; -1 for none (thin, or row 0)
    start: np.ndarray  # per slot, where its entries begin in index/value (one more: the end)
    index: np.ndarray  # each entry's position among the target class's patterns
    value: np.ndarray  # its pooled counts, weighted by their levels' shares
    hit: np.ndarray  # (slot, step): the per-step log-probabilities, as ``step_logs`` gives them
    base: np.ndarray  # per slot: their base, the level's weight included
    share: np.ndarray  # per slot, the weight of the class's frequencies

    @classmethod
    def none(cls, rows: int = 1) -> Deep:
        """No deep row among ``rows`` rows."""
        empty = np.zeros(0)
        return cls(np.full(rows, -1, np.int32), np.zeros(1, np.intp), np.zeros(0, np.uint16), empty,
                   np.zeros((0, HALF)), empty, empty)

    @classmethod
    def of(cls, rows: Rows, u: Unconditional) -> Deep:
        """The same arithmetic as ``Rows.near`` and ``Sampler.probability``, for all deep rows at once."""
        near = rows.find[np.flatnonzero(rows.find)[:, None] ^ NEAR[:_NEARER]]  # row k - 1's: itself first
        n0, n1 = rows.total[near[:, 0]], rows.total[near[:, 1:]].sum(axis=1)
        deep = np.flatnonzero(n0 + n1 >= THIN)
        if not len(deep):
            return cls.none(len(rows.total))
        near, n0, n1 = near[deep], n0[deep], n1[deep]
        pos, lens = rows._positions(near.ravel())
        owner = np.repeat(np.arange(len(deep)).repeat(_NEARER), lens)
        level1 = np.repeat(np.tile(np.arange(_NEARER) > 0, len(deep)), lens)
        key = owner * rows.size + rows.index[pos]
        types1 = np.bincount(np.unique(key[level1]) // rows.size, minlength=len(deep))
        c = rows.setting.concentration
        t0, t1 = c * rows.length[near[:, 0]], c * types1
        share0, rest = 1.0 / (n0 + t0), t0 / (n0 + t0)
        seen1 = n1 > 0
        d1 = np.where(seen1, n1 + t1, 1.0)
        share1 = np.where(seen1, rest / d1, 0.0)
        rest = np.where(seen1, rest * t1 / d1, rest)
        share = np.zeros(len(deep))
        if u.total > 0:
            share, rest = rest / (u.total + u.types), rest * u.types / (u.total + u.types)
        keys, inverse = np.unique(key, return_inverse=True)
        value = np.bincount(inverse, np.where(level1, share1[owner], share0[owner]) * rows.n[pos])
        start = np.searchsorted(keys // rows.size, np.arange(len(deep) + 1))
        rate = (rows.hits[near].sum(axis=1, dtype=np.float64) + STEP_PSEUDO * u.rate) / (
            n0 + n1 + STEP_PSEUDO)[:, None]
        slot = np.full(len(rows.total), -1, np.int32)
        slot[deep + 1] = np.arange(len(deep))
        return cls(slot, start, (keys % rows.size).astype(np.uint16), value, *step_logs(rate, rest), share)

    def probability(self, k: int, u: Unconditional) -> np.ndarray:
        """P(y | basis) over the candidates for slot ``k`` (``Sampler.probability``'s sum)."""
        p = u.from_logs(self.hit[k], self.base[k])
        if u.total > 0:
            p += self.share[k] * u.n
        a, b = self.start[k], self.start[k + 1]
        p[self.index[a:b]] += self.value[a:b]
        return p


@dataclass(frozen=True)
class Evidence:
    """The pooled rows a basis backs off through, nearest first (dense counts over the target
    class's patterns, (levels, patterns); an empty level is skipped), each level's count, and how
    the answer was found."""

    levels: np.ndarray
    n: list[float]
    types: list[int]  # patterns counted in each level
    hits: np.ndarray  # per step, hits counted in all levels
    how: str
    setting: Setting

    @classmethod
    def none(cls, size: int, setting: Setting) -> Evidence:
        """No basis: the class's own frequencies."""
        return cls(np.zeros((0, size)), [], [], np.zeros(HALF), "", setting)


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
    """New steps for a 32-step track, and with ``groove`` their velocity (0..1) and nudge (1/24
    step, -12..12); the action that asked decides whether to apply them."""

    steps: list[bool]
    how: str
    velocity: list[float] | None = None
    nudge: list[int] | None = None


class Sampler:
    """P(pattern | basis) for every class pair and bar → next bar, held in memory."""

    def __init__(self, counts: Counts, source: str = "prior",
                 tuned: dict[tuple[str, bool], Setting] | None = None) -> None:
        self.source = source
        tuned = TUNED if tuned is None else tuned
        within = {c: tuned.get((name, False), Setting(CONCENTRATION)) for c, name in enumerate(CLASSES)}
        following = {c: tuned.get((name, True), Setting(NEXT_CONCENTRATION))
                     for c, name in enumerate(CLASSES)}
        p, q, j = counts.pattern, counts.pair, counts.adjacent
        answers = {c: np.concatenate([q[q[:, 2] == c, 3], q[q[:, 0] == c, 1], j[j[:, 0] == c, 2]])
                   for c in range(len(CLASSES))}
        self.unconditional = {
            c: Unconditional.from_counts(p[p[:, 0] == c, 1], p[p[:, 0] == c, 2], answers[c])
            for c in range(len(CLASSES))
        }
        self.with_data = frozenset(c for c, u in self.unconditional.items() if np.any(u.pids != 0))
        self.within: dict[tuple[int, int], Rows] = {}
        for a, b in combinations(range(len(CLASSES)), 2):
            sel = q[(q[:, 0] == a) & (q[:, 2] == b)]
            ua, ub = self.unconditional[a], self.unconditional[b]
            self.within[a, b] = Rows.from_columns(sel[:, 1], sel[:, 3], sel[:, 4], ub, within[b])
            self.within[b, a] = Rows.from_columns(sel[:, 3], sel[:, 1], sel[:, 4], ua, within[a])
        self.next_bar = {
            c: Rows.from_columns(*j[j[:, 0] == c, 1:4].T, self.unconditional[c], following[c])
            for c in range(len(CLASSES))
        }
        self._cached = functools.lru_cache(maxsize=CACHED)(self._model)
        self._cumulative = functools.lru_cache(maxsize=CACHED)(self._weighted)
        self.resolve = functools.lru_cache(maxsize=CACHED)(self.resolve)  # type: ignore[method-assign]
        self.grooves = GrooveModel(counts.groove)

    def forget(self) -> None:
        """Drop the cached answers (benchmarks measure new bases with it)."""
        self._cached.cache_clear()
        self._cumulative.cache_clear()

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
        levels, n, types, hits, found = rows.near(basis)
        d = next((d for d, m in enumerate(n) if m), None)
        if d == 0:
            how = f"exact basis (n={n[0]:g})"
        elif d is not None:
            how = f"nearest bases at Hamming {d} ({found[d]} found, n={n[d]:g})"
        else:
            how = "unseen basis: unconditional frequencies"
        return Evidence(levels, n, types, hits, how, rows.setting)

    def probability(self, target: int, evidence: Evidence, ys: np.ndarray | None = None) -> np.ndarray:
        """P(y | basis) through the whole back-off, for ``ys`` (default: the class's known patterns,
        the candidates). Patterns never seen get the step rates of the basis's evidence (smoothed
        towards the class's): every one of the 65,536 has some probability, and they sum to 1.
        Each level keeps ``share`` of what the levels before it left and passes on the rest,
        C·types / (count + C·types), so P is one weighted sum of the levels' counts, the class's
        and the per-step probabilities."""
        u, ev = self.unconditional[target], evidence
        rate = (ev.hits + STEP_PSEUDO * u.rate) / (sum(ev.n) + STEP_PSEUDO)
        share, rest = [0.0] * (len(ev.n) + 1), 1.0
        for k, (n, types) in enumerate(zip(ev.n, ev.types, strict=True)):
            if n > 0:
                t = ev.setting.concentration * types
                share[k], rest = rest / (n + t), rest * t / (n + t)
        if u.total > 0:
            share[-1], rest = rest / (u.total + u.types), rest * u.types / (u.total + u.types)
        if ys is None:
            p = u.per_step(rate, rest)
            p += np.dot(share[:-1], ev.levels)
            p += share[-1] * u.n
            return p
        i = np.minimum(np.searchsorted(u.pids, ys), max(len(u.pids) - 1, 0))
        known = u.pids[i] == ys if len(u.pids) else np.zeros(len(ys), bool)
        seen = self.probability(target, evidence)[i] if len(u.pids) else 0.0
        return np.where(known, seen, u.per_step(rate, rest, ys))

    def candidates(self, target: int, evidence: Evidence | None) -> np.ndarray:
        """What a draw picks from: every pattern the class is known to play."""
        return self.unconditional[target].pids

    def relation(self, target: int, basis: int) -> tuple[Rows, str]:
        """Within-bar rows target | basis; the next-bar rows when both are one class (a variation)."""
        if target == basis:
            return self.next_bar[target], f"{CLASSES[target]}: variation (next bar | bar)"
        return self.within[basis, target], f"{CLASSES[target]} | {CLASSES[basis]}"

    # -- generation ------------------------------------------------------------------------

    def draws(self, target: int, ev: Evidence, temperature: float, exclude: frozenset[int] = frozenset(),
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What a draw picks from: candidates ``ys``, the model's ``p`` of each and the drawing
        weights ``w`` (p ** (sharpness/temperature), 0 for ``exclude``; not normalised, may be all 0).
        The evaluation scores exactly this."""
        ys, p = self.candidates(target, ev), self.probability(target, ev)
        return ys, p, _weights(ys, p, temperature / ev.setting.sharpness, exclude)

    def _model(self, target: int, given: Given) -> tuple[np.ndarray, str]:
        """P(y | given) over the candidates and how it was found; cached per (target, given) in
        ``__init__``: a performer re-rolls the same row again and again. One basis is the back-off
        model; several are combined as a product of experts, P(y | a) P(y | b) / P(y), normalised
        over the candidates (whole-kit generation; ``KIT_JOINT`` says where it helps)."""
        if len(given) == 1:
            ((basis, pid),) = given
            rows = self.relation(target, basis)[0]
            row = rows.find[pid]
            if (k := int(rows.deep.slot[row])) >= 0:
                how = f"exact basis (n={rows.total[row]:g})"
                return rows.deep.probability(k, self.unconditional[target]), how
            ev = self.evidence(rows, pid)
            return self.probability(target, ev), ev.how
        if not given:
            return self.probability(target, Evidence.none(len(self.unconditional[target].pids),
                                                          Setting(CONCENTRATION))), "class frequencies"
        parts = [self._cached(target, (g,)) for g in given]
        p = np.prod([q for q, _ in parts], axis=0) / self._cached(target, ())[0] ** (len(parts) - 1)
        return p / p.sum(), "joint: " + " & ".join(how for _, how in parts)

    def _weighted(self, target: int, given: Given, temperature: float) -> np.ndarray:
        """Cumulative drawing weights of the candidates (cached like ``_model``); the sharpness is
        the first basis's relation's."""
        sharpness = self.relation(target, given[0][0])[0].setting.sharpness
        p = self._cached(target, given)[0]
        w = _weights(self.candidates(target, None), p, temperature / sharpness, frozenset())
        return np.cumsum(w, out=w)

    def weights_given(self, target: int, given: Given, temperature: float) -> tuple[np.ndarray, np.ndarray]:
        """The candidates and their drawing weights given ``given`` (what ``_draw`` samples; the
        whole-kit evaluation scores it)."""
        cum = self._cumulative(target, given, temperature)
        return self.candidates(target, None), np.diff(cum, prepend=0.0)

    def _draw(self, target: int, given: Given, temperature: float,
              rng: random.Random, exclude: frozenset[int], relation: str) -> Generated:
        ys = self.candidates(target, None)
        p, how = self._cached(target, given)
        cum = self._cumulative(target, given, temperature)
        # the excluded candidates' stretches of the cumulative weights are stepped over
        gaps = sorted((int(i), cum[i] - (cum[i - 1] if i else 0.0)) for y in exclude
                      if (i := np.searchsorted(ys, y)) < len(ys) and ys[i] == y)
        total = (cum[-1] if len(cum) else 0.0) - sum(w for _, w in gaps)
        if total > 0 and np.isfinite(total):
            r = rng.random() * total
            for i, w in gaps:
                if r >= (cum[i - 1] if i else 0.0):
                    r += w
            i = min(int(np.searchsorted(cum, r, side="right")), len(ys) - 1)
            return Generated(int(ys[i]), float(p[i]), relation, how)
        u = self.unconditional[target]  # nothing left to draw: per-step frequencies, a new pattern
        for _ in range(100):
            pid = encode([rng.random() < r for r in u.rate])
            if pid not in exclude:
                break
        else:
            pid = next(y for y in range(1 << HALF) if y not in exclude)
        basis, basis_pid = given[0]
        ev = self.evidence(self.relation(target, basis)[0], basis_pid)
        prob = float(self.probability(target, ev, np.array([pid]))[0])
        return Generated(pid, prob, relation, "per-step frequencies (every known pattern excluded)")

    def generate(self, target_instrument: str, basis_pattern: str | int, basis_instrument: str,
                 temperature: float = FOCUS, seed: int | None = None, exclude: str | int | None = None,
                 ) -> Generated:
        """A 16-step pattern for ``target_instrument`` given ``basis_instrument`` playing
        ``basis_pattern`` in the same bar; never the ``exclude`` pattern (the current one)."""
        return self._generate(target_instrument, _pid(basis_pattern), basis_instrument,
                              checked_temperature(temperature), _rng(seed), _excluded(exclude))

    def _generate(self, target_instrument: str, basis_pid: int, basis_instrument: str, temperature: float,
                  rng: random.Random, exclude: frozenset[int]) -> Generated:
        (target, note_t), (basis, note_b) = self.resolve(target_instrument), self.resolve(basis_instrument)
        relation = self.relation(target, basis)[1]
        g = self._draw(target, ((basis, basis_pid),), temperature, rng, exclude, relation)
        return _noted(g, note_t, note_b)

    def next_bar_of(self, instrument: str, first_bar: str | int, temperature: float = FOCUS,
                    seed: int | None = None, exclude: str | int | None = None,
                    mode: str = NEXT_BAR) -> Generated:
        """The bar after ``first_bar`` for one instrument: P(bar 2 | bar 1), never ``exclude``, and
        in mode "new" never ``first_bar`` itself (see NEXT_BAR_MODES)."""
        c, note = self.resolve(instrument)
        if mode not in NEXT_BAR_MODES:
            raise ValueError(f"17-32 mode {mode!r}: one of {', '.join(NEXT_BAR_MODES)}")
        never = _excluded(exclude) | ({_pid(first_bar)} if mode == "new" else set())
        g = self._draw(c, ((c, _pid(first_bar)),), checked_temperature(temperature),
                       _rng(seed), never, f"{CLASSES[c]}: bar 2 | bar 1")
        return _noted(g, note)

    def groove(self, track: Track, basis: Track | None = None, amount: float = 1.0,
               steps: list[bool] | None = None) -> Groove:
        """Velocity and nudge for ``track``'s 32 steps (or ``steps``), as the drummers played its
        class at each step; steps themselves are left alone ("groove this track"). ``basis`` is
        the track it grooves against (the kick; the snare for a kick) and only counts when it is
        that class; ``amount`` 0..1 goes from flat to the full groove (a humanize amount)."""
        c = self.resolve(track.name)[0]
        known = basis is not None and self.resolve(basis.name)[0] == BASIS[c]
        return self.grooves.groove(c, steps or track.steps, basis.steps if known else None, amount)

    def track_from(self, target: Track, basis: Track, temperature: float = FOCUS,
                   seed: int | None = None, groove: float = 0.0) -> Proposal:
        """All 32 steps of ``target`` from ``basis``'s (introspect row from row), each half from the
        basis's half. A basis repeating its first half gives a repeating answer; the answer always
        differs from ``target``'s current steps. ``groove`` > 0 adds their velocity and nudge at
        that amount."""
        rng = _rng(seed)
        temperature = checked_temperature(temperature)  # once, so one warning for both halves
        (b1, b2), (c1, c2) = _pids(basis.steps), _pids(target.steps)
        first = self._generate(target.name, b1, basis.name, temperature, rng, frozenset({c1}))
        if b2 == b1:
            second = first
        else:
            second = self._generate(target.name, b2, basis.name, temperature, rng, frozenset({c2}))
        proposal = Proposal(_steps(first.pid, second.pid), _hows(first, second))
        return self._grooved(proposal, target, basis, groove)

    def second_half(self, track: Track, temperature: float = FOCUS, seed: int | None = None,
                    mode: str = NEXT_BAR, groove: float = 0.0, basis: Track | None = None) -> Proposal:
        """Steps 17-32 of ``track`` conditioned on its steps 1-16 (P(bar 2 | bar 1)); never the
        current steps 17-32, and in mode "new" never a repeat of steps 1-16. ``groove`` > 0 adds
        velocity and nudge (against ``basis``, see ``groove``)."""
        first = encode(track.steps[:HALF])
        g = self.next_bar_of(track.name, first, temperature, seed, encode(track.steps[HALF:HALF * 2]), mode)
        return self._grooved(Proposal(_steps(first, g.pid), _hows(g)), track, basis, groove)

    def kit_from(self, tracks: list[Track], basis: int, temperature: float = FOCUS, seed: int | None = None,
                 groove: float = 0.0) -> dict[int, Proposal]:
        """Every track but ``tracks[basis]`` generated from it (index → proposal), each half from the
        basis's half and never a track's current steps. Classes are drawn in ``KIT_ORDER``; where
        ``KIT_JOINT`` names a class drawn before (e.g. the open hat after the closed hat from a
        kick), the draw is given both. ``groove`` > 0 adds velocity and nudge against the basis."""
        rng = _rng(seed)
        temperature = checked_temperature(temperature)
        b, _ = self.resolve(tracks[basis].name)
        bars = _pids(tracks[basis].steps)
        drawn: dict[int, tuple[int, int]] = {}  # class → its new halves, for later joint draws
        order = sorted((i for i in range(len(tracks)) if i != basis),
                       key=lambda i: KIT_ORDER.index(CLASSES[self.resolve(tracks[i].name)[0]]))
        out = {}
        for i in order:
            t, note = self.resolve(tracks[i].name)
            extra = CLASS_ID.get(KIT_JOINT.get((CLASSES[t], CLASSES[b]), ""), -1)
            current = _pids(tracks[i].steps)
            joint = extra in drawn and extra not in (t, b)
            givens = [((b, bars[h]),) + (((extra, drawn[extra][h]),) if joint else ()) for h in (0, 1)]
            relation = self.relation(t, b)[1] + (f" & {CLASSES[extra]}" if len(givens[0]) > 1 else "")
            halves = [_noted(self._draw(t, given, temperature, rng, frozenset({current[h]}), relation), note)
                      for h, given in enumerate(givens[:1] if givens[1] == givens[0] else givens)]
            halves += halves[:2 - len(halves)]  # a repeating basis gives a repeating answer
            drawn.setdefault(t, (halves[0].pid, halves[1].pid))
            proposal = Proposal(_steps(halves[0].pid, halves[1].pid), _hows(*halves))
            out[i] = self._grooved(proposal, tracks[i], tracks[basis], groove)
        return out

    def _grooved(self, p: Proposal, track: Track, basis: Track | None, amount: float) -> Proposal:
        if amount <= 0:
            return p
        g = self.groove(track, basis, amount, p.steps)
        return Proposal(p.steps, p.how, g.velocity, g.nudge)


def _weights(ys: np.ndarray, p: np.ndarray, temperature: float, exclude: frozenset[int]) -> np.ndarray:
    """Drawing weights p ** (1/temperature), 0 for the ``exclude`` patterns (not normalised)."""
    w = p ** (1.0 / temperature)
    for y in exclude:
        i = np.searchsorted(ys, y)
        if i < len(ys) and ys[i] == y:
            w[i] = 0.0
    return w


def _rng(seed: int | None) -> random.Random:
    """A generator for ``seed``; without one, the module's (seeding a new one costs more than a draw)."""
    return _FREE if seed is None else random.Random(seed)


_FREE = random.Random()


def _pids(steps: list[bool]) -> tuple[int, int]:
    return encode(steps[:HALF]), encode(steps[HALF:2 * HALF])


def _excluded(pattern: str | int | None) -> frozenset[int]:
    return frozenset() if pattern is None else frozenset({_pid(pattern)})


def _pid(pattern: str | int) -> int:
    return pattern & 0xFFFF if isinstance(pattern, int) else encode(pattern)


def _noted(g: Generated, *notes: str) -> Generated:
    extra = "; ".join(n for n in dict.fromkeys(notes) if n)
    return Generated(g.pid, g.probability, g.relation, f"{g.how}; {extra}" if extra else g.how)


def _steps(first: int, second: int) -> list[bool]:
    return [*_BYTE[first & 255], *_BYTE[first >> 8], *_BYTE[second & 255], *_BYTE[second >> 8]]


_BYTE = [tuple(bool(b >> j & 1) for j in range(8)) for b in range(256)]  # each byte's 8 steps


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
