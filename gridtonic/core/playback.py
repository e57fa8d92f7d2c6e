"""What each track plays, step by step: per-track length and speed, conditions, ratchets, nudges,
accents, parameter locks, fills and pattern chains.

A :class:`Playback` walks every track's steps in one deterministic order (by the moment a step
sounds first, then by track) and decides each step once, when it comes within the horizon: the
decision can depend on what came before (Elektron's ``PRE`` and ``NEI`` conditions, ``A:B`` cycle
counts, chains switching pattern at bar lines), so live play — which asks a few ms at a time — and an
offline render — which asks for everything at once — make the same decisions and the same hits.

Times are in beats. A track's step lasts ``STEP_BEATS / speed``; swing delays its odd steps as the
original's did for 16ths; a nudge moves one step by 1/NUDGE_DIVISIONS of a step (±½); a ratchet of
r plays r evenly spaced hits inside the step, the ramp shaping their velocities.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from gridtonic.core.session import NUDGE_DIVISIONS, Session, Track

STEP_BEATS = 0.25  # a 16th
BAR_BEATS = 4.0
MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15  # splitmix64's increment: keeps seed 0, track 0, step 0 away from 0
ACCENT_DB = 6.0  # an accented hit is this much louder (added to the voice's level)
NO_LOCKS: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True)
class Hit:
    time: float  # ideal trio time of the hit
    beat: float
    step: int  # the track's own step count since its pattern started (its position: step % length)
    track: int
    velocity: float
    accent: bool = False
    span: float = STEP_BEATS  # beats the hit owns: its step, or its share of the step's ratchet
    locks: Mapping[str, float] = field(default_factory=lambda: NO_LOCKS, hash=False)  # this hit's only


def voice_patch(track: Track, hit: Hit) -> dict[str, float]:
    """The patch ``hit`` sounds with: the track's, its step's locks over it, an accent's level on top."""
    patch = track.patch()
    patch.update(hit.locks)
    if hit.accent:
        patch["level"] = patch.get("level", 0.0) + ACCENT_DB
    return patch


def output_velocity(hit: Hit) -> float:
    """The velocity MIDI and crow send: an accent plays at full velocity, as on drum machines whose
    accent has no level of its own to raise."""
    return 1.0 if hit.accent else hit.velocity


def step_beat(step: int, swing: float) -> float:
    """Beat of 16th number ``step``: odd 16ths move later with swing > 50 %."""
    pair, odd = divmod(step, 2)
    return pair * 2 * STEP_BEATS + odd * 2 * STEP_BEATS * swing / 100.0


def _mix(x: int) -> int:
    """splitmix64's finaliser: every input bit flips about half the output bits."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def chance(seed: int, track: int, step: int) -> float:
    """A uniform draw in [0, 1) that depends only on its arguments (no random state to share or
    reset): the same step of the same track in the same session always draws the same number."""
    x = 0
    for part in (seed, track, step):
        x = _mix(((x ^ part) + GOLDEN) & MASK64)
    return (x >> 11) / 2.0**53


def ratchet_velocities(velocity: float, count: int, ramp: float) -> list[float]:
    """Velocities of a ratchet's ``count`` hits: ramp > 0 rises to ``velocity`` from
    ``velocity * (1 - ramp)``, ramp < 0 falls from it to ``velocity * (1 + ramp)``."""
    if count <= 1:
        return [velocity]
    fractions = [k / (count - 1) for k in range(count)]
    if ramp >= 0:
        return [velocity * (1 - ramp * (1 - f)) for f in fractions]
    return [velocity * (1 + ramp * f) for f in fractions]


def loop_beats(track: Track) -> float:
    return track.length * STEP_BEATS / track.speed


def pattern_bars(tracks: list[Track]) -> int:
    """Whole bars until the longest track of a pattern has played once: a chain entry's length."""
    return max(1, math.ceil(max((loop_beats(t) for t in tracks), default=BAR_BEATS) / BAR_BEATS - 1e-9))


