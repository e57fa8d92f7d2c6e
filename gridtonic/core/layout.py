"""Surface layouts: where tracks, steps, lanes and function keys sit on a grid of keys.

One layout file per controller shape (``layouts/*.toml``); the gesture machine and the LED renderer
only ever ask the layout what a key means, so a Launchpad or a browser page reuses both by loading
a layout of its own size. Layouts are checked at load: a bad file is one clear error, never a crash
halfway through a performance.

Grids have few keys, so a function key can mean a second thing in a layer (Elektron's trig-held
and FUNC layers): ``[hold]`` names what function keys do while a step is held (ratchet, condition,
nudge, accent, lock, length, speed), ``[shift]`` what they do while shift is held (fill). Every key,
layer and track row carries a human label (``[labels]``, ``tracks.labels``, a lane's ``label``) for
the page's virtual grid and ``gridtonic layout show``; a file without them gets plain ones.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridtonic.core.palette import Levels, Palette
from gridtonic.core.palette import parse as parse_palette
from gridtonic.core.resources import PACKAGE, resource_dir
from gridtonic.core.session import MAX_STEPS, STEPS


def layout_dir(package: Path) -> Path:
    """The checkout's ``layouts/``, else the installed wheel's copy."""
    return resource_dir("layouts", "grid16x8.toml", package)


LAYOUT_DIR = layout_dir(PACKAGE)
MODIFIERS = ("shift", "mute", "introspect", "clear", "generate")
KEY_NAME = re.compile(r"^(play|page|shift|mute|introspect|clear|generate|fill|page_[1-8]"
                      r"|slot_([1-9]|1[0-6]))$")
HOLD_KEYS = ("ratchet", "condition", "nudge", "accent", "lock", "length", "speed")  # while a step is held
SHIFT_KEYS = ("fill", "groove")  # while shift is held
INTROSPECT_KEYS = ("focus", "wild", "kit")  # while introspect is held
LAYERS = {"hold": HOLD_KEYS, "shift": SHIFT_KEYS, "introspect": INTROSPECT_KEYS}
LAYER_WHEN = {"hold": "with a step held", "shift": "with shift held", "introspect": "with introspect held"}
LANE_KINDS = ("velocity", "probability")  # each names the Track list its faders set
LAUNCHPAD_SIZES = ((9, 9), (18, 9))
MAX_LABEL = 120  # one Launchpad with its top row and side column; two side by side

Key = tuple[int, int]


class LayoutError(ValueError):
    """A layout file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Layout:
    name: str
    width: int
    height: int
    track_rows: tuple[int, ...]  # y of track 0, 1, …
    step_columns: tuple[int, int]  # x range [first, last) showing one page of steps
    keys: dict[str, Key]  # function name → (x, y)
    lanes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # kind → rows of faders for the
                                                                      # selected track (top = 1.0)
    palette: Palette = Palette()  # level → colour, for controllers with RGB keys
    layers: dict[str, dict[str, Key]] = field(default_factory=dict)  # LAYERS' name → name → (x, y)
    texts: dict[str, str] = field(default_factory=dict)  # key or layer name → label
    row_texts: dict[int, str] = field(default_factory=dict)  # y of a track row or lane → label

    @property
    def page_size(self) -> int:
        return self.step_columns[1] - self.step_columns[0]

    @property
    def pages(self) -> int:
        """Pages of the longest track (64 steps)."""
        return MAX_STEPS // self.page_size

    @property
    def page_keys(self) -> int:
        """How many ``page_N`` keys there are (shift + page_N shows page N + this)."""
        return sum(1 for k in self.keys if k.startswith("page_"))

    @property
    def slots(self) -> int:
        return sum(1 for k in self.keys if k.startswith("slot_"))

    @property
    def velocity_rows(self) -> tuple[int, ...]:
        return self.lanes.get("velocity", ())

    def lane_at(self, y: int) -> str | None:
        """The kind of lane on row ``y``, if any."""
        return next((kind for kind, rows in self.lanes.items() if y in rows), None)

    def function_at(self, x: int, y: int, layer: str = "") -> str | None:
        """The function of key (x, y); in ``layer`` (one of LAYERS) that layer's, where it has one."""
        name = self._layers.get(layer, {}).get((x, y)) if layer else None
        return name or self._functions.get((x, y))

    def track_at(self, y: int) -> int | None:
        """Which of the visible track rows ``y`` is (0 = the top one), if any."""
        return self._tracks.get(y)

    def step_at(self, x: int, page: int) -> int | None:
        """Step index (0–63) under column ``x`` on ``page``, or None off the step area."""
        first, last = self.step_columns
        return page * self.page_size + x - first if first <= x < last else None

    def column_of(self, step: int) -> tuple[int, int]:
        """(page, x) where ``step`` is shown."""
        page, offset = divmod(step, self.page_size)
        return page, self.step_columns[0] + offset

    def label(self, name: str) -> str:
        """The human label of a key or layer function."""
        return self.texts.get(name) or default_label(name)

    def labels(self) -> dict[str, list[dict[str, Any]]]:
        """Every function key and row with its label, JSON-ready: ``{"keys": [{"x", "y", "name",
        "label", "hold", "shift"}…], "rows": [{"y", "label"}…]}``; ``hold`` / ``shift`` are the
        label of what the key does in that layer, or None. Rows: track rows, then lanes."""
        keys = []
        for name, (x, y) in self.keys.items():
            layered = {layer: (self.label(n) if (n := names.get((x, y))) else None)
                       for layer, names in self._layers.items()}
            keys.append({"x": x, "y": y, "name": name, "label": self.label(name), **layered})
        rows = [{"y": y, "label": self.row_label(y)}
                for y in (*self.track_rows, *(r for rows in self.lanes.values() for r in rows))]
        return {"keys": keys, "rows": rows}

    def row_label(self, y: int) -> str:
        if y in self.row_texts:
            return self.row_texts[y]
        if (i := self.track_at(y)) is not None:
            return f"track {i + 1}"
        lane = self.lane_at(y)
        return f"{lane} lane" if lane else ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_functions", {xy: k for k, xy in self.keys.items()})
        object.__setattr__(self, "_tracks", {y: i for i, y in enumerate(self.track_rows)})
        object.__setattr__(self, "_layers", {layer: {xy: k for k, xy in self.layers.get(layer, {}).items()}
                                             for layer in LAYERS})


