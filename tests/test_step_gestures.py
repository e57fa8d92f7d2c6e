"""Issue 15's per-step and per-track controls played on a real Surface (gestures → actions → the
session, sequencer and LED frame): one 16×16 gesture test per control, then every shipped layout
checked to have the keys where its file says, and every track reachable (issue 18)."""

import pytest
import trio

from gridtonic.core import actions as a
from gridtonic.core import layout
from gridtonic.core.clock import InternalClock
from gridtonic.core.frame import Status, render
from gridtonic.core.gestures import CONDITIONS
from gridtonic.core.params import BY_NAME, PARAMS
from gridtonic.core.sequencer import Sequencer
from gridtonic.core.session import MAX_NUDGE, MAX_STEPS, MAX_TRACKS, SPEEDS, Track, default_session
from gridtonic.core.surface import Surface

L256 = layout.builtin(16, 16)
SHIPPED = {p.stem: layout.load(p) for p in sorted(layout.LAYOUT_DIR.glob("*.toml"))}


def make(lay=L256, tracks=None):
    s = default_session()
    for t in s.tracks:
        t.set_pattern("-")
    while tracks is not None and len(s.tracks) < tracks:
        s.tracks.append(Track(name=f"t{len(s.tracks) + 1}"))
    return Surface(lay, s, Sequencer(s, InternalClock(120)))


def press(surface, xy, down=True):
    surface.key(xy[0], xy[1], down)


def tap(surface, xy):
    press(surface, xy)
    press(surface, xy, False)


def at(lay, name, layer="hold"):
    return lay.layers[layer][name] if layer else lay.keys[name]


def holding(surface, step_xy, *keys):
    """Hold the step at ``step_xy``, tap each key (a name in the hold layer, or an (x, y)), release."""
    press(surface, step_xy)
    for k in keys:
        tap(surface, at(surface.gestures.layout, k) if isinstance(k, str) else k)
    press(surface, step_xy, False)


def test_ratchet_counts_up_wraps_and_shift_counts_down():
    surface = make()
    t = surface.session.tracks[0]
    holding(surface, (3, 0), "ratchet", "ratchet")
    assert t.ratchet[3] == 3 and t.steps[3]  # the press set the step; the edit kept it on release
    holding(surface, (3, 0), *["ratchet"] * 6)
    assert t.ratchet[3] == 1 and t.steps[3]  # 3 → 8 → 1; the set step stayed set (the hold was used)
    shift = L256.keys["shift"]
    press(surface, (3, 0))
    press(surface, shift)
    tap(surface, at(L256, "ratchet"))
    press(surface, shift, False)
    press(surface, (3, 0), False)
    assert t.ratchet[3] == 8 and t.steps[3]


def test_condition_cycles_and_replaces_probability():
    surface = make()
    t = surface.session.tracks[1]
    t.probability[5] = 0.5
    holding(surface, (5, 1), "condition")
    assert t.condition[5] == CONDITIONS[1] == "1:2" and t.probability[5] == 1.0  # one condition a step
    holding(surface, (5, 1), *["condition"] * (CONDITIONS.index("FILL") - 1))
    assert t.condition[5] == "FILL"
    holding(surface, (5, 1), *["condition"] * (len(CONDITIONS) - CONDITIONS.index("FILL")))
    assert t.condition[5] is None  # all the way round


def test_nudge_moves_later_earlier_and_stops_at_half_a_step():
    surface = make()
    t = surface.session.tracks[2]
    holding(surface, (7, 2), "nudge", "nudge", "nudge")
    assert t.nudge[7] == 3
    shift = L256.keys["shift"]
    press(surface, (7, 2))
    press(surface, shift)
    for _ in range(5):
        tap(surface, at(L256, "nudge"))
    press(surface, shift, False)
    assert t.nudge[7] == -2
    for _ in range(40):
        tap(surface, at(L256, "nudge"))
    press(surface, (7, 2), False)
    assert t.nudge[7] == MAX_NUDGE


def test_accent_toggles_every_held_step():
    surface = make()
    t = surface.session.tracks[0]
    press(surface, (1, 0))
    press(surface, (9, 4))  # a second held step (another track): both are edited
    tap(surface, at(L256, "accent"))
    press(surface, (9, 4), False)
    press(surface, (1, 0), False)
    assert t.accent[1] and surface.session.tracks[4].accent[9]
    holding(surface, (1, 0), "accent")
    assert not t.accent[1] and t.steps[1]


