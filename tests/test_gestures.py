"""Layouts load and refuse bad files clearly; key sequences make the expected session changes."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridtonic.core import actions as a
from gridtonic.core import layout
from gridtonic.core.gestures import Gestures
from gridtonic.core.layout import LayoutError
from gridtonic.core.session import MAX_STEPS, default_session

L16 = layout.builtin(16, 8)
ROOT = Path(__file__).resolve().parent.parent


def fresh(lay=L16):
    s = default_session()
    for t in s.tracks:
        t.set_pattern("-")
    return s, Gestures(lay, s)


def run(g, session, events):
    """Press/release (x, y, down) events, applying edits; returns the non-edit actions."""
    other = []
    for x, y, down in events:
        for act in g.key(x, y, down):
            if not a.apply(session, act):
                other.append(act)
    return other


def tap(x, y):
    return [(x, y, True), (x, y, False)]


def key(lay, name):
    return lay.keys[name]


# --- layouts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(16, 8), (8, 8), (16, 16)])
def test_builtin_layouts_load(size):
    lay = layout.builtin(*size)
    assert (lay.width, lay.height) == size
    assert lay.page_size * lay.pages == MAX_STEPS
    assert {"play", "shift", "mute", "introspect", "clear", "generate"} <= lay.keys.keys()
    assert all(f"page_{p + 1}" in lay.keys for p in range(lay.page_keys))
    assert lay.page_keys * 2 == lay.pages  # shift + page_N: the second bank


def base():
    return {"size": [16, 8], "tracks": {"rows": [0, 1], "columns": [0, 16]}, "keys": {"play": [0, 7]}}


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(size=[12, 8]), "not a grid size"),
    (lambda d: d.update(size="16x8"), "size must be a list of 2 integers"),
    (lambda d: d.update(colour="red"), "unknown field 'colour'"),
    (lambda d: d.pop("tracks"), "[tracks] table"),
    (lambda d: d["tracks"].update(columns=[0, 12]), "whole divisor"),
    (lambda d: d["tracks"].update(rows=[]), "non-empty list"),
    (lambda d: d["keys"].update(play=[16, 7]), "outside the 16x8 grid"),
    (lambda d: d["keys"].update(play=[3, 1]), "overlaps track 2's row"),
    (lambda d: d["keys"].update(jump=[3, 7]), "unknown key 'jump'"),
    (lambda d: d["keys"].update(page_3=[3, 7]), "only has 2 page(s)"),
    (lambda d: d["keys"].update(slot_2=[3, 7]), "without gaps"),
    (lambda d: d.update(lanes=[{"kind": "pan", "rows": [5, 6]}]), "lanes[0].kind"),
    (lambda d: d.update(lanes=[{"kind": "velocity", "rows": [3, 4]}, {"kind": "velocity", "rows": [5, 6]}]),
     "lanes[1] is a second velocity lane"),
    (lambda d: d.update(lanes=[{"kind": "velocity", "rows": [3, 4]},
                               {"kind": "probability", "rows": [4, 5]}]), "overlaps the velocity lane"),
    (lambda d: d.update(lanes=[{"kind": "velocity", "rows": [1, 2]}]), "overlaps track 2's row"),
])
def test_bad_layouts_get_one_clear_error(change, message):
    d = base()
    change(d)
    with pytest.raises(LayoutError, match="^test.toml: .*" + message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)")):
        layout.from_dict(d, "test.toml")


def test_unreadable_and_invalid_toml(tmp_path):
    with pytest.raises(LayoutError, match="cannot read layout"):
        layout.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("size = [16,")
    with pytest.raises(LayoutError, match="not valid TOML"):
        layout.load(bad)


# --- gestures --------------------------------------------------------------------------------

def test_tap_toggles_a_step_on_then_off():
    s, g = fresh()
    run(g, s, tap(3, 0))
    assert s.tracks[0].steps[3]
    run(g, s, [(3, 0, True)])
    assert s.tracks[0].steps[3]  # a set step clears on release, not on press
    run(g, s, [(3, 0, False)])
    assert not any(s.tracks[0].steps)


def test_page_two_edits_steps_17_to_32():
    s, g = fresh()
    run(g, s, tap(*key(L16, "page_2")) + tap(0, 1))
    assert s.tracks[1].steps[16] and g.page == 1
    lay8 = layout.builtin(8, 8)
    s8, g8 = fresh(lay8)
    run(g8, s8, tap(*key(lay8, "page_4")) + tap(7, 2))
    assert s8.tracks[2].steps[31]


def test_hold_to_paint_fills_and_erases_the_span():
    s, g = fresh()
    run(g, s, [(2, 0, True), (5, 0, True), (5, 0, False), (9, 0, True), (9, 0, False), (2, 0, False)])
    assert s.tracks[0].pattern()[:12] == "--xxxxxxxx--"
    # holding a set step erases, and its own release leaves it erased
    run(g, s, [(4, 0, True), (7, 0, True), (7, 0, False), (4, 0, False)])
    assert s.tracks[0].pattern()[:12] == "--xx----xx--"


def test_hold_step_and_column_is_a_velocity_fader():
    s, g = fresh()
    run(g, s, [(6, 2, True), (6, 0, True), (6, 0, False)])
    assert s.tracks[2].velocity[6] == 1.0
    run(g, s, [(6, 6, True), (6, 6, False)])  # the bottom track row: quietest
    assert s.tracks[2].velocity[6] == pytest.approx(1 / 6)
    assert run(g, s, [(7, 7, True), (7, 7, False), (6, 2, False)]) == [a.Generate(2)]  # a function key
    assert s.tracks[2].velocity[6] == pytest.approx(1 / 6)  # keeps its meaning: no fader there
    assert s.tracks[2].steps[6]  # the fader was used: the release did not clear it


def test_lanes_on_the_16x16_edit_the_selected_track():
    lay = layout.builtin(16, 16)
    assert lay.lanes == {"velocity": (8, 9, 10), "probability": (11, 12, 13, 14)}
    s, g = fresh(lay)
    run(g, s, [(*key(lay, "shift"), True), (0, 3, True), (0, 3, False), (*key(lay, "shift"), False)])
    assert g.selected == 3 and not any(s.tracks[3].steps)
    run(g, s, tap(5, 8) + tap(6, 10))
    assert s.tracks[3].velocity[5] == 1.0 and s.tracks[3].velocity[6] == pytest.approx(1 / 3)
    assert s.tracks[3].steps[5] and s.tracks[3].steps[6]
    run(g, s, tap(6, 11) + tap(7, 13) + tap(8, 14))
    assert s.tracks[3].probability[6:9] == [1.0, 0.5, 0.25]
    assert s.tracks[3].steps[7] and s.tracks[3].steps[8]  # a lane key on an empty step sets it
    assert s.tracks[3].velocity[7] == 1.0 and s.tracks[3].probability[5] == 1.0
    run(g, s, tap(*key(lay, "page_2")) + tap(0, 12))  # the lanes follow the page
    assert s.tracks[3].probability[16] == 0.75


def hold(lay, name, *events):
    x, y = key(lay, name)
    return [(x, y, True), *events, (x, y, False)]


def test_modifiers_mute_clear_select():
    s, g = fresh()
    s.tracks[1].set_pattern("x---")
    run(g, s, hold(L16, "mute", *tap(9, 2)))
    assert s.tracks[2].mute
    run(g, s, hold(L16, "clear", *tap(0, 1)))
    assert not any(s.tracks[1].steps)
    run(g, s, hold(L16, "shift", *tap(12, 4)))
    assert g.selected == 4 and not any(s.tracks[4].steps)


def test_introspect_holds_the_basis_and_generates_each_target():
    s, g = fresh()
    acts = run(g, s, hold(L16, "introspect", *tap(0, 0), *tap(3, 1), *tap(5, 2), *tap(1, 0)))
    assert acts == [a.Introspect(0, 1), a.Introspect(0, 2)]
    assert g.basis is None and not any(t.steps[0] or t.steps[3] for t in s.tracks)


def test_generate_with_a_row_or_alone_for_the_selected_track():
    s, g = fresh()
    assert run(g, s, hold(L16, "generate", *tap(0, 3))) == [a.Generate(3)]
    run(g, s, tap(4, 2) + tap(4, 2))  # selects track 3 (index 2)
    assert run(g, s, hold(L16, "generate")) == [a.Generate(2)]


def test_transport_and_slots():
    s, g = fresh()
    assert run(g, s, tap(*key(L16, "play"))) == [a.Transport()]
    assert run(g, s, hold(L16, "shift", *tap(*key(L16, "slot_3")))) == [a.SaveSlot(2)]
    assert run(g, s, tap(*key(L16, "slot_3"))) == [a.RecallSlot(2)]


def test_rows_without_a_track_and_repeated_events_do_nothing():
    s, g = fresh()
    assert run(g, s, tap(0, 6)) == [] and len(s.tracks) == 5  # row 6 shows track 7: none
    assert g.key(3, 0, False) == [] and g.key(99, 0, True) == []
    g.key(3, 0, True)
    assert g.key(3, 0, True) == []


def test_apply_edits_and_refuses_missing_tracks():
    s, _ = fresh()
    assert a.apply(s, a.SetPattern(0, 16, (True,) * 16))
    assert s.tracks[0].pattern() == "-" * 16 + "x" * 16
    assert not a.apply(s, a.ToggleMute(9)) and not a.apply(s, a.Transport())
    assert not a.apply(s, a.SetLevel(0, 3, "swing", 0.5)) and not s.tracks[0].steps[3]
    assert a.apply(s, a.SetLevel(0, 35, "probability", 7.0)) and s.tracks[0].probability[3] == 1.0


events = st.lists(st.tuples(st.integers(-1, 18), st.integers(-1, 16), st.booleans()), max_size=120)
# every shipped layout: the grids and the Launchpads (9×9 with the side and top rows; two side by side 18×9)
STREAM_LAYOUTS = [layout.builtin(16, 8), layout.builtin(8, 8), layout.builtin(16, 16),
                  layout.load(layout.LAYOUT_DIR / "launchpad-8x8.toml"),
                  layout.load(layout.LAYOUT_DIR / "two-launchpads-16x8.toml")]


def test_the_key_streams_cover_the_launchpad_layouts():
    assert [(lay.width, lay.height) for lay in STREAM_LAYOUTS[3:]] == [(9, 9), (18, 9)]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(lay=st.sampled_from(STREAM_LAYOUTS), stream=events)
def test_random_key_streams_keep_the_session_valid(lay, stream):
    s, g = fresh(lay)
    for act in run(g, s, stream):  # the sampler's stand-in: deterministic rows
        if isinstance(act, a.Introspect):
            a.apply(s, a.SetPattern(act.target, 0, tuple(s.tracks[act.basis].steps)))
        elif isinstance(act, a.Generate):
            a.apply(s, a.SetPattern(act.track, 16, tuple(s.tracks[act.track].steps[:16])))
    for t in s.tracks:
        assert len(t.steps) == MAX_STEPS and all(isinstance(v, bool) for v in t.steps)
        assert len(t.velocity) == MAX_STEPS and all(0.0 <= v <= 1.0 for v in t.velocity)
        assert len(t.probability) == MAX_STEPS and all(0.0 <= v <= 1.0 for v in t.probability)
        assert all(1 <= r <= 8 for r in t.ratchet) and all(-12 <= n <= 12 for n in t.nudge)
        assert 1 <= t.length <= MAX_STEPS
    assert 0 <= g.page < lay.pages and 0 <= g.selected < len(s.tracks)
    assert 0 <= g.offset <= max(0, len(s.tracks) - len(lay.track_rows))
    assert g.held <= {(x, y) for x in range(lay.width) for y in range(lay.height)}
