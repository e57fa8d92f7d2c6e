"""The session: tracks with their patches, patterns and mix settings, tempo and pattern slots.

Plain dataclasses, validated at the boundary (``from_dict``) so everything inside is in range: a
session file written by hand or by an older version loads with warnings, never with a crash.
The file is JSON with patterns as ``x``/``-`` strings so a person can read and edit it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gridtonic.core import params
from gridtonic.core.clock import TEMPO_RANGE
from gridtonic.core.fields import clamp, flag, integer, shown, text, unknown
from gridtonic.core.kit import default_kit

log = logging.getLogger(__name__)

STEPS = 32  # the default length, and what the prior works on (two bars of 16)
MAX_STEPS = 64  # every per-step list is this long; a track's ``length`` says how many play
MAX_TRACKS = 8
MAX_SLOTS = 16  # as many as a layout can have keys for
MAX_CHAIN = 64  # entries in a chain (song mode)
MAX_FILL_EVERY = 64  # bars
MAX_RATCHET = 8
MAX_NUDGE = 12  # in 1/NUDGE_DIVISIONS of the track's step: ±½ step
NUDGE_DIVISIONS = 24
MAX_CYCLES = 8  # the B of an A:B condition
SPEEDS = (0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # track steps per 16th
CONDITIONS: tuple[str, ...] = (
    *(f"{a}:{b}" for b in range(1, MAX_CYCLES + 1) for a in range(1, b + 1)),
    "FILL", "!FILL", "PRE", "!PRE", "NEI", "!NEI", "1ST", "!1ST",
)
FOCUS = 0.9  # the prior's default temperature (prior.sampler.FOCUS): draws sharper below 1, wilder above
FOCUS_RANGE = (0.05, 5.0)
NEXT_BAR_MODES = ("likely", "new")  # steps 17-32 may repeat 1-16 / never do (prior.sampler's)
MASTER_RANGE = (-60.0, 12.0)  # the master level, dB (the limiter after it keeps the output under -1 dBFS)
FORMAT = "gridtonic-session"
VERSION = 2


class SessionError(ValueError):
    """A session file that cannot be used at all (not JSON, not a session)."""


def _full(values: Sequence[Any], default: Any) -> list[Any]:
    """A per-step list MAX_STEPS long. Up to 32 given (an older session, or a short hand-written list)
    fill steps 1–32, missing ones ``default``, and steps 33–64 repeat them, so lengthening a
    version-1 track replays its pattern; a longer list is padded with ``default``."""
    values = list(values[:MAX_STEPS])
    if len(values) <= STEPS:
        values = (values + [default] * (STEPS - len(values))) * 2
    return values + [default] * (MAX_STEPS - len(values))


def _written(values: Sequence[Any]) -> list[Any]:
    """What a file keeps of a per-step list: steps 1–32 when 33–64 repeat them (all older files and
    most tracks), else all 64. ``_full`` reads either back to the same list."""
    values = list(values)
    return values[:STEPS] if values[STEPS:] == values[:STEPS] else values


def _per_step(value: Any, read: Callable[[Any, str], Any], default: Any, where: str) -> list[Any]:
    """A per-step list from a file, each entry checked by ``read`` (which warns and defaults)."""
    if not isinstance(value, list):
        log.warning("%s must be a list; ignored", where)
        return [default] * MAX_STEPS
    if len(value) > MAX_STEPS:
        log.warning("%s has %d steps; only the first %d are used", where, len(value), MAX_STEPS)
    return _full([read(v, f"{where}[{i}]") for i, v in enumerate(value[:MAX_STEPS])], default)


def _level(v: Any, where: str) -> float:
    return clamp(v, 0.0, 1.0, 1.0, where)


def _ratchet(v: Any, where: str) -> int:
    return int(round(clamp(v, 1, MAX_RATCHET, 1, where)))


def _ramp(v: Any, where: str) -> float:
    return clamp(v, -1.0, 1.0, 0.0, where)


def read_nudge(v: Any, where: str) -> int:
    """A step's nudge in 1/384 notes, clamped to ±MAX_NUDGE (a surface's or a groove's value)."""
    return int(round(clamp(v, -MAX_NUDGE, MAX_NUDGE, 0, where)))


