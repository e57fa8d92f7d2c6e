"""A layout as text: the keys drawn where they sit, with a legend, for ``gridtonic layout show``.

A performer learns a surface by looking at it, so the drawing keeps the layout's geometry: one
cell a key, each function key by a short name, the step keys of track rows and lanes by a mark,
each row's label at its end. The legend under it gives every short name its key name, position and
label, then what the key does while a step or shift is held, from the same labels the page shows.
Pure: a Layout in, a string out.
"""

from __future__ import annotations

from gridtonic.core.layout import LAYER_WHEN, LAYERS, Layout

SHORT = {"play": "ply", "page": "pg", "shift": "sft", "mute": "mut", "introspect": "int", "clear": "clr",
         "generate": "gen", "fill": "fil"}
MARKS = {"velocity": "v", "probability": "p"}  # a lane's step keys
STEP = "·"  # a track row's step key
CELL = 4  # characters a key takes: a short name of up to 3 and a space
LEFT = 4  # the row numbers' margin


def short(name: str) -> str:
    """A function key's name in at most 3 characters: ``play`` → ``ply``, ``slot_12`` → ``s12``."""
    kind, _, n = name.partition("_")
    return f"{kind[0]}{n}" if n else SHORT[name]


def cells(lay: Layout) -> list[list[str]]:
    """What each key shows, row by row (y), then column by column (x); "" for a key not used."""
    grid = [[""] * lay.width for _ in range(lay.height)]
    first, last = lay.step_columns
    for kind, rows in (("", lay.track_rows), *lay.lanes.items()):
        for y in rows:
            grid[y][first:last] = [MARKS.get(kind, STEP)] * (last - first)
    for name, (x, y) in lay.keys.items():
        grid[y][x] = short(name)
    return grid


def draw(lay: Layout) -> str:
    """The layout drawn (x across, y down, as the layout files count them) with its legend."""
    first, last = lay.step_columns
    head = (f"{lay.name}: {lay.width}x{lay.height} keys, {len(lay.track_rows)} track rows, "
            f"{lay.page_size} steps a page in columns {first}-{last - 1}")
    columns = " " * LEFT + "".join(f"{x:^{CELL - 1}} " for x in range(lay.width))
    rows = [f"{y:>{LEFT - 1}} " + "".join(f"{c:^{CELL - 1}} " for c in row) + lay.row_label(y)
            for y, row in enumerate(cells(lay))]
    return "\n".join([head, columns.rstrip(), *(r.rstrip() for r in rows), "", *legend(lay)])


def legend(lay: Layout) -> list[str]:
    """One line a function key (short name, key name, x y, label), each followed by what it does in
    a layer (+name: while a step is held, or while shift is held), then what the marks mean."""
    at = {layer: {xy: name for name, xy in lay.layers.get(layer, {}).items()} for layer in LAYERS}
    width = max((len(n) for n in (*lay.keys, *(f"+{k}" for names in at.values() for k in names.values()))),
                default=0)
    lines = ["keys (x y):"]
    for name, (x, y) in lay.keys.items():
        lines.append(f"  {short(name):<3}  {name:<{width}}  {x:>2} {y:<2}  {lay.label(name)}")
        for layer in LAYERS:
            if held := at[layer].get((x, y)):
                when = LAYER_WHEN[layer]
                lines.append(f"  {'':<3}  {'+' + held:<{width}}  {'':5}  {when}: {lay.label(held)}")
    marks = [f"{STEP} a step of a track row"] + [f"{MARKS[k]} a fader of the {k} lane" for k in lay.lanes]
    return [*lines, "marks: " + "; ".join(marks)]
