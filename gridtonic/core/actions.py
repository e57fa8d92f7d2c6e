"""What a performer asks of the instrument, independent of the controller that asked.

Gestures turn key presses into these; ``apply`` makes the edits that are plain session changes
(pure and immediate), the surface runs the others (transport, the sampler, pattern slots).
"""

from __future__ import annotations

from dataclasses import dataclass

from gridtonic.core.layout import LANE_KINDS
from gridtonic.core.session import STEPS, Session


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
class ClearTrack:
    track: int


@dataclass(frozen=True)
class ToggleMute:
    track: int


@dataclass(frozen=True)
class SetPattern:
    """Steps ``first``… of a track replaced by ``steps`` (the sampler's result)."""

    track: int
    first: int
    steps: tuple[bool, ...]


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


Action = (SetSteps | SetLevel | ClearTrack | ToggleMute | SetPattern | Introspect | Generate | Transport
          | Tap | SaveSlot | RecallSlot)


def apply(session: Session, action: Action) -> bool:
    """Make a session edit; False for actions that are not plain edits (or name a missing track)."""
    if not 0 <= getattr(action, "track", 0) < len(session.tracks):
        return False
    match action:
        case SetSteps(track, steps, on):
            t = session.tracks[track]
            for s in steps:
                t.steps[s % STEPS] = on
        case SetLevel(track, step, lane, level) if lane in LANE_KINDS:
            t = session.tracks[track]
            t.steps[step % STEPS] = True
            getattr(t, lane)[step % STEPS] = min(max(float(level), 0.0), 1.0)
        case ClearTrack(track):
            session.tracks[track].steps = [False] * STEPS
        case ToggleMute(track):
            session.tracks[track].mute = not session.tracks[track].mute
        case SetPattern(track, first, steps):
            t = session.tracks[track]
            for i, on in enumerate(steps[: STEPS - first]):
                t.steps[first + i] = bool(on)
        case _:
            return False
    return True
