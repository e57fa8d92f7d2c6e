"""LED frames show the session and the gesture state; only changed quads go out."""

from hypothesis import given
from hypothesis import strategies as st
from test_gestures import L16
from test_gestures import fresh as setup

from gridtonic.core import frame, layout
from gridtonic.core.frame import Status


def at(f, x, y, w=16):
    return f[y * w + x]


def test_steps_by_velocity_playhead_mute_and_selection():
    s, g = setup()
    s.tracks[0].steps[2] = True
    s.tracks[0].velocity[2] = 1.0
    s.tracks[1].steps[4] = True
    s.tracks[1].velocity[4] = 0.0
    s.tracks[2].steps[5] = True
    s.tracks[2].mute = True
    f = frame.render(g, Status())
    assert (at(f, 2, 0), at(f, 4, 1), at(f, 5, 2)) == (11, 4, 2)
    assert at(f, 0, 0) == 1 and at(f, 0, 1) == 0  # track 1 is selected: a faint row
    f = frame.render(g, Status(playhead=2))
    assert at(f, 2, 0) == 15 and at(f, 2, 1) == 3
    assert at(f, *L16.keys["play"]) == 12 and at(f, *L16.keys["page_1"]) == 12
    f = frame.render(g, Status(playhead=18))  # playing page 2 while page 1 is shown
    assert at(f, 2, 0) == 11 and at(f, *L16.keys["page_2"]) == 7


def test_held_keys_basis_flash_and_slots():
    s, g = setup()
    s.tracks[0].steps[0] = True
    ix, iy = L16.keys["introspect"]
    g.key(ix, iy, True)
    g.key(9, 0, True)  # basis: track 1
    f = frame.render(g, Status(flashing=frozenset({3}), slots=(True, False), active_slot=0, queued_slot=2))
    assert at(f, ix, iy) == 15 and at(f, 9, 0) == 15
    assert at(f, 0, 0) == 13 and at(f, 1, 0) == 3
    assert at(f, 0, 3) == 5  # the flash lights the whole row
    assert [at(f, *L16.keys[f"slot_{n}"]) for n in (1, 2, 3, 4)] == [11, 1, 5, 1]


def test_a_held_step_shows_its_velocity_on_its_column():
    s, g = setup()
    s.tracks[1].velocity[6] = 3 / 7
    g.key(6, 1, True)
    f = frame.render(g, Status())
    assert [at(f, 6, y) for y in range(7)] == [0, 15, 0, 0, 6, 6, 6]  # 3 of the 6 track rows lit


def test_lanes_of_the_16x16_show_the_selected_tracks_levels():
    lay = layout.builtin(16, 16)
    s, g = setup(lay)
    s.tracks[0].steps[3] = s.tracks[0].steps[4] = True
    s.tracks[0].velocity[3] = 1 / 3
    s.tracks[0].probability[3] = 0.5
    s.tracks[0].probability[5] = 0.25  # an empty step shows no level
    f = frame.render(g, Status())
    velocity, probability = lay.lanes["velocity"], lay.lanes["probability"]
    assert [at(f, 3, y) for y in velocity] == [0, 0, 6]
    assert [at(f, 3, y) for y in probability] == [0, 0, 6, 6]
    assert [at(f, 4, y) for y in probability] == [6, 6, 6, 6]
    assert [at(f, 5, y) for y in velocity + probability] == [0] * 7
    f = frame.render(g, Status(playhead=5))
    assert [at(f, 5, y) for y in probability] == [3] * 4
    g.selected = 1  # the lanes follow the selection
    assert [at(frame.render(g, Status()), 3, y) for y in probability] == [0] * 4


def test_only_changed_quads_and_nothing_when_nothing_changed():
    s, g = setup()
    f0 = frame.render(g, Status())
    assert [q for q, _ in frame.changed_quads(None, f0, 16, 8)] == [(0, 0), (8, 0)]
    assert frame.changed_quads(f0, frame.render(g, Status()), 16, 8) == []
    s.tracks[0].steps[12] = True
    (quad, levels), = frame.changed_quads(f0, frame.render(g, Status()), 16, 8)
    assert quad == (8, 0) and levels[4] == 11


def test_four_level_grids_keep_faint_leds_visible():
    assert frame.four_levels((0, 1, 3, 4, 11, 15)) == (0, 0, 4, 4, 12, 15)
    assert all(v % 4 == 0 or v == 15 for v in frame.FOUR_LEVELS)


@given(st.lists(st.integers(0, 15), min_size=256, max_size=256))
def test_quads_cover_the_frame_once(levels):
    f = tuple(levels)
    got = dict(frame.quads(f, 16, 16))
    assert len(got) == 4
    assert sorted(v for q in got.values() for v in q) == sorted(f)
