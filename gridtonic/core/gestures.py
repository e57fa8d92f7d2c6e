"""The gesture vocabulary: key presses and releases in, actions out. Pure and time-free.

The state machine knows the layout and reads the session (to know what a toggle means) but never
changes it; the surface applies the actions. Any controller with keys on a grid drives it.

- A step press on an empty step sets it at once; a press on a set step clears it on *release*,
  unless the hold was used for a gesture (Elektron-style: holding a trig edits it).
- Hold a step and press others in its row: paint the span (set if the held step was empty,
  erase if it was set) — supertonic's "hold K3 and turn E2".
- Hold a step and press another key in its column: that column is a fader for the step's velocity
  (top loudest; function keys keep their meaning, so it spans the rows without one).
- Hold steps and press a key of the layout's ``[hold]`` layer: edit every held step (kria /
  Elektron trig editing): ``ratchet`` +1 (1–8, wraps), ``condition`` the next of ``CONDITIONS``,
  ``nudge`` 1/24 step later, ``speed`` the track's next speed — with ``shift`` held each goes the
  other way; ``accent`` toggles; ``length`` makes the held step its track's last; ``clear`` resets
  the step's ratchet, ramp, nudge, condition, accent and locks. ``lock``: a tap chooses the next
  parameter to lock (``lock_param``; shift: the previous), holding it turns the held step's column
  into a fader for that parameter's locked value (``clear`` meanwhile removes that one lock).
- A key in a lane (16×16: velocity, probability) is a fader for that step of the selected track.
- Hold ``introspect``: the first row pressed is the basis, each further row pressed is generated
  from it (supertonic's K1+K3). Hold ``generate`` and press rows: steps 17–32 from 1–16 (K1+K2);
  a tap of ``generate`` alone does the selected track.
- Hold ``mute`` / ``clear`` / ``shift`` and press a row: mute, clear, select it. Selecting scrolls
  the track rows (``offset``) so the selected track and its neighbours show: every track is
  reachable on a surface with fewer rows than tracks.
- ``slot_N`` recalls a pattern slot (the surface queues it to the bar line), ``shift`` + ``slot_N``
  saves to it; hold a slot key and press others in order: a chain of those slots (song mode); a
  plain recall ends a chain. ``page_N`` shows page N, ``shift`` + ``page_N`` page N of the next bank
  (steps 33–64 on a grid with two page keys); ``page`` cycles the pages the tracks' lengths use.
  ``play`` starts and stops, ``shift`` + ``play`` taps the tempo; ``fill`` (``[shift]`` layer on
  full layouts) is Elektron's FILL while held, ``groove`` (also ``[shift]``) grooves the selected
  track; while ``introspect`` is held (``[introspect]``), ``focus`` / ``wild`` make the draws
  sharper / looser and ``kit`` generates every other track from the basis row pressed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gridtonic.core import actions as a
from gridtonic.core.layout import HOLD_KEYS, MODIFIERS, Key, Layout
from gridtonic.core.params import PARAMS
from gridtonic.core.session import MAX_NUDGE, MAX_RATCHET, SPEEDS, Session

# the conditions a grid cycles through (the page sets any A:B up to 8)
CONDITIONS: tuple[str | None, ...] = (
    None, *(f"{n}:{b}" for b in range(2, 5) for n in range(1, b + 1)),
    "FILL", "!FILL", "PRE", "!PRE", "NEI", "!NEI", "1ST", "!1ST",
)
RATCHETS = tuple(range(1, MAX_RATCHET + 1))
FOCUS_STEP = 1.25  # one focus / wild press multiplies the temperature by 1/1.25 / 1.25
RESET = (("ratchet", 1), ("ramp", 0.0), ("nudge", 0), ("condition", None), ("accent", False))


@dataclass
class StepHold:
    track: int
    step: int
    was_on: bool
    used: bool = False  # a gesture was made with it: its release leaves the step alone


def _next(values: tuple[Any, ...], current: Any, back: bool) -> Any:
    """The value after ``current`` in ``values`` (before it when ``back``), wrapping; the first
    (last when ``back``) when ``current`` is not one of them."""
    if current not in values:
        return values[-1 if back else 0]
    return values[(values.index(current) + (-1 if back else 1)) % len(values)]


@dataclass
class Gestures:
    layout: Layout
    session: Session
    page: int = 0
    selected: int = 0
    offset: int = 0  # the track on the top track row (rows scroll when there are more tracks)
    lock_param: int = 0  # index in PARAMS of the parameter ``lock`` sets
    basis: int | None = None  # introspection basis while ``introspect`` is held
    held: set[Key] = field(default_factory=set)
    steps: dict[Key, StepHold] = field(default_factory=dict)  # held step keys, oldest first
    modifiers: dict[str, bool] = field(default_factory=dict)  # held modifier (and lock) → used while held
    names: dict[Key, str] = field(default_factory=dict)  # what each held function key meant when pressed
    chain: list[int] = field(default_factory=list)  # slots pressed while a slot key is held

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

    def track_at(self, y: int) -> int | None:
        """The track shown on row ``y`` (the rows scrolled by ``offset``), if any."""
        row = self.layout.track_at(y)
        t = None if row is None else row + self.offset
        return t if t is not None and t < len(self.session.tracks) else None

    def select(self, track: int) -> None:
        """Select ``track`` and scroll the track rows so it shows with a neighbour on each side
        where there is one (selecting the bottom row brings the next track in)."""
        self.selected = track
        rows, n = len(self.layout.track_rows), len(self.session.tracks)
        if rows >= n:
            self.offset = 0
            return
        margin = 1 if rows > 2 else 0
        self.offset = min(max(self.offset, track + margin + 1 - rows), track - margin)
        self.offset = min(max(self.offset, 0), n - rows)

    def pages_used(self) -> int:
        """Pages the longest track's steps take (at least one)."""
        longest = max((t.length for t in self.session.tracks), default=1)
        return max(1, -(-longest // self.layout.page_size))

    def layer(self) -> str:
        """The layout layer the function keys are in now."""
        if self.steps:
            return "hold"
        return next((m for m in ("shift", "introspect") if m in self.modifiers), "")

    def _down(self, x: int, y: int) -> list[a.Action]:
        anchor_xy = self.anchor_key()
        name = self.layout.function_at(x, y, self.layer())
        if anchor_xy is not None and x == anchor_xy[0] and y != anchor_xy[1] and name is None:
            return self._fader(y, anchor_xy)
        if name is not None:
            self.names[(x, y)] = name
            return self._function(name)
        lane = self.layout.lane_at(y)
        if lane is not None:
            return self._lane(x, y, lane)
        track = self.track_at(y)
        step = self.layout.step_at(x, self.page)
        if track is None or step is None:
            return []
        return self._row(track, step, (x, y))

    def _shifted(self) -> bool:
        """Whether shift is held; a function key that reads it uses it."""
        if "shift" in self.modifiers:
            self.modifiers["shift"] = True
            return True
        return False

    def _function(self, name: str) -> list[a.Action]:
        if name in HOLD_KEYS or (name == "clear" and self.steps):
            return self._step_edit(name)
        if name in MODIFIERS:
            self.modifiers[name] = False
            return []
        if name == "play":
            return [a.Tap()] if self._shifted() else [a.Transport()]
        if name == "fill":
            return [a.Fill(True)]
        if name in ("focus", "wild", "kit", "groove"):
            return self._introspection(name)
        if name == "page":
            self.page = (self.page + (-1 if self._shifted() else 1)) % self.pages_used()
        elif name.startswith("page_"):
            page = int(name[5:]) - 1 + (self.layout.page_keys if self._shifted() else 0)
            self.page = min(page, self.layout.pages - 1)
        elif name.startswith("slot_"):
            return self._slot(int(name[5:]) - 1)
        return []

    def _introspection(self, name: str) -> list[a.Action]:
        """``focus`` / ``wild`` (introspect held) make draws sharper / looser by FOCUS_STEP;
        ``kit`` generates every other track from the basis row pressed (else the selected track);
        ``groove`` (shift held) grooves the selected track."""
        for mod in ("introspect", "shift"):
            if mod in self.modifiers:
                self.modifiers[mod] = True
        track = self.selected if self.selected < len(self.session.tracks) else None
        if name in ("focus", "wild"):
            step = 1 / FOCUS_STEP if name == "focus" else FOCUS_STEP
            return [a.SetIntrospection("focus", self.session.focus * step)]
        if name == "kit":
            basis = self.basis if self.basis is not None else track
            return [] if basis is None else [a.IntrospectKit(basis)]
        return [] if track is None else [a.Groove(track)]

    def _slot(self, slot: int) -> list[a.Action]:
        if self._shifted():
            return [a.SaveSlot(slot)]
        if self.chain:  # another slot key is held: this one joins its chain
            self.chain.append(slot)
            return []
        self.chain = [slot]
        return [a.SetChain(()), a.RecallSlot(slot)] if self.session.chain else [a.RecallSlot(slot)]

    def _step_edit(self, name: str) -> list[a.Action]:
        """A ``[hold]`` key (or clear) pressed while steps are held: edit each of them."""
        for hold in self.steps.values():
            hold.used = True
        back = self._shifted()
        if name == "lock":
            self.modifiers["lock"] = False
            return []
        if name == "clear" and "lock" in self.modifiers:
            self.modifiers["lock"] = True
            name = PARAMS[self.lock_param].name
            return [a.SetLock(h.track, h.step, name, None) for h in self.steps.values()]
        out: list[a.Action] = []
        tracks = self.session.tracks
        for h in self.steps.values():
            t = tracks[h.track]
            match name:
                case "ratchet":
                    out.append(a.SetStepField(h.track, h.step, "ratchet",
                                              _next(RATCHETS, t.ratchet[h.step], back)))
                case "condition":
                    out.append(a.SetStepField(h.track, h.step, "condition",
                                              _next(CONDITIONS, t.condition[h.step], back)))
                case "nudge":
                    nudge = min(max(t.nudge[h.step] + (-1 if back else 1), -MAX_NUDGE), MAX_NUDGE)
                    out.append(a.SetStepField(h.track, h.step, "nudge", nudge))
                case "accent":
                    out.append(a.SetStepField(h.track, h.step, "accent", not t.accent[h.step]))
                case "clear":
                    out += [a.SetStepField(h.track, h.step, f, v) for f, v in RESET]
                    out += [a.SetLock(h.track, h.step, p, None) for p in t.locks[h.step]]
        if name in ("length", "speed"):  # once per track, from its oldest held step
            firsts = {h.track: h for h in reversed(self.steps.values())}
            for track, h in firsts.items():
                value = h.step + 1 if name == "length" else _next(SPEEDS, tracks[track].speed, back)
                out.append(a.SetTrackField(track, name, value))
        return out

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
        self.select(track)
        return []

    def fader_rows(self, anchor_xy: Key) -> list[int]:
        """The rows of the held step's column that make its fader (top first): all but its own row
        and the function keys."""
        x, ay = anchor_xy
        return [r for r in range(self.layout.height) if r != ay and self.layout.function_at(x, r) is None]

    def _fader(self, y: int, anchor_xy: Key) -> list[a.Action]:
        """The anchor's column as a fader: the other keys from bottom (lowest) to top (highest)."""
        anchor = self.steps[anchor_xy]
        anchor.used = True
        rows = self.fader_rows(anchor_xy)
        if y not in rows:
            return []
        level = (len(rows) - rows.index(y)) / len(rows)
        if "lock" in self.modifiers:  # bottom = the parameter's minimum, top its maximum
            self.modifiers["lock"] = True
            param = PARAMS[self.lock_param]
            position = (level * len(rows) - 1) / max(1, len(rows) - 1)
            return [a.SetLock(anchor.track, anchor.step, param.name, param.at(position))]
        return [a.SetLevel(anchor.track, anchor.step, "velocity", level)]

    def _lane(self, x: int, y: int, lane: str) -> list[a.Action]:
        step = self.layout.step_at(x, self.page)
        if step is None or self.selected >= len(self.session.tracks):
            return []
        rows = self.layout.lanes[lane]
        return [a.SetLevel(self.selected, step, lane, (len(rows) - rows.index(y)) / len(rows))]

    def _up(self, x: int, y: int) -> list[a.Action]:
        hold = self.steps.pop((x, y), None)
        if hold is not None:
            if not self.steps:
                self.modifiers.pop("lock", None)
            return [a.SetSteps(hold.track, (hold.step,), False)] if hold.was_on and not hold.used else []
        name = self.names.pop((x, y), None)
        if name == "fill":
            return [a.Fill(False)]
        if name is not None and name.startswith("slot_"):
            return self._slot_up()
        if name not in self.modifiers:
            return []
        used = self.modifiers.pop(name)
        if name == "introspect":
            self.basis = None
        elif name == "lock" and not used:  # a tap: the next parameter to lock
            self.lock_param = (self.lock_param + (-1 if self._shifted() else 1)) % len(PARAMS)
        elif name == "generate" and not used and self.selected < len(self.session.tracks):
            return [a.Generate(self.selected)]
        return []

    def _slot_up(self) -> list[a.Action]:
        """When the last held slot key goes up, two or more slots pressed make the chain."""
        if any(n.startswith("slot_") for n in self.names.values()):
            return []
        chain, self.chain = self.chain, []
        return [a.SetChain(tuple(chain))] if len(chain) > 1 else []