def test_a_parameter_lock_is_chosen_with_taps_and_set_on_the_steps_column():
    surface = make()
    t = surface.session.tracks[3]
    g = surface.gestures
    assert PARAMS[g.lock_param].name == "oscWave"
    holding(surface, (4, 3), "lock")  # a tap: the next parameter
    assert PARAMS[g.lock_param].name == "oscFreq" and t.locks[4] == {} and t.steps[4]
    rows = g.fader_rows((4, 3))
    assert rows == [r for r in range(15) if r != 3]  # the column but its own row and the function row
    press(surface, (4, 3))
    press(surface, at(L256, "lock"))
    f = surface.frame(0.0)
    assert f[15 * 16 + at(L256, "lock")[0]] == 15
    press(surface, (4, rows[0]))  # top: the maximum
    assert t.locks[4] == {"oscFreq": 20000.0}
    press(surface, (4, rows[0]), False)
    press(surface, (4, rows[-1]))  # bottom: the minimum
    assert t.locks[4] == {"oscFreq": 20.0}
    press(surface, (4, rows[-1]), False)
    mid = rows[len(rows) // 2]
    tap(surface, (4, mid))  # a log fader: the middle is near the geometric mean
    assert 200 < t.locks[4]["oscFreq"] < 2000
    f = surface.frame(0.0)  # the column shows the locked value, not the velocity
    assert [f[y * 16 + 4] for y in rows].count(6) == len(rows) - rows.index(mid)
    tap(surface, L256.keys["clear"])  # clear while lock is held: this lock only
    press(surface, at(L256, "lock"), False)
    press(surface, (4, 3), False)
    assert t.locks[4] == {} and t.steps[4] and t.velocity[4] == 1.0  # the fader moved no velocity
    assert PARAMS[g.lock_param].name == "oscFreq"  # holding lock for the fader chose no new one


def test_clear_with_a_step_held_resets_the_step_only():
    surface = make()
    t = surface.session.tracks[0]
    t.steps[2] = t.steps[6] = True
    holding(surface, (2, 0), "ratchet", "accent", "condition", "nudge")
    press(surface, (2, 0))
    press(surface, at(L256, "lock"))
    tap(surface, (2, 1))
    press(surface, at(L256, "lock"), False)
    assert t.locks[2] and t.ratchet[2] == 2
    tap(surface, L256.keys["clear"])
    press(surface, (2, 0), False)
    assert (t.ratchet[2], t.nudge[2], t.condition[2], t.accent[2], t.locks[2]) == (1, 0, None, False, {})
    assert t.steps[2] and t.steps[6]  # the track was not cleared
    assert "clear" not in surface.gestures.modifiers


def test_length_is_set_by_the_held_step_and_steps_past_it_are_kept():
    surface = make()
    t = surface.session.tracks[1]
    t.steps[14] = True
    holding(surface, (11, 1), "length")
    assert t.length == 12 and t.steps[14] and t.steps[11]
    f = render(surface.gestures, Status())
    assert f[1 * 16 + 14] == 2 and f[1 * 16 + 11] == 11  # past the length: dim but kept
    press(surface, L256.keys["page_2"])
    press(surface, L256.keys["page_2"], False)
    holding(surface, (15, 1), "length")  # a step on page 2: length 32
    assert t.length == 32


def test_speed_steps_through_the_speeds_both_ways():
    surface = make()
    t = surface.session.tracks[4]
    holding(surface, (0, 4), "speed")
    assert t.speed == SPEEDS[SPEEDS.index(1.0) + 1]
    shift = L256.keys["shift"]
    press(surface, (0, 4))
    press(surface, shift)
    tap(surface, at(L256, "speed"))
    tap(surface, at(L256, "speed"))
    press(surface, shift, False)
    press(surface, (0, 4), False)
    assert t.speed == SPEEDS[SPEEDS.index(1.0) - 1]


def test_shift_and_a_page_key_reach_steps_33_to_64():
    surface = make()
    t = surface.session.tracks[0]
    shift = L256.keys["shift"]
    press(surface, shift)
    tap(surface, L256.keys["page_2"])
    press(surface, shift, False)
    assert surface.gestures.page == 3
    tap(surface, (15, 0))
    assert t.steps[63] and sum(t.steps) == 1
    holding(surface, (15, 0), "length")
    assert t.length == MAX_STEPS
    f = render(surface.gestures, Status())
    assert f[15 * 16 + L256.keys["page_2"][0]] == 9  # page 2 of the second bank


def test_holding_slot_keys_in_order_makes_a_chain_and_a_tap_ends_it():
    surface = make()
    s = surface.session
    slot = lambda n: L256.keys[f"slot_{n}"]  # noqa: E731
    press(surface, slot(1))
    tap(surface, slot(3))
    tap(surface, slot(2))
    tap(surface, slot(3))
    assert s.chain == []  # made when the held slot key goes up
    press(surface, slot(1), False)
    assert s.chain == [0, 2, 1, 2]
    tap(surface, slot(2))
    assert s.chain == []


async def test_fill_is_on_while_shift_and_the_fill_key_are_held(autojump_clock):
    surface = make()
    fill, shift = at(L256, "fill", "shift"), L256.keys["shift"]
    assert fill == L256.keys["generate"]  # the fill key is generate's, in the shift layer
    press(surface, shift)
    press(surface, fill)
    press(surface, shift, False)  # shift may go: the fill key is held
    assert surface.sequencer.fill
    assert surface.frame(trio.current_time())[15 * 16 + fill[0]] == 15
    press(surface, fill, False)
    assert not surface.sequencer.fill
    assert surface.session.tracks[0].steps == [False] * MAX_STEPS  # no generate


def test_fill_stays_on_while_any_surface_holds_it():
    grid = make()
    page = Surface(L256, grid.session, grid.sequencer)  # a second surface on the same sequencer
    grid.perform(a.Fill(True))
    page.perform(a.Fill(True))
    page.perform(a.Fill(False))  # the page lets go: the grid still holds FILL
    assert grid.sequencer.fill
    page.perform(a.Fill(False))  # a second let-go from the page does not end the grid's
    assert grid.sequencer.fill
    grid.use_layout(L256)  # the grid was unplugged (or replugged): nothing of it stays held
    assert not grid.sequencer.fill


async def test_each_track_row_shows_its_own_playhead(autojump_clock):
    surface = make()
    s = surface.session
    s.tracks[0].length = 5
    s.tracks[1].speed = 0.5
    for t in s.tracks[:3]:
        t.steps = [True] * MAX_STEPS
        t.velocity = [0.0] * MAX_STEPS  # set steps at 4: the playhead (15) stands out
    surface.sequencer.start()
    await trio.sleep(7 * 0.125 + 0.01)  # 120 BPM: a 16th is 0.125 s; into the 8th
    now = trio.current_time()
    positions = surface.positions(now)
    assert positions[:3] == [7 % 5, 7 // 2, 7]
    f = surface.frame(now)
    for track in range(3):
        assert [x for x in range(16) if f[track * 16 + x] == 15] == [positions[track]]
    nxt = surface.next_change(now)
    assert nxt == pytest.approx(surface.sequencer.clock.time_at(8 * 0.25))


# --- every shipped layout ---------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_layer_key_does_what_the_layout_says(name):
    lay = SHIPPED[name]
    surface = make(lay)
    track = surface.gestures.track_at(lay.track_rows[0])
    step_xy = (lay.step_columns[0] + 1, lay.track_rows[0])
    expected = {"ratchet": ("ratchet", 2), "condition": ("condition", "1:2"), "nudge": ("nudge", 1),
                "accent": ("accent", True), "length": ("length", 2), "speed": ("speed", 1.5)}
    assert set(lay.layers["hold"]) == {*expected, "lock"}  # every per-step control on every surface
    for key, (field, value) in expected.items():
        x, y = lay.layers["hold"][key]
        assert lay.function_at(x, y) is not None  # a layer key sits on a function key
        holding(surface, step_xy, key)
        t = surface.session.tracks[track]
        got = getattr(t, field) if field in ("length", "speed") else getattr(t, field)[1]
        assert got == value, key
    fill = lay.keys.get("fill") or lay.layers["shift"]["fill"]
    shift = lay.keys["shift"]
    if "fill" not in lay.keys:
        press(surface, shift)
    press(surface, fill)
    assert surface.sequencer.fill
    press(surface, fill, False)
    press(surface, shift, False)
    assert not surface.sequencer.fill


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_track_is_reachable_and_selecting_scrolls(name):
    lay = SHIPPED[name]
    surface = make(lay, tracks=MAX_TRACKS)
    g = surface.gestures
    shift, rows = lay.keys["shift"], lay.track_rows
    x = lay.step_columns[0]
    for track in range(MAX_TRACKS):  # walk down with shift + the bottom row, editing each track
        if track not in [g.track_at(y) for y in rows]:
            press(surface, shift)
            tap(surface, (x, rows[-1]))
            press(surface, shift, False)
        y = next(y for y in rows if g.track_at(y) == track)
        tap(surface, (x + 2, y))
        assert surface.session.tracks[track].steps[2], (name, track)
    assert [surface.session.tracks[t].steps[2] for t in range(MAX_TRACKS)] == [True] * MAX_TRACKS
    assert g.offset == MAX_TRACKS - len(rows) if len(rows) < MAX_TRACKS else g.offset == 0
    surface.select(0)  # the page selects track 1: the rows scroll back
    assert g.offset == 0 and g.selected == 0
    f = render(g, Status())
    assert f[rows[0] * lay.width + x + 2] >= 4


def test_the_16x8_shows_track_8_after_selecting_track_7():
    lay = SHIPPED["grid16x8"]
    surface = make(lay, tracks=8)
    g = surface.gestures
    assert g.track_at(6) == 6 and len(lay.track_rows) == 7
    press(surface, lay.keys["shift"])
    tap(surface, (0, 6))
    press(surface, lay.keys["shift"], False)
    assert g.selected == 6 and g.offset == 1 and g.track_at(6) == 7 and g.track_at(0) == 1
    tap(surface, (4, 6))
    assert surface.session.tracks[7].steps[4]
    f = render(g, Status())
    assert f[6 * 16 + 4] == 11 and f[6 * 16 + 0] == 1  # track 8's step, its row lit as the selected one


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_key_and_row_of_a_shipped_layout_has_its_own_label(name):
    lay = SHIPPED[name]
    labels = lay.labels()
    keys = {(k["x"], k["y"]): k for k in labels["keys"]}
    assert set(keys) == set(lay.keys.values())
    for key in keys.values():
        assert key["name"] in lay.texts and key["label"] == lay.texts[key["name"]]
    for layer, names in lay.layers.items():
        for fn, xy in names.items():
            assert fn in lay.texts and keys[xy][layer] == lay.texts[fn]
    assert [r["y"] for r in labels["rows"]][: len(lay.track_rows)] == list(lay.track_rows)
    assert all(r["y"] in lay.row_texts and r["label"] for r in labels["rows"])


def test_layouts_without_labels_or_layers_still_load():
    old = {"size": [16, 8], "tracks": {"rows": [0, 1], "columns": [0, 16]}, "keys": {"play": [0, 7]}}
    lay = layout.from_dict(old, "old.toml")
    assert lay.layers == {"hold": {}, "shift": {}, "introspect": {}}
    play = {"x": 0, "y": 7, "name": "play", "label": "play / stop (shift: tap tempo)"}
    assert lay.labels()["keys"] == [play | {"hold": None, "shift": None, "introspect": None}]
    assert [r["label"] for r in lay.labels()["rows"]] == ["track 1", "track 2"]


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(hold={"ratchet": [5, 5]}), r"hold.ratchet at \(5, 5\) must sit on a function key"),
    (lambda d: d.update(hold={"ratchet": [3, 0]}), "must sit on a function key, not track 1's row"),
    (lambda d: d.update(hold={"wobble": [0, 7]}), r"\[hold\] has no key 'wobble'"),
    (lambda d: d.update(hold={"ratchet": [1, 7]}), "shares its key .* with shift"),
    (lambda d: d.update(hold={"ratchet": [0, 7], "nudge": [0, 7]}), "shares its key"),
    (lambda d: d.update(shift={"fill": [9, 9]}), "must be a list of 2 integers|must sit on a function key"),
    (lambda d: d.update(labels={"jump": "x"}), "labels.jump labels no key"),
    (lambda d: d.update(labels={"play": ""}), "labels.play must be"),
    (lambda d: d.update(labels={"play": "x" * 500}), "labels.play must be"),
    (lambda d: d["tracks"].update(labels=["a", "b", "c"]), "tracks.labels must be at most 2"),
    (lambda d: d.update(lanes=[{"kind": "velocity", "rows": [3, 4], "label": 5}]), r"lanes\[0\].label"),
])
def test_bad_layers_and_labels_get_one_clear_error(change, message):
    d = {"size": [16, 8], "tracks": {"rows": [0, 1], "columns": [0, 16]},
         "keys": {"play": [0, 7], "shift": [1, 7]}}
    change(d)
    with pytest.raises(layout.LayoutError, match="^test.toml: .*" + message):
        layout.from_dict(d, "test.toml")


def test_lock_values_span_each_parameters_range():
    surface = make()
    g = surface.gestures
    for _ in range(PARAMS.index(BY_NAME["nFilMod"])):
        holding(surface, (0, 0), "lock")
    press(surface, (0, 0))
    press(surface, at(L256, "lock"))
    tap(surface, (0, g.fader_rows((0, 0))[0]))
    assert surface.session.tracks[0].locks[0] == {"nFilMod": 2.0}  # discrete: the last choice