DEFAULT_LABELS = {
    "play": "play / stop (shift: tap tempo)", "page": "next page of steps (shift: previous)",
    "shift": "shift (hold: a row selects it, a slot key saves)", "mute": "mute (hold, tap a track)",
    "introspect": "introspect (hold, tap the basis then each target)",
    "clear": "clear (hold, tap a track; with a step held: reset the step)",
    "generate": "generate 17-32 (hold, tap a track; tap: the selected one)",
    "fill": "fill (hold: FILL steps play)",
    "ratchet": "ratchet +1 (shift: -1), 1-8 hits", "condition": "next condition (shift: previous)",
    "nudge": "nudge later (shift: earlier), 1/24 step", "accent": "accent on / off",
    "lock": "lock: tap for the next parameter (shift: previous), hold + the column sets it",
    "length": "length: the held step becomes the track's last", "speed": "speed: next (shift: previous)",
    "groove": "groove the selected track: the drummers' velocity and timing, steps kept",
    "focus": "focus: introspection sharper", "wild": "wild: introspection looser",
    "kit": "the whole kit from the basis (or the selected track)",
}


def default_label(name: str) -> str:
    kind, _, n = name.partition("_")
    if kind == "slot":
        return f"pattern slot {n} (shift: save; hold and press others: chain)"
    if kind == "page":
        return f"page {n} of steps (shift: page {n} of the next bank)"
    return DEFAULT_LABELS.get(name, name)


def _ints(value: Any, n: int, where: str) -> tuple[int, ...]:
    if not (isinstance(value, list) and len(value) == n and all(type(v) is int for v in value)):
        raise LayoutError(f"{where} must be a list of {n} integers, not {value!r}")
    return tuple(value)