def _condition(v: Any, where: str) -> str | None:
    if v is None or v in CONDITIONS:
        return v
    log.warning("%s: %s is not a condition (A:B with 1 <= A <= B <= %d, FILL, PRE, NEI, 1ST or one of "
                "them after !); none used", where, shown(v), MAX_CYCLES)
    return None


def clean_lock(v: Any, where: str) -> dict[str, float]:
    """Parameter locks (name → value) with unknown names dropped and values clamped like a patch's."""
    if not isinstance(v, dict):
        log.warning("%s: %s is not an object of parameter values; no locks used", where, shown(v))
        return {}
    patch = params.clean(v, where)
    return {name: patch[name] for name in v if name in params.BY_NAME}


def _speed(v: Any, where: str) -> float:
    s = clamp(v, SPEEDS[0], SPEEDS[-1], 1.0, where)
    near = min(SPEEDS, key=lambda x: abs(x - s))
    if near != s:
        log.warning("%s: %s is not one of the speeds %s; using %g", where, shown(v), SPEEDS, near)
    return near


def _steps_text(steps: Iterable[bool]) -> str:
    return "".join("x" if s else "-" for s in steps)


def _steps_from(text: str, where: str = "pattern") -> list[bool]:
    """Steps from an ``x``/``-`` string (any character but ``-``/``.``/space is a hit, as in the
    original): up to 32 characters repeat to 32 (then to 64, as every short per-step list), a
    longer string repeats to 64; past 64 it is cut with a warning."""
    text = text.strip() or "-"
    if len(text) > MAX_STEPS:
        log.warning("%s %r has %d steps; only the first %d are used", where, text[:MAX_STEPS] + "…",
                    len(text), MAX_STEPS)
    size = STEPS if len(text) <= STEPS else MAX_STEPS
    return _full([text[i % len(text)] not in "-. " for i in range(size)], False)


def _pattern(d: dict[str, Any], key: str, where: str) -> list[bool]:
    value = d.get(key, "")
    if not isinstance(value, str):
        log.warning("%s: %s must be a string of x and -; ignored", where, key)
        value = ""
    return _steps_from(value, f"{where}.{key}")


# The per-step lists besides on/off: file key (= Track and Steps attribute), default, reader, and how
# one value is written. Written only when some step differs from its default.
LANES: dict[str, tuple[Any, Callable[[Any, str], Any], Callable[[Any], Any]]] = {
    "probability": (1.0, _level, lambda v: round(v, 4)),
    "ratchet": (1, _ratchet, int),
    "ramp": (0.0, _ramp, lambda v: round(v, 4)),
    "nudge": (0, read_nudge, int),
    "condition": (None, _condition, lambda v: v),
    "locks": ({}, clean_lock, dict),
}


def _no_locks() -> tuple[dict[str, float], ...]:
    return tuple({} for _ in range(MAX_STEPS))


