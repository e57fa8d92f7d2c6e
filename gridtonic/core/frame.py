"""LED frames: session + gesture state → a varibright level (0–15) per key, and 8×8 quad diffs.

Pure, so every controller draws the same picture (a Launchpad maps levels to colours, a browser to
opacity) and tests compare frames, not LED traffic. Levels, brightest wins:

15 a held key, the playhead on a set step, a freshly generated row (flash)
13 set steps of the introspection basis        4–11 set steps by velocity (2 when muted)
6  the velocity bar of a held step (its column), a set step's level in a lane (velocity, probability)
3  the playhead column on empty steps, empty steps of the basis row
2  empty steps of a row waiting for the sampler      1  empty steps of the selected track
Function keys: held modifiers 15 (else 4), play 12/4, the shown page 12 (the playing one 7, others 3;
a single cycling ``page`` key 4 on page 1 up to 12 on the last), slots: active 11, filled 5, empty 1,
queued blinks 15/5.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gridtonic.core.gestures import Gestures
from gridtonic.core.layout import MODIFIERS

Frame = tuple[int, ...]  # row-major levels, width × height
Quad = tuple[int, int]  # (x offset, y offset), multiples of 8
QuadLevels = tuple[Quad, tuple[int, ...]]  # a quad and its 64 levels, row by row

# 2011 grids show four levels (0–3 off, 4–7, 8–11, 12–15): lift the faint ones that must stay visible
FOUR_LEVELS = (0, 0, 0, 4, 4, 8, 8, 8, 8, 8, 12, 12, 12, 15, 15, 15)


@dataclass(frozen=True)
class Status:
    """What the surface knows beyond the session and the gestures."""

    playhead: int | None = None  # step under the playhead while playing
    flashing: frozenset[int] = frozenset()  # tracks whose generated steps just arrived
    pending: frozenset[int] = frozenset()  # tracks waiting for the sampler
    slots: tuple[bool, ...] = ()  # which pattern slots hold a pattern
    active_slot: int | None = None
    queued_slot: int | None = None
    blink: bool = False  # phase of blinking keys (flips with the 16ths)


def _step_level(on: bool, velocity: float, track: int, g: Gestures, st: Status, at_playhead: bool) -> int:
    t = g.session.tracks[track]
    if track in st.flashing:
        return 15 if on else 5
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
    playhead_x = None
    if st.playhead is not None:
        page, x = lay.column_of(st.playhead)
        playhead_x = x if page == g.page else None
    for track, y in enumerate(lay.track_rows[: len(g.session.tracks)]):
        t = g.session.tracks[track]
        for x in range(first, last):
            s = g.page * lay.page_size + x - first
            levels[y * w + x] = _step_level(t.steps[s], t.velocity[s], track, g, st, x == playhead_x)
    for lane, rows in lay.lanes.items() if g.selected < len(g.session.tracks) else ():
        t = g.session.tracks[g.selected]
        for x in range(first, last):
            s = g.page * lay.page_size + x - first
            height = round(getattr(t, lane)[s] * len(rows)) if t.steps[s] else 0
            for i, y in enumerate(rows):
                lit = len(rows) - i <= height
                levels[y * w + x] = 6 if lit else (3 if x == playhead_x else 0)
    for name, (x, y) in lay.keys.items():
        levels[y * w + x] = _function_level(name, g, st)
    anchor = g.anchor_key()
    if anchor is not None:  # the held step's column becomes its velocity fader
        ax, ay = anchor
        rows = [r for r in range(lay.height) if r != ay]
        velocity = g.session.tracks[g.steps[anchor].track].velocity[g.steps[anchor].step]
        height = round(velocity * len(rows))
        for i, y in enumerate(rows):
            levels[y * w + ax] = 6 if len(rows) - i <= height else 0
    for x, y in g.held:
        levels[y * w + x] = 15
    return tuple(levels)


def _function_level(name: str, g: Gestures, st: Status) -> int:
    if name in MODIFIERS:
        return 15 if name in g.modifiers else 4
    if name == "play":
        return 12 if st.playhead is not None else 4
    if name == "page":  # one key cycling the pages: brighter on later pages
        return 4 + 8 * g.page // max(1, g.layout.pages - 1)
    if name.startswith("page_"):
        page = int(name[5:]) - 1
        playing_page = None if st.playhead is None else g.layout.column_of(st.playhead)[0]
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
