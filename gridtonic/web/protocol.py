"""The browser page's protocol, pure: JSON text in → a checked command, instrument state → JSON view.

Every message from a page is outside input: ``parse`` either returns a command whose every field is
in range (parameter values through ``params``' own table, so the page and the grid can never set
what the engine would not accept) or raises ``BadMessage`` with one line for that page; nothing is
applied before a message has been checked whole. Plain session edits apply here (``apply``); the web
module runs the rest (keys through the surface, presets and session files off the trio thread).
"""

from __future__ import annotations

import functools
import json
import re
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gridtonic.core import actions as a
from gridtonic.core import envelope, params
from gridtonic.core.clock import TEMPO_RANGE
from gridtonic.core.frame import Frame
from gridtonic.core.layout import LANE_KINDS, LAYER_WHEN, Layout
from gridtonic.core.session import (
    CONDITIONS,
    FOCUS_RANGE,
    LANES,
    MASTER_RANGE,
    MAX_CHAIN,
    MAX_CYCLES,
    MAX_FILL_EVERY,
    MAX_NUDGE,
    MAX_RATCHET,
    MAX_STEPS,
    NEXT_BAR_MODES,
    NUDGE_DIVISIONS,
    SPEEDS,
    Session,
    Track,
)
from gridtonic.sound.mixer import Level

MAX_MESSAGE = 4096  # characters: every valid message is far shorter
NAME = re.compile(r"^[\w .()+&'-]{1,64}$")  # preset and session names: no paths, no dots at the start
HEX = "0123456789abcdef"


class BadMessage(ValueError):
    """A page's message that cannot be used; the text goes back to that page only."""


@dataclass(frozen=True)
class Key:
    x: int
    y: int
    down: bool


@dataclass(frozen=True)
class SetParam:
    track: int
    slot: str  # "a" or "b"
    name: str
    value: float


@dataclass(frozen=True)
class SetMorph:
    track: int
    value: float


@dataclass(frozen=True)
class FillEvery:
    """Every N-th bar plays as a fill (Microtonic's FillRate); 0: only while FILL is held."""

    bars: int


@dataclass(frozen=True)
class Master:
    """The master level before the limiter, dB."""

    db: float


@dataclass(frozen=True)
class Select:
    track: int


@dataclass(frozen=True)
class Tempo:
    bpm: float


@dataclass(frozen=True)
class LoadPreset:
    name: str
    slot: str  # "a", "b" or "both"
    track: int | None  # None: the whole kit


@dataclass(frozen=True)
class SessionFile:
    save: bool  # else load
    name: str | None  # None: the running session's own file


@dataclass(frozen=True)
class Release:
    """Let go of every key this page holds (a page that lost focus or the pointer)."""


# the grid's own actions where a page asks the same thing (the surface runs them)
Command = (Key | SetParam | SetMorph | FillEvery | Master | Select | Tempo | LoadPreset | SessionFile
           | Release
           | a.ToggleMute | a.Introspect | a.IntrospectKit | a.Generate | a.Groove | a.SetIntrospection
           | a.Transport | a.Tap | a.SetSteps | a.SetLevel
           | a.SetStepField | a.SetLock | a.SetTrackField | a.SetChain | a.Fill)


