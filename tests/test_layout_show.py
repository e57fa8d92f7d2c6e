"""`gridtonic layout show`: every shipped layout drawn where its keys sit, every key in the legend."""

import subprocess
import sys

import pytest

from gridtonic.core import keymap, layout

SHIPPED = sorted(layout.LAYOUT_DIR.glob("*.toml"))


def gridtonic(*args):
    return subprocess.run([sys.executable, "-m", "gridtonic", *args], capture_output=True, text=True,
                          timeout=60)


def drawn_cells(text: str, lay: layout.Layout) -> list[list[str]]:
    """The cells of a drawing read back by position: row y is the line after the column header."""
    lines = text.splitlines()[2:2 + lay.height]
    return [[line[keymap.LEFT + x * keymap.CELL:keymap.LEFT + x * keymap.CELL + keymap.CELL - 1].strip()
             for x in range(lay.width)] for line in lines]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_key_is_drawn_where_it_sits_and_every_row_is_labelled(path):
    lay = layout.load(path)
    text = keymap.draw(lay)
    lines = text.splitlines()
    cells = drawn_cells(text, lay)
    for name, (x, y) in lay.keys.items():
        assert cells[y][x] == keymap.short(name), (name, x, y)
    first, last = lay.step_columns
    for y in lay.track_rows:
        assert cells[y][first:last] == [keymap.STEP] * lay.page_size
        assert lines[2 + y].endswith(lay.row_label(y))
    for kind, rows in lay.lanes.items():
        assert all(cells[y][first:last] == [keymap.MARKS[kind]] * lay.page_size for y in rows)
    step_rows = (*lay.track_rows, *(y for rows in lay.lanes.values() for y in rows))
    used = {*lay.keys.values(), *((x, y) for y in step_rows for x in range(first, last))}
    assert all(cells[y][x] == "" for y in range(lay.height) for x in range(lay.width) if (x, y) not in used)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_key_and_layer_is_in_the_legend_with_its_label(path):
    lay = layout.load(path)
    legend = keymap.legend(lay)
    shorts = [keymap.short(n) for n in lay.keys]
    assert len(set(shorts)) == len(shorts)  # a short name means one key
    for name, (x, y) in lay.keys.items():
        line, = (ln for ln in legend if ln.split()[:4] == [keymap.short(name), name, str(x), str(y)])
        assert line.endswith(lay.label(name))
    for layer, names in lay.layers.items():
        for name in names:
            line, = (ln for ln in legend if ln.split()[:1] == [f"+{name}"])
            assert line.endswith(f"{layout.LAYER_WHEN[layer]}: {lay.label(name)}")
    assert legend == keymap.draw(lay).splitlines()[-len(legend):]


def test_a_shipped_layout_by_name_each_by_default_and_a_file(tmp_path):
    one = gridtonic("layout", "show", "grid16x8")
    drawn = keymap.draw(layout.load(layout.LAYOUT_DIR / "grid16x8.toml"))
    assert one.returncode == 0 and one.stdout.strip() == drawn
    assert gridtonic("layout", "show", "Launchpad 8x8").stdout.startswith("launchpad 8x8: 9x9 keys")
    every = gridtonic("layout", "show")
    assert every.returncode == 0
    assert [ln.split(":")[0] for ln in every.stdout.splitlines() if " keys, " in ln] == \
        [layout.load(p).name for p in SHIPPED]
    mine = tmp_path / "mine.toml"
    mine.write_text('name = "mine"\nsize = [8, 8]\n[tracks]\nrows = [0]\ncolumns = [0, 8]\n'
                    '[keys]\nplay = [0, 7]\n[labels]\nplay = "go"\n')
    r = gridtonic("layout", "show", str(mine))
    assert r.returncode == 0 and "ply  play   0 7   go" in r.stdout


def test_an_unknown_or_broken_layout_is_one_line(tmp_path):
    r = gridtonic("layout", "show", "grid8x9")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "no such file or shipped layout" in r.stderr and "did you mean 'grid8x8'?" in r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('size = [8, 8]\n[tracks]\nrows = [0]\ncolumns = [0, 8]\n[keys]\nplay = [9, 0]\n')
    r = gridtonic("layout", "show", str(bad))
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"gridtonic: {bad}: key play at (9, 0) is outside the 8x8 grid"]