@dataclass
class _Lane:
    """One track's walk: its next undecided step and the beat line it sits on."""

    anchor_beat: float  # straight beat of step ``anchor_n``
    anchor_n: int
    speed: float
    next_n: int
    last: bool = False  # the most recent condition's outcome (PRE, and NEI for the next track)

    def duration(self) -> float:
        return STEP_BEATS / self.speed

    def grid(self, n: int, swing: float) -> float:
        """Beat of step ``n`` before its nudge."""
        d = self.duration()
        return self.anchor_beat + (n - self.anchor_n) * d + (n % 2) * d * (swing / 50.0 - 1.0)

    def reach(self, track: Track) -> float:
        """The beat the next step sounds at first: its grid beat, earlier when nudged early. A step
        is decided only then, so edits up to the scheduling horizon still play."""
        n = self.next_n
        pos = n % track.length
        early = min(track.nudge[pos], 0) / NUDGE_DIVISIONS if track.steps[pos] else 0.0
        return self.grid(n, track.swing) + early * self.duration()

    def respeed(self, speed: float) -> None:
        """A new speed from the next step on, so the track goes on from where it is."""
        self.anchor_beat += (self.next_n - self.anchor_n) * self.duration()
        self.anchor_n, self.speed = self.next_n, speed


@dataclass
class Playback:
    """The decided future of ``session`` from ``origin`` (a bar line): call :meth:`hits` with
    consecutive spans. ``fill`` is Elektron's FILL key, held or not."""

    session: Session
    origin: float = 0.0
    fill: bool = False
    lanes: list[_Lane] = field(default_factory=list)
    _pending: list[tuple[float, int, int, Hit]] = field(default_factory=list)
    _order: int = 0
    _chain: tuple[int, ...] = ()
    _entry: int = -1  # index into the chain playing, -1: none
    _switch: float = math.inf  # beat of the next chain switch

    def __post_init__(self) -> None:
        self._restart(self.origin)
        self._chain = tuple(self.session.chain)
        if self._chain:
            self._switch = self.origin

    def _restart(self, beat: float) -> None:
        """Every track from its first step at ``beat`` (the transport started, or a chain switched)."""
        self.lanes = [_Lane(beat, 0, t.speed, 0) for t in self.session.tracks]

    def skip_to(self, beat: float) -> None:
        """Leave the steps before ``beat`` undecided (playing from a song position); in a chain, the
        entry that plays at ``beat`` is the one recalled, its tracks counted from its own start."""
        while self._chain and self._switch <= beat:
            self._next_entry()
        for lane in self.lanes:
            lane.next_n = max(lane.next_n, math.ceil((beat - lane.anchor_beat) / lane.duration() - 1e-9))

    def fill_at(self, beat: float) -> bool:
        every = self.session.fill_every
        bar = math.floor((beat - self.origin) / BAR_BEATS + 1e-9)
        return self.fill or (every > 0 and bar % every == every - 1)

    def positions(self, beat: float) -> list[int]:
        """Each track's position (0-based step of its pattern) at ``beat``."""
        out = []
        for lane, t in zip(self.lanes, self.session.tracks, strict=False):
            n = math.floor((beat - lane.anchor_beat) / lane.duration() + 1e-9) + lane.anchor_n
            out.append(max(n, 0) % t.length)
        return out + [0] * (len(self.session.tracks) - len(out))

    # -- deciding ---------------------------------------------------------------------------

    def hits(self, b0: float, b1: float) -> list[Hit]:
        """Every hit in [b0, b1) in time order (``time`` left 0: the caller's clock places it). Steps
        are decided once they would sound before ``b1``; spans must follow one another."""
        tracks = self.session.tracks
        if len(self.lanes) != len(tracks):  # a track was added or removed: the new ones start now
            new = [_Lane(b0, 0, t.speed, 0) for t in tracks[len(self.lanes):]]
            self.lanes = self.lanes[: len(tracks)] + new
        self._chain_changed(b0)
        while True:
            i, reach = self._next(tracks)
            if i is None or reach >= b1:
                break
            early = STEP_BEATS / 2 / min(t.speed for t in tracks)  # room for the next pattern's early nudges
            if reach >= self._switch - early:  # the old pattern's last steps, then the next one
                for j in range(len(self.lanes)):
                    while self._grid_next(j) < self._switch:
                        self._decide(j)
                self._next_entry()
                continue
            self._decide(i)
        out = []
        while self._pending and self._pending[0][0] < b1:
            beat, _, _, hit = heapq.heappop(self._pending)
            out.append(hit if beat >= b0 else replace(hit, beat=b0))  # nudged before the start: at it
        return out

    def _grid_next(self, i: int) -> float:
        lane = self.lanes[i]
        return lane.grid(lane.next_n, self.session.tracks[i].swing)

    def _next(self, tracks: list[Track]) -> tuple[int | None, float]:
        best, reach = None, math.inf
        for i, (lane, t) in enumerate(zip(self.lanes, tracks, strict=False)):
            if t.speed != lane.speed:
                lane.respeed(t.speed)
            r = lane.reach(t)
            if r < reach:
                best, reach = i, r
        return best, reach

    def _decide(self, i: int) -> None:
        t, lane = self.session.tracks[i], self.lanes[i]
        n = lane.next_n
        lane.next_n += 1
        pos = n % t.length
        if not t.steps[pos] or t.mute:
            return
        if not self._passes(i, t, lane, n, pos):
            return
        d = lane.duration()
        start = lane.grid(n, t.swing) + t.nudge[pos] / NUDGE_DIVISIONS * d
        locks = MappingProxyType(dict(t.locks[pos])) if t.locks[pos] else NO_LOCKS
        count = t.ratchet[pos]
        for k, v in enumerate(ratchet_velocities(t.velocity[pos], count, t.ramp[pos])):
            beat = start + k * d / count
            self._order += 1
            hit = Hit(0.0, beat, n, i, v, t.accent[pos], d / count, locks)
            heapq.heappush(self._pending, (beat, i, self._order, hit))

    def _passes(self, i: int, t: Track, lane: _Lane, n: int, pos: int) -> bool:
        """Whether step ``n`` plays; conditional steps (a condition, or a probability below 1) also
        become the track's most recent outcome."""
        cond = t.condition[pos]
        if cond is None:
            if t.probability[pos] >= 1.0:
                return True
            lane.last = chance(self.session.seed, i, n) < t.probability[pos]
            return lane.last
        negate = cond.startswith("!")
        name = cond.lstrip("!")
        if name == "FILL":
            ok = self.fill_at(lane.grid(n, t.swing))
        elif name == "PRE":
            ok = lane.last
        elif name == "NEI":
            ok = i > 0 and self.lanes[i - 1].last
        elif name == "1ST":
            ok = n < t.length
        else:
            a, b = (int(x) for x in name.split(":"))
            ok = (n // t.length) % b == a - 1
        ok = ok != negate
        if name != "PRE":  # a PRE step takes the outcome it copied; others set a new one
            lane.last = ok
        return ok

    # -- chains -----------------------------------------------------------------------------

    def _chain_changed(self, beat: float) -> None:
        chain = tuple(self.session.chain)
        if chain == self._chain:
            return
        self._chain, self._entry = chain, -1
        self._switch = (self.origin + math.ceil((beat - self.origin) / BAR_BEATS - 1e-9) * BAR_BEATS
                        if chain else math.inf)

    def _next_entry(self) -> None:
        """Switch to the chain's next filled slot at ``_switch``: every track restarts there."""
        for _ in range(len(self._chain)):
            self._entry = (self._entry + 1) % len(self._chain)
            if self.session.recall(self._chain[self._entry]):
                break
        else:
            self._switch = math.inf
            return
        at = self._switch
        for lane in self.lanes:
            lane.last = False
        self._restart(at)
        self._switch = at + pattern_bars(self.session.tracks) * BAR_BEATS