class _Fields:
    """Typed access to one message's fields, each failure naming the field. Total: any JSON value
    (of any type or size) is either a field in range or a BadMessage."""

    def __init__(self, msg: dict[str, Any]):
        self.msg = msg

    def _bad(self, key: str, wanted: str) -> BadMessage:
        return BadMessage(f"{key} must be {wanted}, not {reprlib.repr(self.msg.get(key))}")

    def int(self, key: str, lo: int, hi: int) -> int:
        v = self.msg.get(key)
        if type(v) is not int or not lo <= v <= hi:
            raise self._bad(key, f"an integer in {lo}..{hi}")
        return v

    def number(self, key: str, lo: float, hi: float) -> float:
        # compared before any float(): an int too big for a float compares exactly, NaN fails both
        v = self.msg.get(key)
        if type(v) not in (int, float) or not lo <= v <= hi:
            raise self._bad(key, f"a number in {lo:g}..{hi:g}")
        return float(v)

    def bool(self, key: str) -> bool:
        v = self.msg.get(key)
        if type(v) is not bool:
            raise self._bad(key, "true or false")
        return v

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        v = self.msg.get(key)
        if type(v) is not str or v not in choices:
            raise self._bad(key, f"one of {', '.join(choices)}")
        return v

    def param_value(self, key: str, name: str) -> float:
        """A value of parameter ``name`` as the engine takes it: in its range, whole if discrete."""
        p = params.BY_NAME[name]
        value = self.number(key, p.minimum, p.maximum)
        if p.discrete and value != round(value):
            raise BadMessage(f"{name} takes a whole number (0 = {p.choices[0]}), not {value:g}")
        return value

    def step_value(self, key: str, name: str) -> Any:
        """A value of the per-step setting ``name`` (one of ``actions.STEP_FIELDS``) as the session
        holds it: the page may not set what a session file would have to clamp."""
        match name:
            case "ratchet":
                return self.int(key, 1, MAX_RATCHET)
            case "ramp":
                return self.number(key, -1.0, 1.0)
            case "nudge":
                return self.int(key, -MAX_NUDGE, MAX_NUDGE)
            case "accent":
                return self.bool(key)
            case _:  # the condition: none (null), or one of them
                v = self.msg.get(key)
                if v is not None and v not in CONDITIONS:
                    raise self._bad(key, f"null or a condition (A:B with 1 <= A <= B <= {MAX_CYCLES}, FILL, "
                                         "PRE, NEI, 1ST, each also after !)")
                return v

    def slots(self, key: str, count: int) -> tuple[int, ...]:
        """A chain: at most MAX_CHAIN slot numbers, each one of the ``count`` slots."""
        v = self.msg.get(key)
        if (type(v) is not list or len(v) > MAX_CHAIN
                or not all(type(s) is int and 0 <= s < count for s in v)):
            raise self._bad(key, f"a list of at most {MAX_CHAIN} slot numbers in 0..{count - 1}")
        return tuple(v)

    def name(self, key: str, optional: bool = False) -> str | None:
        v = self.msg.get(key)
        if v is None and optional:
            return None
        if type(v) is not str or not NAME.match(v) or v.startswith("."):
            raise self._bad(key, "a plain name (letters, digits, space, -_.()+&')")
        return v


# each introspection setting's check (as ``actions.apply`` would take it, so nothing is clamped)
INTROSPECTION: dict[str, Callable[[_Fields, str], Any]] = {
    "focus": lambda f, key: f.number(key, *FOCUS_RANGE),
    "groove": lambda f, key: f.number(key, 0.0, 1.0),
    "next_bar": lambda f, key: f.choice(key, NEXT_BAR_MODES),
}


