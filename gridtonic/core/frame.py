"""LED frames: session + gesture state → a varibright level (0–15) per key, and 8×8 quad diffs.

Pure, so every controller draws the same picture (a Launchpad maps levels to colours, a browser to
opacity) and tests compare frames, not LED traffic. Levels, brightest wins:

15 a held key, a track's own playhead on a set step, a freshly generated row (flash)
13 set steps of the introspection basis        4–11 set steps by velocity (2 when muted)
6  the velocity bar of a held step (its column; a lock's value while ``lock`` is held), a set step's
   level in a lane (velocity, probability)
3  a track's playhead on empty steps, empty steps of the basis row
2  empty steps of a row waiting for the sampler, set steps past the track's length
1  empty steps of the selected track
Each track row shows that track's own playhead (per-track length and speed) and the rows scrolled by
the gestures' ``offset``. Function keys: held modifiers 15 (else 4), play 12/4, fill 15 while on
(else 4), the shown page 12 (9 when shift + the key shows it: the next bank; the playing one 7,
others 3; a single cycling ``page`` key 4 on page 1 up to 12 on the last), slots: active 11, filled
5, empty 1, queued blinks 15/5. While a step is held the ``[hold]`` keys show its settings: ratchet
4 + hits − 1, condition / accent / a lock on it 12 (else 4), nudge 4 + |nudge|/2, length 12 when
the held step is the last, speed 4 + its index in SPEEDS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gridtonic.core.gestures import Gestures
from gridtonic.core.layout import MODIFIERS
from gridtonic.core.params import PARAMS
from gridtonic.core.session import FOCUS, SPEEDS

Frame = tuple[int, ...]  # row-major levels, width × height
Quad = tuple[int, int]  # (x offset, y offset), multiples of 8
QuadLevels = tuple[Quad, tuple[int, ...]]  # a quad and its 64 levels, row by row

# 2011 grids show four levels (0–3 off, 4–7, 8–11, 12–15): lift the faint ones that must stay visible
FOUR_LEVELS = (0, 0, 0, 4, 4, 8, 8, 8, 8, 8, 12, 12, 12, 15, 15, 15)


@dataclass(frozen=True)
class Status:
    """What the surface knows beyond the session and the gestures."""

    playhead: int | None = None  # while playing: the selected track's position (every track's
                                 # where ``positions`` has none)
    positions: tuple[int, ...] = ()  # each track's pattern position while playing
    flashing: frozenset[int] = frozenset()  # tracks whose generated steps just arrived
    pending: frozenset[int] = frozenset()  # tracks waiting for the sampler
    slots: tuple[bool, ...] = ()  # which pattern slots hold a pattern
    active_slot: int | None = None
    queued_slot: int | None = None
    blink: bool = False  # phase of blinking keys (flips with the 16ths)
    fill: bool = False  # the FILL key is held

    def position(self, track: int) -> int | None:
        if self.playhead is None:
            return None
        return self.positions[track] if track < len(self.positions) else self.playhead


def _step_level(s: int, track: int, g: Gestures, st: Status, at_playhead: bool) -> int:
    t = g.session.tracks[track]
    on = t.steps[s]
    if track in st.flashing:
        return 15 if on else 5
    if s >= t.length:
        return 2 if on else 0
    velocity = t.velocity[s]
    if on:
        level = 2 if t.mute else 4 + round(7 * velocity)
        if track == g.basis:
            level = 13
        return 15 if at_playhead else level
    if at_playhead or track == g.basis:
        return 3
    if track in st.pending:
        return 2
    return 1 if track == g.selected else 0


def render(g: Gestures, st: Status) -> Frame:
    """The frame for the gesture state ``g`` (which holds the layout and the session) and ``st``."""
    lay = g.layout
    w = lay.width
    levels = [0] * (w * lay.height)
    first, last = lay.step_columns

    def playhead_x(track: int) -> int | None:
        step = st.position(track)
        if step is None:
            return None
        page, x = lay.column_of(step)
        return x if page == g.page else None

    for y in lay.track_rows:
        track = g.track_at(y)
        if track is None:
            continue
        px = playhead_x(track)
        for x in range(first, last):
            s = g.page * lay.page_size + x - first
            levels[y * w + x] = _step_level(s, track, g, st, x == px)
    px = playhead_x(g.selected)
    for lane, rows in lay.lanes.items() if g.selected < len(g.session.tracks) else ():
        t = g.session.tracks[g.selected]
        for x in range(first, last):
            s = g.page * lay.page_size + x - first
            height = round(getattr(t, lane)[s] * len(rows)) if t.steps[s] else 0
            for i, y in enumerate(rows):
                lit = len(rows) - i <= height
                levels[y * w + x] = 6 if lit else (3 if x == px else 0)
    layer = g.layer()
    for name, (x, y) in lay.keys.items():
        shown = lay.function_at(x, y, layer) or name
        levels[y * w + x] = _function_level(shown, g, st)
    anchor = g.anchor_key()
    if anchor is not None:  # the held step's column becomes its velocity (or lock) fader
        hold = g.steps[anchor]
        rows = g.fader_rows(anchor)
        t = g.session.tracks[hold.track]
        value = t.velocity[hold.step]
        if "lock" in g.modifiers:
            param = PARAMS[g.lock_param]
            locked = t.locks[hold.step].get(param.name, t.patch().get(param.name, param.default))
            value = (param.position(locked) * (len(rows) - 1) + 1) / len(rows)
        height = round(value * len(rows))
        for i, y in enumerate(rows):
            levels[y * w + anchor[0]] = 6 if len(rows) - i <= height else 0
    for x, y in g.held:
        levels[y * w + x] = 15
    return tuple(levels)


def _hold_level(name: str, g: Gestures) -> int:
    """A ``[hold]`` key while a step is held: what it would change, on the oldest held step."""
    hold = g.anchor
    assert hold is not None
    t, s = g.session.tracks[hold.track], hold.step
    match name:
        case "ratchet":
            return 4 + t.ratchet[s] - 1
        case "condition":
            return 12 if t.condition[s] is not None else 4
        case "nudge":
            return 4 + (abs(t.nudge[s]) + 1) // 2
        case "accent":
            return 12 if t.accent[s] else 4
        case "lock":
            return 15 if "lock" in g.modifiers else 12 if t.locks[s] else 4
        case "length":
            return 12 if t.length == s + 1 else 4
    return 4 + SPEEDS.index(t.speed) if t.speed in SPEEDS else 4


def _function_level(name: str, g: Gestures, st: Status) -> int:
    if name in MODIFIERS:
        return 15 if name in g.modifiers else 4
    if g.steps and name in g.layout.layers.get("hold", {}):
        return _hold_level(name, g)
    if name == "play":
        return 12 if st.playhead is not None else 4
    if name == "fill":
        return 15 if st.fill else 4
    focus = g.session.focus
    if name in ("focus", "wild"):  # the side the temperature is on lights up
        return 12 if (focus < FOCUS if name == "focus" else focus > FOCUS) else 4
    if name == "kit":
        return 8
    if name == "groove":
        return 4 + round(8 * g.session.groove)
    if name == "page":  # one key cycling the pages: brighter on later pages
        return 4 + 8 * g.page // max(1, g.pages_used() - 1)
    if name.startswith("page_"):
        page = int(name[5:]) - 1
        playing_page = None if st.playhead is None else g.layout.column_of(st.playhead)[0]
        if page + g.layout.page_keys == g.page:
            return 9
        return 12 if page == g.page else 7 if page == playing_page else 3
    slot = int(name[5:]) - 1
    if slot == st.queued_slot:
        return 15 if st.blink else 5
    if slot == st.active_slot:
        return 11
    return 5 if slot < len(st.slots) and st.slots[slot] else 1


def four_levels(frame: Frame) -> Frame:
    """The frame as a 2011 four-level grid should be sent it."""
    return tuple(FOUR_LEVELS[v] for v in frame)


def quads(frame: Frame, width: int, height: int) -> Iterator[QuadLevels]:
    """((x_off, y_off), 64 levels row by row) for each 8×8 quad of the frame."""
    for qy in range(0, height, 8):
        for qx in range(0, width, 8):
            yield (qx, qy), tuple(frame[(qy + r) * width + qx + c] for r in range(8) for c in range(8))


def changed_quads(old: Frame | None, new: Frame, width: int, height: int) -> list[QuadLevels]:
    """The quads of ``new`` that differ from ``old`` (all of them when there is no ``old``)."""
    if old is None:
        return list(quads(new, width, height))
    before = dict(quads(old, width, height))
    return [(q, levels) for q, levels in quads(new, width, height) if before[q] != levels]
