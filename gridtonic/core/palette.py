"""Levels → colours: how an RGB controller shows the grid's 0–15 picture. Pure.

A layout's ``[palette]`` gives each track row a colour, and the playhead, the function keys (one
colour for all, or per key name or family: ``play``, ``page``, ``slot``, ``shift``…) and the lanes
theirs. A key's level is its colour's brightness (``brightness``: 16 factors, 0–1), so a step's
velocity reads as how bright its track colour is. On step rows the two playhead levels of the
frame (15: the playhead on a set step, a held key, a fresh row; 3: the playhead on an empty step)
take the playhead's colour instead: a white sweep over coloured rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

RGB = tuple[int, int, int]  # 0–255 each
Levels = tuple[RGB, ...]  # the colour of levels 0–15

HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
TRACKS = ("#ff2a1a", "#ff8c00", "#ffe600", "#33ff4d", "#00d5ff", "#3366ff", "#b23dff", "#ff3d9e")
BRIGHTNESS = (0.0, 0.03, 0.06, 0.1, 0.15, 0.2, 0.26, 0.33, 0.41, 0.5, 0.6, 0.7, 0.8, 0.87, 0.94, 1.0)
PLAYHEAD_LEVELS = (3, 15)
FIELDS = {"tracks", "playhead", "keys", "lanes", "brightness", "functions"}


def _colour(value: Any, what: str) -> RGB:
    m = HEX.match(value) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"{what} must be a colour like \"#ff8000\", not {value!r}")
    h = m.group(1)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


@dataclass(frozen=True)
class Palette:
    tracks: tuple[RGB, ...] = tuple(_colour(c, "") for c in TRACKS)
    playhead: RGB = (255, 255, 255)
    keys: RGB = (255, 255, 255)
    lanes: RGB = (255, 160, 0)
    functions: dict[str, RGB] = field(default_factory=dict)  # key name or family (page, slot) → colour
    brightness: tuple[float, ...] = BRIGHTNESS

    def levels(self, colour: RGB, playhead: bool = False) -> Levels:
        """The 16 colours of a key of ``colour`` (the playhead's at its levels when ``playhead``)."""
        def lit(level: int) -> RGB:
            c = self.playhead if playhead and level in PLAYHEAD_LEVELS else colour
            return tuple(round(v * self.brightness[level]) for v in c)  # type: ignore[return-value]
        return tuple(lit(level) for level in range(16))

    def function(self, name: str) -> RGB:
        family = name.split("_")[0]
        return self.functions.get(name, self.functions.get(family, self.keys))


def parse(table: Any) -> Palette:
    """The palette in a layout's ``[palette]`` table; ValueError (one line, naming the field)."""
    if not isinstance(table, dict):
        raise ValueError("palette must be a table ([palette])")
    if unknown := sorted(table.keys() - FIELDS):
        raise ValueError(f"palette: unknown field {unknown[0]!r} (known: {', '.join(sorted(FIELDS))})")
    kw: dict[str, Any] = {}
    if "tracks" in table:
        tracks = table["tracks"]
        if not (isinstance(tracks, list) and tracks):
            raise ValueError("palette.tracks must be a list of colours")
        kw["tracks"] = tuple(_colour(c, f"palette.tracks[{i}]") for i, c in enumerate(tracks))
    for name in ("playhead", "keys", "lanes"):
        if name in table:
            kw[name] = _colour(table[name], f"palette.{name}")
    functions = table.get("functions", {})
    if not isinstance(functions, dict):
        raise ValueError("palette.functions must be a table of key name = colour")
    kw["functions"] = {k: _colour(v, f"palette.functions.{k}") for k, v in functions.items()}
    if "brightness" in table:
        b = table["brightness"]
        if not (isinstance(b, list) and len(b) == 16 and all(isinstance(v, int | float) and 0 <= v <= 1
                                                              for v in b)):
            raise ValueError("palette.brightness must be 16 numbers from 0 to 1 (levels 0–15)")
        kw["brightness"] = tuple(float(v) for v in b)
    return Palette(**kw)