def parse(text: str | bytes | None, session: Session, layout: Layout) -> Command:
    """The command in one WebSocket message; BadMessage (one line) when it is not a valid one."""
    if not isinstance(text, str):
        raise BadMessage("messages must be JSON text")
    if len(text) > MAX_MESSAGE:
        raise BadMessage(f"message longer than {MAX_MESSAGE} characters")
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError) as e:  # ValueError: also an integer over Python's 4300 digits
        raise BadMessage(f"not JSON ({e})") from None
    if not isinstance(msg, dict):
        raise BadMessage("a message must be a JSON object with a \"type\"")
    f = _Fields(msg)
    last = len(session.tracks) - 1
    match msg.get("type"):
        case "key":
            return Key(f.int("x", 0, layout.width - 1), f.int("y", 0, layout.height - 1), f.bool("down"))
        case "param":
            track, slot = f.int("track", 0, last), f.choice("slot", ("a", "b"))
            name = f.choice("name", tuple(params.BY_NAME))
            return SetParam(track, slot, name, f.param_value("value", name))
        case "morph":
            return SetMorph(f.int("track", 0, last), f.number("value", 0.0, 1.0))
        case "select":
            return Select(f.int("track", 0, last))
        case "mute":
            return a.ToggleMute(f.int("track", 0, last))
        case "step":  # a step of the pattern lanes, on or off
            return a.SetSteps(f.int("track", 0, last), (f.int("step", 0, MAX_STEPS - 1),), f.bool("on"))
        case "level":  # a step's velocity or probability (sets the step, as a grid fader does)
            return a.SetLevel(f.int("track", 0, last), f.int("step", 0, MAX_STEPS - 1),
                              f.choice("lane", LANE_KINDS), f.number("value", 0.0, 1.0))
        case "step_field":  # the step inspector: ratchet, ramp, nudge, condition or accent
            track, step = f.int("track", 0, last), f.int("step", 0, MAX_STEPS - 1)
            name = f.choice("field", a.STEP_FIELDS)
            return a.SetStepField(track, step, name, f.step_value("value", name))
        case "lock":  # a parameter locked on one step; a null value removes the lock
            track, step = f.int("track", 0, last), f.int("step", 0, MAX_STEPS - 1)
            name = f.choice("name", tuple(params.BY_NAME))
            value = None if msg.get("value", 0) is None else f.param_value("value", name)
            return a.SetLock(track, step, name, value)
        case "track_field":
            track, name = f.int("track", 0, last), f.choice("field", ("length", "speed"))
            if name == "length":
                return a.SetTrackField(track, name, f.int("value", 1, MAX_STEPS))
            speed = f.number("value", SPEEDS[0], SPEEDS[-1])
            if speed not in SPEEDS:
                raise BadMessage(f"speed must be one of {', '.join(f'{s:g}' for s in SPEEDS)}, not {speed:g}")
            return a.SetTrackField(track, name, speed)
        case "chain":  # song mode: slots played in turn at bar lines; empty ends it
            return a.SetChain(f.slots("slots", len(session.slots)))
        case "fill":  # the FILL key held (true) or let go
            return a.Fill(f.bool("held"))
        case "fill_every":
            return FillEvery(f.int("bars", 0, MAX_FILL_EVERY))
        case "master":
            return Master(f.number("db", *MASTER_RANGE))
        case "introspect":
            basis, target = f.int("basis", 0, last), f.int("target", 0, last)
            if basis == target:
                raise BadMessage("introspect: the basis and the target must be different tracks")
            return a.Introspect(basis, target)
        case "generate":
            return a.Generate(f.int("track", 0, last))
        case "introspection":  # the session's focus/wild, groove amount or 17-32 mode
            field = f.choice("field", tuple(INTROSPECTION))
            return a.SetIntrospection(field, INTROSPECTION[field](f, "value"))
        case "groove":  # the drummers' velocity and timing for a track, its steps kept
            return a.Groove(f.int("track", 0, last))
        case "kit":  # every other track from this one
            return a.IntrospectKit(f.int("basis", 0, last))
        case "transport":
            return a.Transport()
        case "tap":
            return a.Tap()
        case "tempo":
            return Tempo(f.number("bpm", *TEMPO_RANGE))
        case "preset":
            track = None if msg.get("track") is None else f.int("track", 0, last)
            return LoadPreset(f.name("name") or "", f.choice("slot", ("a", "b", "both")), track)
        case "save" | "load" as kind:
            return SessionFile(kind == "save", f.name("name", optional=True))
        case "release":
            return Release()
        case other:
            raise BadMessage(f"unknown message type {reprlib.repr(other)}")