@dataclass(frozen=True)
class Steps:
    """One track's per-step lists with its length and speed: the part of a track a pattern slot keeps.

    Also the one place these are written to and read from a file, for tracks and slots alike.
    """

    on: tuple[bool, ...]
    velocity: tuple[float, ...]
    probability: tuple[float, ...]
    ratchet: tuple[int, ...] = (1,) * MAX_STEPS
    ramp: tuple[float, ...] = (0.0,) * MAX_STEPS
    nudge: tuple[int, ...] = (0,) * MAX_STEPS
    condition: tuple[str | None, ...] = (None,) * MAX_STEPS
    accent: tuple[bool, ...] = (False,) * MAX_STEPS
    locks: tuple[dict[str, float], ...] = field(default_factory=_no_locks)
    length: int = STEPS
    speed: float = 1.0

    KEYS: ClassVar[frozenset[str]] = frozenset({"pattern", "velocity", "accent", "length", "speed", *LANES})
    LISTS: ClassVar[tuple[str, ...]] = ("velocity", "accent", *LANES)  # besides on (Track.steps)

    @classmethod
    def of(cls, track: Track) -> Steps:
        """A copy of ``track``'s steps (lists shorter than MAX_STEPS read as ``_full`` reads a file)."""
        lists = {name: tuple(_full(getattr(track, name), _default(name))) for name in cls.LISTS}
        lists["locks"] = tuple(dict(lock) for lock in lists["locks"])
        return cls(on=tuple(_full(track.steps, False)), length=track.length, speed=track.speed, **lists)

    def restore(self, track: Track) -> None:
        track.steps = list(self.on)
        for name in self.LISTS:
            setattr(track, name, list(getattr(self, name)))
        track.locks = [dict(lock) for lock in self.locks]
        track.length, track.speed = self.length, self.speed

    def to_dict(self) -> dict[str, Any]:
        """``pattern`` and ``velocity``; the other lists, length and speed only when not the default."""
        d: dict[str, Any] = {
            "pattern": _steps_text(_written(self.on)),
            "velocity": [round(v, 4) for v in _written(self.velocity)],
        }
        if any(self.accent):
            d["accent"] = _steps_text(_written(self.accent))
        for name, (default, _, write) in LANES.items():
            values = getattr(self, name)
            if any(v != default for v in values):
                d[name] = [write(v) for v in _written(values)]
        if self.length != STEPS:
            d["length"] = self.length
        if self.speed != 1.0:
            d["speed"] = self.speed
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> Steps:
        lists = {name: _per_step(d.get(name, []), read, default, f"{where}.{name}")
                 for name, (default, read, _) in LANES.items()}
        for i, c in enumerate(lists["condition"]):
            if c is not None and lists["probability"][i] < 1.0:
                if i < STEPS or len(d.get("condition", [])) > STEPS:  # warn once per step written
                    log.warning("%s: step %d has a condition and a probability (one condition a step); "
                                "the condition %s is used", where, i + 1, c)
                lists["probability"][i] = 1.0
        return cls(
            on=tuple(_pattern(d, "pattern", where)),
            velocity=tuple(_per_step(d.get("velocity", []), _level, 1.0, f"{where}.velocity")),
            accent=tuple(_pattern(d, "accent", where)),
            length=integer(d, "length", 1, MAX_STEPS, STEPS, where),
            speed=_speed(d.get("speed", 1.0), f"{where}.speed"),
            **{name: tuple(values) for name, values in lists.items()},
        )


def _default(name: str) -> Any:
    return {"velocity": 1.0, "accent": False}.get(name, LANES.get(name, (None,))[0])


Slot = tuple[Steps, ...]  # a saved pattern: Steps for each track, in track order


