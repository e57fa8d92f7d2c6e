"""What a performer asks of the instrument, independent of the controller that asked.

Gestures turn key presses into these; ``apply`` makes the edits that are plain session changes
(pure and immediate), the surface runs the others (transport, the sampler, pattern slots).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gridtonic.core import params
from gridtonic.core.fields import clamp
from gridtonic.core.layout import LANE_KINDS
from gridtonic.core.session import (
    FOCUS_RANGE,
    LANES,
    MAX_SLOTS,
    MAX_STEPS,
    NEXT_BAR_MODES,
    SPEEDS,
    STEPS,
    Session,
    read_nudge,
)


@dataclass(frozen=True)
class SetSteps:
    track: int
    steps: tuple[int, ...]
    on: bool


@dataclass(frozen=True)
class SetLevel:
    """A step's level in a lane (``velocity`` or ``probability``, 0–1); setting it also sets the step
    (a fader on an empty step means "play this")."""

    track: int
    step: int
    lane: str
    level: float


@dataclass(frozen=True)
class SetStepField:
    """One per-step setting of a step: ``ratchet``, ``ramp``, ``nudge``, ``condition`` or ``accent``
    (values as the session holds them). A condition replaces a probability: one condition a step."""

    track: int
    step: int
    field: str
    value: Any


@dataclass(frozen=True)
class SetLock:
    """Parameter ``name`` locked to ``value`` on one step (None: the lock removed)."""

    track: int
    step: int
    name: str
    value: float | None


@dataclass(frozen=True)
class SetTrackField:
    """A track's ``length`` (1–64 steps) or ``speed`` (one of SPEEDS)."""

    track: int
    field: str
    value: Any


@dataclass(frozen=True)
class SetChain:
    """Slots played in turn at bar lines (song mode); empty ends the chain."""

    slots: tuple[int, ...]


@dataclass(frozen=True)
class Fill:
    """The FILL key held (True) or let go."""

    held: bool


@dataclass(frozen=True)
class ClearTrack:
    track: int


@dataclass(frozen=True)
class ToggleMute:
    track: int


@dataclass(frozen=True)
class SetPattern:
    """Steps ``first``… of a track replaced by ``steps`` (the sampler's result), with their
    velocity and nudge when it grooved them."""

    track: int
    first: int
    steps: tuple[bool, ...]
    velocity: tuple[float, ...] | None = None
    nudge: tuple[int, ...] | None = None


@dataclass(frozen=True)
class SetGroove:
    """Velocity and nudge of steps ``first``… (a groove), the steps left as they are."""

    track: int
    first: int
    velocity: tuple[float, ...]
    nudge: tuple[int, ...]


@dataclass(frozen=True)
class SetIntrospection:
    """One of the session's introspection settings: ``focus`` (temperature), ``groove`` (0–1) or
    ``next_bar`` ("likely" / "new")."""

    field: str
    value: Any


@dataclass(frozen=True)
class Groove:
    """The drummers' velocity and timing for ``track``'s steps 1–32, the steps left alone."""

    track: int


@dataclass(frozen=True)
class IntrospectKit:
    """Every other track's 32 steps generated from ``basis``'s."""

    basis: int


@dataclass(frozen=True)
class Introspect:
    """Generate ``target``'s 32 steps from ``basis``'s with the prior sampler."""

    basis: int
    target: int


@dataclass(frozen=True)
class Generate:
    """Generate steps 17–32 of ``track`` from its steps 1–16."""

    track: int


@dataclass(frozen=True)
class Transport:
    """Start when stopped, stop when playing."""


@dataclass(frozen=True)
class Tap:
    """One tap of tap tempo (the internal clock's; ignored while following MIDI clock)."""


@dataclass(frozen=True)
class SaveSlot:
    slot: int


@dataclass(frozen=True)
class RecallSlot:
    slot: int


Action = (SetSteps | SetLevel | SetStepField | SetLock | SetTrackField | SetChain | Fill | ClearTrack
          | ToggleMute | SetPattern | SetGroove | SetIntrospection | Introspect | IntrospectKit | Generate
          | Groove | Transport | Tap | SaveSlot | RecallSlot)
Job = Introspect | IntrospectKit | Generate | Groove  # actions the sampler answers, off the key path
STEP_FIELDS = ("ratchet", "ramp", "nudge", "condition", "accent")



def apply(session: Session, action: Action) -> bool:
    """Make a session edit; False for actions that are not plain edits (or name a missing track)."""
    if not 0 <= getattr(action, "track", 0) < len(session.tracks):
        return False
    match action:
        case SetSteps(track, steps, on):
            t = session.tracks[track]
            for s in steps:
                t.steps[s % MAX_STEPS] = on
        case SetLevel(track, step, lane, level) if lane in LANE_KINDS:
            t = session.tracks[track]
            t.steps[step % MAX_STEPS] = True
            getattr(t, lane)[step % MAX_STEPS] = min(max(float(level), 0.0), 1.0)
            if lane == "probability" and level < 1.0:
                t.condition[step % MAX_STEPS] = None
        case SetStepField(track, step, name, value) if name in STEP_FIELDS:
            t, i = session.tracks[track], step % MAX_STEPS
            value = bool(value) if name == "accent" else LANES[name][1](value, f"track {track + 1} {name}")
            getattr(t, name)[i] = value
            if name == "condition" and value is not None:
                t.probability[i] = 1.0
        case SetLock(track, step, name, value) if name in params.BY_NAME:
            locks = session.tracks[track].locks[step % MAX_STEPS]
            if value is None:
                locks.pop(name, None)
            else:
                locks[name] = params.BY_NAME[name].clamp(value)
        case SetTrackField(track, "length", value) if isinstance(value, int):
            session.tracks[track].length = min(max(value, 1), MAX_STEPS)
        case SetTrackField(track, "speed", value) if value in SPEEDS:
            session.tracks[track].speed = float(value)
        case SetChain(slots):
            session.chain = [s for s in slots if isinstance(s, int) and 0 <= s < MAX_SLOTS]
        case ClearTrack(track):
            session.tracks[track].steps = [False] * MAX_STEPS
        case ToggleMute(track):
            session.tracks[track].mute = not session.tracks[track].mute
        case SetPattern(track, first, steps, velocity, nudge):
            t = session.tracks[track]
            for i, on in enumerate(steps[: STEPS - first]):
                t.steps[first + i] = bool(on)
            if velocity is not None and nudge is not None:
                apply(session, SetGroove(track, first, velocity, nudge))
        case SetGroove(track, first, velocity, nudge):
            t = session.tracks[track]
            for i, (v, n) in enumerate(zip(velocity[: STEPS - first], nudge[: STEPS - first], strict=False)):
                t.velocity[first + i] = clamp(v, 0.0, 1.0, t.velocity[first + i], "groove velocity")
                t.nudge[first + i] = read_nudge(n, "groove nudge")
        case SetIntrospection("focus", value):
            session.focus = clamp(value, *FOCUS_RANGE, session.focus, "focus")
        case SetIntrospection("groove", value):
            session.groove = clamp(value, 0.0, 1.0, session.groove, "groove")
        case SetIntrospection("next_bar", value) if value in NEXT_BAR_MODES:
            session.next_bar = value
        case _:
            return False
    return True