def load_session(session: Session, loaded: Session, tempo: bool) -> None:
    """Make ``session`` the ``loaded`` one in place (the sequencer, engine and surfaces hold it):
    tracks, slots and seed together, the tempo too unless ``tempo`` is False (a MIDI master sets
    it). Slots keep the room the surfaces' layouts made for their keys."""
    session.tracks[:] = loaded.tracks
    session.slots[:] = loaded.slots + [None] * (len(session.slots) - len(loaded.slots))
    session.seed = loaded.seed
    session.master_db = loaded.master_db
    if tempo:
        session.tempo = loaded.tempo


def apply(session: Session, cmd: Command) -> bool:
    """Make a plain session edit (parameters, morph, fill rate, master level); False for commands that
    are not one."""
    match cmd:
        case SetParam(track, slot, name, value):
            t = session.tracks[track]
            (t.patch_a if slot == "a" else t.patch_b)[name] = value
        case SetMorph(track, value):
            session.tracks[track].morph = value
        case FillEvery(bars):
            session.fill_every = bars
        case Master(db):
            session.master_db = db
        case _:
            return False
    return True


# -- state → JSON ----------------------------------------------------------------------------------

# the kit panel as Microtonic groups a drum: readable names (units come from params)
KIT_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Oscillator", (("oscWave", "Wave"), ("oscFreq", "Osc freq"), ("oscAtk", "Osc attack"),
                    ("oscDcy", "Osc decay"), ("modMode", "Pitch mod"), ("modRate", "Mod rate"),
                    ("modAmt", "Mod amount"))),
    ("Noise", (("nFilMod", "Noise filter"), ("nFilFrq", "Noise filter freq"), ("nFilQ", "Noise filter Q"),
               ("nStereo", "Noise stereo"), ("nEnvMod", "Noise envelope"), ("nEnvAtk", "Noise attack"),
               ("nEnvDcy", "Noise decay"))),
    ("Mix · Distortion · EQ · Level", (("mix", "Tone / noise mix"), ("distAmt", "Distortion"),
                                       ("eQFreq", "EQ freq"), ("eQGain", "EQ gain"), ("level", "Level"))),
    ("Velocity", (("oscVel", "Osc velocity"), ("nVel", "Noise velocity"), ("modVel", "Mod velocity"))),
)
LABELS = {name: label for _, group in KIT_GROUPS for name, label in group}
UNITS = {"sm": "semitones"}  # params' short units the page spells out

PARAM_TABLE = [
    {"name": p.name, "label": LABELS[p.name], "group": group, "min": p.minimum, "max": p.maximum,
     "default": p.default, "unit": UNITS.get(p.unit, p.unit), "choices": list(p.choices),
     "exp": p.exponential}
    for group, names in KIT_GROUPS for p in (params.BY_NAME[n] for n, _ in names)
]

def key_title(key: dict[str, Any]) -> str:
    """A function key's hover text: the layout's label, then what it does in each layer it has one in
    (one of ``Layout.labels()``' keys)."""
    return " · ".join([key["label"], *(f"{when}: {key[layer]}" for layer, when in LAYER_WHEN.items()
                                       if key.get(layer))])


def layout_view(lay: Layout) -> dict[str, Any]:
    """What the page needs to draw and label the virtual grid."""
    return {"name": lay.name, "width": lay.width, "height": lay.height, "rows": list(lay.track_rows),
            "columns": list(lay.step_columns), "keys": {k: list(xy) for k, xy in lay.keys.items()},
            "labels": {k["name"]: key_title(k) for k in lay.labels()["keys"]},
            "lanes": {kind: list(rows) for kind, rows in lay.lanes.items()}}


PICTURE_POINTS = 160


@functools.lru_cache(maxsize=64)
def _picture(patch: tuple[tuple[str, float], ...]) -> str:
    pic = envelope.picture(dict(patch), PICTURE_POINTS)
    r = functools.partial(round, ndigits=4)
    return json.dumps({"length": pic.length, "tone": [r(v) for v in pic.tone],
                       "noise": [r(v) for v in pic.noise], "pitch": [round(v, 2) for v in pic.pitch],
                       "pitch_range": [round(v, 2) for v in pic.pitch_range],
                       "random_pitch": pic.random_pitch})