@dataclass
class Track:
    name: str
    patch_a: dict[str, float] = field(default_factory=params.defaults)
    patch_b: dict[str, float] = field(default_factory=params.defaults)
    morph: float = 0.0  # 0 = patch A, 1 = patch B
    steps: list[bool] = field(default_factory=lambda: [False] * MAX_STEPS)
    velocity: list[float] = field(default_factory=lambda: [1.0] * MAX_STEPS)
    probability: list[float] = field(default_factory=lambda: [1.0] * MAX_STEPS)  # chance a set step plays
    ratchet: list[int] = field(default_factory=lambda: [1] * MAX_STEPS)  # hits inside the step
    ramp: list[float] = field(default_factory=lambda: [0.0] * MAX_STEPS)  # ratchet velocity ramp -1..1
    nudge: list[int] = field(default_factory=lambda: [0] * MAX_STEPS)  # 1/NUDGE_DIVISIONS of a step
    condition: list[str | None] = field(default_factory=lambda: [None] * MAX_STEPS)  # one of CONDITIONS
    accent: list[bool] = field(default_factory=lambda: [False] * MAX_STEPS)
    locks: list[dict[str, float]] = field(default_factory=lambda: [{} for _ in range(MAX_STEPS)])
    length: int = STEPS  # steps played before the track loops, 1..MAX_STEPS
    speed: float = 1.0  # track steps per 16th, one of SPEEDS
    swing: float = 50.0  # %, 50 = straight (the original's per-track swing)
    mute: bool = False
    pan: float = 0.0
    choke: int | None = None  # tracks sharing a choke group cut each other
    max_voices: int = 4

    def patch(self) -> dict[str, float]:
        """The sounding patch: continuous params interpolated A→B, discrete ones switch past 0.5."""
        m = self.morph
        if m <= 0.0:
            return dict(self.patch_a)
        out = {}
        for name, a in self.patch_a.items():
            b = self.patch_b.get(name, a)
            if name in params.DISCRETE:
                out[name] = b if m > 0.5 else a
            else:
                out[name] = a * (1 - m) + b * m  # exact A at 0 and B at 1
        return out

    def pattern(self) -> str:
        """The steps it plays (its ``length``), as ``x``/``-``."""
        return _steps_text(self.steps[: self.length])

    def set_pattern(self, text: str) -> None:
        """Steps from an ``x``/``-`` string (any character but ``-``/``.``/space is a hit), repeated
        to 32 (to 64 when longer)."""
        self.steps = _steps_from(text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **Steps.of(self).to_dict(),
            "swing": self.swing,
            "mute": self.mute,
            "pan": self.pan,
            "choke": self.choke,
            "max_voices": self.max_voices,
            "morph": self.morph,
            "patch_a": self.patch_a,
            "patch_b": self.patch_b,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Track:
        if not isinstance(d, dict):
            raise SessionError(f"{where}: a track must be an object, not {type(d).__name__}")
        known = {"name", "swing", "mute", "pan", "choke", "max_voices", "morph", "patch_a", "patch_b"}
        unknown(d, known | Steps.KEYS, where)
        t = cls(name=text(d, "name", "track", 32, where))
        Steps.from_dict(d, where).restore(t)
        t.swing = clamp(d.get("swing", 50.0), 0.0, 100.0, 50.0, f"{where}.swing")
        t.mute = flag(d, "mute", False, where)
        t.pan = clamp(d.get("pan", 0.0), -1.0, 1.0, 0.0, f"{where}.pan")
        choke = d.get("choke")
        t.choke = None if choke is None else int(clamp(choke, 1, 8, 1, f"{where}.choke"))
        t.max_voices = int(clamp(d.get("max_voices", 4), 1, 16, 4, f"{where}.max_voices"))
        t.morph = clamp(d.get("morph", 0.0), 0.0, 1.0, 0.0, f"{where}.morph")
        for slot in ("patch_a", "patch_b"):
            p = d.get(slot, {})
            setattr(t, slot, params.clean(p if isinstance(p, dict) else {}, f"{where}.{slot}"))
        return t


def _slot_from(d: Any, where: str) -> Slot | None:
    """A saved slot, or None (with a warning) when it is not a list of per-track step objects."""
    if d is None:
        return None
    if not (isinstance(d, list) and d and all(isinstance(t, dict) for t in d)):
        log.warning("%s: a slot must be null or a list of track steps (objects); slot dropped", where)
        return None
    if len(d) > MAX_TRACKS:
        log.warning("%s: %d tracks, only the first %d kept", where, len(d), MAX_TRACKS)
    for i, t in enumerate(d[:MAX_TRACKS]):
        unknown(t, Steps.KEYS, f"{where}[{i}]")
    return tuple(Steps.from_dict(t, f"{where}[{i}]") for i, t in enumerate(d[:MAX_TRACKS]))


@dataclass
class Session:
    tracks: list[Track]
    tempo: float = 120.0
    seed: int = 0  # keys the per-step probability draws, so a render plays what the live engine plays
    slots: list[Slot | None] = field(default_factory=list)  # pattern slots by number (None: empty)
    chain: list[int] = field(default_factory=list)  # song mode: slot numbers played in turn (empty: off)
    fill_every: int = 0  # bars: every N-th bar plays as a fill (Microtonic's FillRate); 0 = only held
    focus: float = FOCUS  # introspection's temperature: the focus/wild control
    groove: float = 0.5  # how much of the drummers' velocity and timing generated steps get (0..1)
    next_bar: str = "likely"  # steps 17-32: "likely" (may repeat 1-16, as drummers mostly do) or "new"
    master_db: float = 0.0  # the master level before the limiter, dB (MASTER_RANGE)

    def recall(self, slot: int) -> bool:
        """The tracks' steps from pattern slot ``slot``; False (nothing changed) when it is empty."""
        saved = self.slots[slot] if 0 <= slot < len(self.slots) else None
        if saved is None:
            return False
        for t, steps in zip(self.tracks, saved, strict=False):
            steps.restore(t)
        return True

    def to_dict(self) -> dict[str, Any]:
        d = {
            "format": FORMAT,
            "version": VERSION,
            "tempo": self.tempo,
            "seed": self.seed,
            "tracks": [t.to_dict() for t in self.tracks],
            "slots": [None if s is None else [steps.to_dict() for steps in s] for s in self.slots],
        }
        if self.chain:
            d["chain"] = list(self.chain)
        if self.fill_every:
            d["fill_every"] = self.fill_every
        d |= {"focus": self.focus, "groove": self.groove, "next_bar": self.next_bar}
        if self.master_db:
            d["master_db"] = self.master_db
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str = "session") -> Session:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise SessionError(f"{where}: not a gridtonic session (missing \"format\": \"{FORMAT}\")")
        unknown(d, {"format", "version", "tempo", "seed", "tracks", "slots", "chain", "fill_every", "focus",
                    "groove", "next_bar", "master_db"}, where)
        version = d.get("version", VERSION)
        if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
            log.warning("%s: written by a newer gridtonic (version %d, this one reads up to %d); what it "
                        "does not know is dropped", where, version, VERSION)
        tracks = d.get("tracks")
        if not isinstance(tracks, list) or not tracks:
            raise SessionError(f"{where}: \"tracks\" must be a non-empty list")
        if len(tracks) > MAX_TRACKS:
            log.warning("%s: %d tracks, only the first %d kept", where, len(tracks), MAX_TRACKS)
        slots = d.get("slots", [])
        if not isinstance(slots, list):
            log.warning("%s: slots must be a list; ignored", where)
            slots = []
        if len(slots) > MAX_SLOTS:
            log.warning("%s: %d slots, only the first %d kept", where, len(slots), MAX_SLOTS)
        return cls(
            tracks=[Track.from_dict(t, f"{where}.tracks[{i}]") for i, t in enumerate(tracks[:MAX_TRACKS])],
            tempo=clamp(d.get("tempo", 120.0), *TEMPO_RANGE, 120.0, f"{where}.tempo"),
            seed=int(clamp(d.get("seed", 0), 0, 2**32 - 1, 0, f"{where}.seed")),
            slots=[_slot_from(s, f"{where}.slots[{i}]") for i, s in enumerate(slots[:MAX_SLOTS])],
            chain=_chain(d.get("chain", []), f"{where}.chain"),
            fill_every=integer(d, "fill_every", 0, MAX_FILL_EVERY, 0, where),
            focus=clamp(d.get("focus", FOCUS), *FOCUS_RANGE, FOCUS, f"{where}.focus"),
            groove=clamp(d.get("groove", 0.5), 0.0, 1.0, 0.5, f"{where}.groove"),
            next_bar=_next_bar(d.get("next_bar", "likely"), f"{where}.next_bar"),
            master_db=clamp(d.get("master_db", 0.0), *MASTER_RANGE, 0.0, f"{where}.master_db"),
        )