def from_dict(d: dict[str, Any], where: str) -> Layout:
    """A checked Layout from parsed TOML; raises LayoutError naming ``where`` and the field."""
    known = {"name", "size", "tracks", "keys", "lanes", "palette", *LAYERS, "labels"}
    if unknown := sorted(d.keys() - known):
        raise LayoutError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    w, h = _ints(d.get("size"), 2, f"{where}: size")
    if not (w in (8, 16) and h in (8, 16) or (w, h) in LAUNCHPAD_SIZES):
        raise LayoutError(f"{where}: size {w}x{h} is not a grid size (8 or 16 each way) "
                          f"or a Launchpad's (9x9, 18x9)")
    used: dict[Key, str] = {}

    def claim(xy: Key, what: str) -> None:
        x, y = xy
        if not (0 <= x < w and 0 <= y < h):
            raise LayoutError(f"{where}: {what} at ({x}, {y}) is outside the {w}x{h} grid")
        if xy in used:
            raise LayoutError(f"{where}: {what} at ({x}, {y}) overlaps {used[xy]}")
        used[xy] = what

    tracks = d.get("tracks")
    if not isinstance(tracks, dict):
        raise LayoutError(f"{where}: a [tracks] table with rows and columns is required")
    rows = tracks.get("rows")
    if not (isinstance(rows, list) and rows and all(type(r) is int for r in rows)):
        raise LayoutError(f"{where}: tracks.rows must be a non-empty list of row numbers")
    first, last = _ints(tracks.get("columns"), 2, f"{where}: tracks.columns")
    if last <= first or STEPS % (last - first):
        raise LayoutError(f"{where}: tracks.columns [{first}, {last}) must hold a whole divisor of "
                          f"{STEPS} steps (8, 16 or 32)")
    for i, y in enumerate(rows):
        for x in range(first, last):
            claim((x, y), f"track {i + 1}'s row")
    row_texts = dict(zip(rows, _texts(tracks.get("labels", []), len(rows), f"{where}: tracks.labels"),
                         strict=False))

    lane_rows: dict[str, tuple[int, ...]] = {}
    lanes = d.get("lanes", [])
    if not isinstance(lanes, list):
        raise LayoutError(f"{where}: lanes must be a list of tables ([[lanes]])")
    for n, lane in enumerate(lanes):
        kind = lane.get("kind") if isinstance(lane, dict) else None
        if kind not in LANE_KINDS:
            kinds = ", ".join(LANE_KINDS)
            raise LayoutError(f"{where}: lanes[{n}].kind must be one of {kinds}, not {kind!r}")
        if kind in lane_rows:
            raise LayoutError(f"{where}: lanes[{n}] is a second {kind} lane (one of each kind)")
        faders = lane.get("rows")
        if not (isinstance(faders, list) and len(faders) >= 2 and all(type(r) is int for r in faders)):
            raise LayoutError(f"{where}: lanes[{n}].rows must list at least 2 row numbers")
        for y in faders:
            for x in range(first, last):
                claim((x, y), f"the {kind} lane")
        lane_rows[kind] = tuple(faders)
        if "label" in lane:
            text, = _texts([lane["label"]], 1, f"{where}: lanes[{n}].label")
            row_texts.update(dict.fromkeys(faders, text))

    keys = d.get("keys", {})
    if not isinstance(keys, dict):
        raise LayoutError(f"{where}: [keys] must be a table of name = [x, y]")
    out: dict[str, Key] = {}
    pages = STEPS // (last - first)
    for name, xy in keys.items():
        if not KEY_NAME.match(name):
            raise LayoutError(f"{where}: unknown key {name!r} (play, page, page_N, shift, mute, introspect, "
                              f"clear, generate, fill, slot_N)")
        if name.startswith("page_") and int(name[5:]) > pages:
            raise LayoutError(f"{where}: key {name} but the step area only has {pages} page(s)")
        x, y = _ints(xy, 2, f"{where}: keys.{name}")
        claim((x, y), f"key {name}")
        out[name] = (x, y)
    slots = sorted(int(k[5:]) for k in out if k.startswith("slot_"))
    if slots != list(range(1, len(slots) + 1)):
        raise LayoutError(f"{where}: slot keys must be numbered 1…N without gaps, not {slots}")
    layers = {layer: _layer(d.get(layer, {}), layer, names, used, where) for layer, names in LAYERS.items()}
    texts = d.get("labels", {})
    if not isinstance(texts, dict):
        raise LayoutError(f"{where}: [labels] must be a table of key name = \"text\"")
    named = {*out, *(k for names in layers.values() for k in names)}
    for key, text in texts.items():
        if key not in named:
            raise LayoutError(f"{where}: labels.{key} labels no key of this layout")
        _texts([text], 1, f"{where}: labels.{key}")
    try:
        colours = parse_palette(d.get("palette", {}))
    except ValueError as e:
        raise LayoutError(f"{where}: {e}") from None
    name = d.get("name", where)
    return Layout(str(name), w, h, tuple(rows), (first, last), out, lane_rows, colours, layers,
                  dict(texts), row_texts)