def picture_json(patch: Mapping[str, float]) -> str:
    """The picture of a patch (``core.envelope``) as the page draws it, over the voice's length:
    encoded JSON, kept for the last patches (the state carries it on every check)."""
    return _picture(tuple(sorted(patch.items())))


# the per-step lists besides on/off, with their defaults and how one value is written (as in a
# session file): a track's view carries only those with a step off its default
STEP_LISTS: dict[str, tuple[Any, Any]] = {
    "velocity": (1.0, lambda v: round(v, 4)), "accent": (False, bool),
    **{name: (default, write) for name, (default, _, write) in LANES.items()},
}
# what the step inspector offers, so the page never hard-codes the session's ranges
LIMITS = {"steps": MAX_STEPS, "ratchet": MAX_RATCHET, "nudge": MAX_NUDGE, "nudge_divisions": NUDGE_DIVISIONS,
          "conditions": list(CONDITIONS), "speeds": list(SPEEDS), "chain": MAX_CHAIN,
          "fill_every": MAX_FILL_EVERY, "focus": list(FOCUS_RANGE), "next_bar": list(NEXT_BAR_MODES),
          "defaults": {name: default for name, (default, _) in STEP_LISTS.items()}}


def track_view(t: Track) -> dict[str, Any]:
    """One track as the page draws it: all 64 steps as ``x``/``-`` (its ``length`` says how many
    play), the per-step lists that are not all default (the page fills in the defaults: a plain
    pattern stays a few hundred characters, sent to every page on every edit), length and speed."""
    view = {"name": t.name, "pattern": "".join("x" if on else "-" for on in t.steps), "length": t.length,
            "speed": t.speed, "mute": t.mute, "morph": t.morph, "a": t.patch_a, "b": t.patch_b}
    for name, (default, write) in STEP_LISTS.items():
        values = getattr(t, name)
        if values.count(default) != len(values):  # not all default (count runs in C: every state check)
            view[name] = [write(v) for v in values]
    return view


def session_view(session: Session) -> list[dict[str, Any]]:
    return [track_view(t) for t in session.tracks]


def slots_view(session: Session, active: int | None, queued: int | None) -> list[str]:
    """Each pattern slot as the slot keys show it: "active", "queued", "filled" or "empty"."""
    return ["queued" if i == queued else "active" if i == active else "empty" if s is None else "filled"
            for i, s in enumerate(session.slots)]


def positions_message(positions: list[int] | None) -> str:
    """Each track's own playhead (per-track length and speed), None when stopped: a message of its
    own, sent as the playheads move, so the whole state is not resent every step."""
    return json.dumps({"type": "positions", "positions": positions})


def meters_message(tracks: Sequence[Level], master: Level) -> str:
    """Each track's and the master's level (peak and RMS, linear; the master's gain reduction too) as
    scsynth last measured them: output only, the page holds and decays the peaks."""
    def r(v: float) -> float:
        return round(v, 4)

    return json.dumps({"type": "meters", "tracks": [[r(t.peak), r(t.rms)] for t in tracks],
                       "master": [r(master.peak), r(master.rms), r(master.reduction)]})


def frame_message(frame: Frame) -> str:
    """One LED frame as one hex digit a key (0–15); the lanes' playheads come in ``positions_message``."""
    return json.dumps({"type": "frame", "levels": "".join(HEX[v] for v in frame)})


def error_message(text: str) -> str:
    return json.dumps({"type": "error", "message": text})


def note_message(text: str) -> str:
    """Something the page asked for was done, but not all of it as asked (not an error)."""
    return json.dumps({"type": "note", "message": text})