def _next_bar(value: Any, where: str) -> str:
    if value in NEXT_BAR_MODES:
        return value
    log.warning("%s: %s is not one of %s; using likely", where, shown(value), ", ".join(NEXT_BAR_MODES))
    return "likely"


def _chain(value: Any, where: str) -> list[int]:
    """Slot numbers (0-based, as ``slots``) of a chain; entries that are not slot numbers are dropped."""
    if not isinstance(value, list):
        log.warning("%s must be a list of slot numbers; ignored", where)
        return []
    if len(value) > MAX_CHAIN:
        log.warning("%s has %d entries; only the first %d are used", where, len(value), MAX_CHAIN)
    chain = []
    for i, v in enumerate(value[:MAX_CHAIN]):
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < MAX_SLOTS:
            chain.append(v)
        else:
            log.warning("%s[%d]: %s is not a slot number 0..%d; dropped", where, i, shown(v), MAX_SLOTS - 1)
    return chain


DEFAULT_PATTERN = {
    "kick": "x-------x-x-----x-------x-----x-",
    "snare": "----x-------x-------x-------x--x",
    "closed hat": "x-x-x-x-x-x-x-x-x-x-x-x-x-x-xxx-",
    "open hat": "------x---------------x-----x---",
    "clap": "------------x---------------x---",
}


def default_session() -> Session:
    """The built-in kit with a pattern that shows every track, at 120 BPM."""
    tracks = []
    for name, patch in default_kit():
        t = Track(name=name, patch_a=dict(patch), patch_b=dict(patch))
        t.set_pattern(DEFAULT_PATTERN.get(name, "-"))
        tracks.append(t)
    hats = [t for t in tracks if t.name in ("closed hat", "open hat")]
    for t in hats:
        t.choke = 1
    return Session(tracks=tracks)
