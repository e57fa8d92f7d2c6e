"""The session: tracks with their patches, patterns and mix settings, tempo and pattern slots.

Plain dataclasses, validated at the boundary (``from_dict``) so everything inside is in range: a
session file written by hand or by an older version loads with warnings, never with a crash.
The file is JSON with patterns as ``x``/``-`` strings so a person can read and edit it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gridtonic.core import params
from gridtonic.core.fields import clamp, flag, text, unknown
from gridtonic.core.kit import default_kit

log = logging.getLogger(__name__)

STEPS = 32
MAX_TRACKS = 8
MAX_SLOTS = 16  # as many as a layout can have keys for
FORMAT = "gridtonic-session"
VERSION = 1


class SessionError(ValueError):
    """A session file that cannot be used at all (not JSON, not a session)."""


def _levels(value: Any, where: str) -> list[float]:
    """Per-step levels 0–1 (velocity, probability) from a file; missing steps are 1.0."""
    levels = [1.0] * STEPS
    if not isinstance(value, list):
        log.warning("%s must be a list of numbers 0-1; ignored", where)
        return levels
    for i, v in enumerate(value[:STEPS]):
        levels[i] = clamp(v, 0.0, 1.0, 1.0, f"{where}[{i}]")
    return levels


def _steps_text(steps: Iterable[bool]) -> str:
    return "".join("x" if s else "-" for s in steps)


def _steps_from(text: str) -> list[bool]:
    """Steps from an ``x``/``-`` string (any character but ``-``/``.``/space is a hit, as in the
    original), repeated to 32; a longer string is cut at 32 with a warning."""
    text = text.strip() or "-"
    if len(text) > STEPS:
        log.warning("pattern %r has %d steps; only the first %d are used", text, len(text), STEPS)
    return [text[i % len(text)] not in "-. " for i in range(STEPS)]


@dataclass(frozen=True)
class Steps:
    """One track's steps with their velocity and probability: the part of a track a pattern slot keeps.

    Also the one place these three are written to and read from a file, for tracks and slots alike.
    """

    on: tuple[bool, ...]
    velocity: tuple[float, ...]
    probability: tuple[float, ...]

    @classmethod
    def of(cls, track: Track) -> Steps:
        return cls(tuple(track.steps), tuple(track.velocity), tuple(track.probability))

    def restore(self, track: Track) -> None:
        track.steps, track.velocity = list(self.on), list(self.velocity)
        track.probability = list(self.probability)

    def to_dict(self) -> dict[str, Any]:
        """``pattern`` and ``velocity``, plus ``probability`` only when a step has one below 1."""
        d: dict[str, Any] = {
            "pattern": _steps_text(self.on),
            "velocity": [round(v, 4) for v in self.velocity],
        }
        if any(p < 1.0 for p in self.probability):
            d["probability"] = [round(p, 4) for p in self.probability]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> Steps:
        pattern = d.get("pattern", "")
        if not isinstance(pattern, str):
            log.warning("%s: pattern must be a string of x and -; ignored", where)
            pattern = ""
        return cls(tuple(_steps_from(pattern)), tuple(_levels(d.get("velocity", []), f"{where}.velocity")),
                   tuple(_levels(d.get("probability", []), f"{where}.probability")))


Slot = tuple[Steps, ...]  # a saved pattern: Steps for each track, in track order


@dataclass
class Track:
    name: str
    patch_a: dict[str, float] = field(default_factory=params.defaults)
    patch_b: dict[str, float] = field(default_factory=params.defaults)
    morph: float = 0.0  # 0 = patch A, 1 = patch B
    steps: list[bool] = field(default_factory=lambda: [False] * STEPS)
    velocity: list[float] = field(default_factory=lambda: [1.0] * STEPS)
    probability: list[float] = field(default_factory=lambda: [1.0] * STEPS)  # chance a set step plays
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
        return _steps_text(self.steps)

    def set_pattern(self, text: str) -> None:
        """Steps from an ``x``/``-`` string (any character but ``-``/``.``/space is a hit), repeated to 32."""
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
        known = {
            "name", "pattern", "velocity", "probability", "swing", "mute", "pan", "choke", "max_voices",
            "morph", "patch_a", "patch_b",
        }
        unknown(d, known, where)
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
        unknown(t, {"pattern", "velocity", "probability"}, f"{where}[{i}]")
    return tuple(Steps.from_dict(t, f"{where}[{i}]") for i, t in enumerate(d[:MAX_TRACKS]))


@dataclass
class Session:
    tracks: list[Track]
    tempo: float = 120.0
    seed: int = 0  # keys the per-step probability draws, so a render plays what the live engine plays
    slots: list[Slot | None] = field(default_factory=list)  # pattern slots by number (None: empty)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "tempo": self.tempo,
            "seed": self.seed,
            "tracks": [t.to_dict() for t in self.tracks],
            "slots": [None if s is None else [steps.to_dict() for steps in s] for s in self.slots],
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "session") -> Session:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise SessionError(f"{where}: not a gridtonic session (missing \"format\": \"{FORMAT}\")")
        unknown(d, {"format", "version", "tempo", "seed", "tracks", "slots"}, where)
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
            tempo=clamp(d.get("tempo", 120.0), 20.0, 300.0, 120.0, f"{where}.tempo"),
            seed=int(clamp(d.get("seed", 0), 0, 2**32 - 1, 0, f"{where}.seed")),
            slots=[_slot_from(s, f"{where}.slots[{i}]") for i, s in enumerate(slots[:MAX_SLOTS])],
        )


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
