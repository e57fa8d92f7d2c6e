"""The gesture vocabulary: key presses and releases in, actions out. Pure and time-free.

The state machine knows the layout and reads the session (to know what a toggle means) but never
changes it; the surface applies the actions. Any controller with keys on a grid drives it.

- A step press on an empty step sets it at once; a press on a set step clears it on *release*,
  unless the hold was used for a gesture (Elektron-style: holding a trig edits it).
- Hold a step and press others in its row: paint the span (set if the held step was empty,
  erase if it was set) — supertonic's "hold K3 and turn E2".
- Hold a step and press another key in its column: that column is a fader for the step's velocity
  (top loudest); it also sets the step.
- A key in a lane (16×16: velocity, probability) is a fader for that step of the selected track.
- Hold ``introspect``: the first row pressed is the basis, each further row pressed is generated
  from it (supertonic's K1+K3). Hold ``generate`` and press rows: steps 17–32 from 1–16 (K1+K2);
  a tap of ``generate`` alone does the selected track.
- Hold ``mute`` / ``clear`` / ``shift`` and press a row: mute, clear, select it.
- ``slot_N`` recalls a pattern slot (the surface queues it to the bar line), ``shift`` + ``slot_N``
  saves to it. ``page_N`` / ``page`` show steps of another page; ``play`` starts and stops,
  ``shift`` + ``play`` taps the tempo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gridtonic.core import actions as a
from gridtonic.core.layout import MODIFIERS, Key, Layout
from gridtonic.core.session import Session


@dataclass
class StepHold:
    track: int
    step: int
    was_on: bool
    used: bool = False  # a gesture was made with it: its release leaves the step alone


@dataclass
class Gestures:
    layout: Layout
    session: Session
    page: int = 0
    selected: int = 0
    basis: int | None = None  # introspection basis while ``introspect`` is held
    held: set[Key] = field(default_factory=set)
    steps: dict[Key, StepHold] = field(default_factory=dict)  # held step keys, oldest first
    modifiers: dict[str, bool] = field(default_factory=dict)  # held modifier → used while held

    @property
    def anchor(self) -> StepHold | None:
        """The step held longest: the one paint and velocity gestures act on."""
        return next(iter(self.steps.values()), None)

    def anchor_key(self) -> Key | None:
        return next(iter(self.steps), None)

    def key(self, x: int, y: int, down: bool) -> list[a.Action]:
        """Actions for one key event; repeated or out-of-grid events give none."""
        xy = (x, y)
        if not (0 <= x < self.layout.width and 0 <= y < self.layout.height):
            return []
        if down:
            if xy in self.held:
                return []
            self.held.add(xy)
            return self._down(x, y)
        if xy not in self.held:
            return []
        self.held.discard(xy)
        return self._up(x, y)

    def _track(self, y: int) -> int | None:
        t = self.layout.track_at(y)
        return t if t is not None and t < len(self.session.tracks) else None

    def _down(self, x: int, y: int) -> list[a.Action]:
        anchor_xy = self.anchor_key()
        if anchor_xy is not None and x == anchor_xy[0] and y != anchor_xy[1]:
            return self._fader(x, y, anchor_xy)
        name = self.layout.function_at(x, y)
        if name is not None:
            return self._function(name)
        lane = self.layout.lane_at(y)
        if lane is not None:
            return self._lane(x, y, lane)
        track = self._track(y)
        step = self.layout.step_at(x, self.page)
        if track is None or step is None:
            return []
        return self._row(track, step, (x, y))

    def _function(self, name: str) -> list[a.Action]:
        if name in MODIFIERS:
            self.modifiers[name] = False
            return []
        if name == "play":
            if "shift" in self.modifiers:  # shift + play: tap tempo
                self.modifiers["shift"] = True
                return [a.Tap()]
            return [a.Transport()]
        if name == "page":
            self.page = (self.page + 1) % self.layout.pages
        elif name.startswith("page_"):
            self.page = int(name[5:]) - 1
        elif name.startswith("slot_"):
            slot = int(name[5:]) - 1
            if "shift" in self.modifiers:
                self.modifiers["shift"] = True
                return [a.SaveSlot(slot)]
            return [a.RecallSlot(slot)]
        return []

    def _row(self, track: int, step: int, xy: Key) -> list[a.Action]:
        for mod in ("introspect", "generate", "mute", "clear", "shift"):
            if mod in self.modifiers:
                self.modifiers[mod] = True
                return self._modified(mod, track)
        anchor = self.anchor
        if anchor is not None and anchor.track == track:  # paint the span between the two
            anchor.used = True
            lo, hi = sorted((anchor.step, step))
            return [a.SetSteps(track, tuple(range(lo, hi + 1)), not anchor.was_on)]
        was_on = self.session.tracks[track].steps[step]
        self.steps[xy] = StepHold(track, step, was_on)
        self.selected = track
        return [] if was_on else [a.SetSteps(track, (step,), True)]

    def _modified(self, mod: str, track: int) -> list[a.Action]:
        if mod == "introspect":
            if self.basis is None:
                self.basis = track
                return []
            return [] if track == self.basis else [a.Introspect(self.basis, track)]
        if mod == "generate":
            return [a.Generate(track)]
        if mod == "mute":
            return [a.ToggleMute(track)]
        if mod == "clear":
            return [a.ClearTrack(track)]
        self.selected = track
        return []

    def _fader(self, x: int, y: int, anchor_xy: Key) -> list[a.Action]:
        """The anchor's column as a fader: the other keys from bottom (quietest) to top (loudest)."""
        anchor = self.steps[anchor_xy]
        anchor.used = True
        rows = [r for r in range(self.layout.height) if r != anchor_xy[1]]
        level = len(rows) - rows.index(y)
        return [a.SetLevel(anchor.track, anchor.step, "velocity", level / len(rows))]

    def _lane(self, x: int, y: int, lane: str) -> list[a.Action]:
        step = self.layout.step_at(x, self.page)
        if step is None or self.selected >= len(self.session.tracks):
            return []
        rows = self.layout.lanes[lane]
        return [a.SetLevel(self.selected, step, lane, (len(rows) - rows.index(y)) / len(rows))]

    def _up(self, x: int, y: int) -> list[a.Action]:
        hold = self.steps.pop((x, y), None)
        if hold is not None:
            return [a.SetSteps(hold.track, (hold.step,), False)] if hold.was_on and not hold.used else []
        name = self.layout.function_at(x, y)
        if name not in self.modifiers:
            return []
        used = self.modifiers.pop(name)
        if name == "introspect":
            self.basis = None
        elif name == "generate" and not used and self.selected < len(self.session.tracks):
            return [a.Generate(self.selected)]
        return []