def _texts(value: Any, most: int, where: str) -> list[str]:
    if not (isinstance(value, list) and len(value) <= most
            and all(isinstance(t, str) and 0 < len(t) <= MAX_LABEL for t in value)):
        raise LayoutError(f"{where} must be at most {most} text(s) of 1-{MAX_LABEL} characters")
    return value


def _layer(table: Any, layer: str, names: tuple[str, ...], used: dict[Key, str],
           where: str) -> dict[str, Key]:
    """A ``[hold]`` / ``[shift]`` table: each of its functions sits on one of the layout's function keys."""
    if not isinstance(table, dict):
        raise LayoutError(f"{where}: [{layer}] must be a table of name = [x, y]")
    out: dict[str, Key] = {}
    for name, xy in table.items():
        if name not in names:
            raise LayoutError(f"{where}: [{layer}] has no key {name!r} ({', '.join(names)})")
        at = tuple(_ints(xy, 2, f"{where}: {layer}.{name}"))
        under = used.get(at)  # type: ignore[arg-type]
        if under is None or not under.startswith("key "):
            raise LayoutError(f"{where}: {layer}.{name} at {at} must sit on a function key, "
                              f"not {under or 'an unused key'}")
        if at in out.values() or (layer == "hold" and under[4:] in ("shift", "clear")):
            raise LayoutError(f"{where}: {layer}.{name} at {at} shares its key with another {layer} function "
                              f"or with {under[4:]} (kept while a step is held)")
        out[name] = at  # type: ignore[assignment]
    return out


def load(path: Path) -> Layout:
    """The layout in ``path``; LayoutError (one line) when it cannot be read or used."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise LayoutError(f"{path}: cannot read layout ({e.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise LayoutError(f"{path}: not valid TOML ({e})") from None
    return from_dict(data, str(path))


def builtin(width: int, height: int) -> Layout:
    """The layout shipped for a ``width``×``height`` grid; for another size (a 128 turned to 8×16)
    the largest shipped one that fits on it, so every key it uses exists; 16×8 when none fits."""
    path = LAYOUT_DIR / f"grid{width}x{height}.toml"
    if not path.exists():
        fits = [(w * h, p) for p in LAYOUT_DIR.glob("grid*x*.toml")
                if (m := re.fullmatch(r"grid(\d+)x(\d+)\.toml", p.name))
                and (w := int(m[1])) <= width and (h := int(m[2])) <= height]
        path = max(fits)[1] if fits else LAYOUT_DIR / "grid16x8.toml"
    return load(path)


def colours(lay: Layout) -> tuple[Levels, ...]:
    """Per key of ``lay`` (row-major), the colour of each level."""
    pal = lay.palette
    plain = pal.levels(pal.keys)
    table = [plain] * (lay.width * lay.height)
    first, last = lay.step_columns
    for track, y in enumerate(lay.track_rows):
        row = pal.levels(pal.tracks[track % len(pal.tracks)], playhead=True)
        for x in range(first, last):
            table[y * lay.width + x] = row
    lane = pal.levels(pal.lanes, playhead=True)
    for y in lay.velocity_rows:
        for x in range(first, last):
            table[y * lay.width + x] = lane
    for name, (x, y) in lay.keys.items():
        table[y * lay.width + x] = pal.levels(pal.function(name))
    return tuple(table)
