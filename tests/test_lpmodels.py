"""The Launchpad core without ports: models from names and inquiry replies, port choice, pads ↔ keys,
byte-exact SysEx (../shared/docs/protocols-and-peers.md §3), palettes and per-unit colours."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridtonic.core import layout
from gridtonic.core.layout import LayoutError
from gridtonic.launchpad import models, sysex
from gridtonic.launchpad.models import MINI, MINI_MK3, MK2, MODELS, PRO_MK3, Found, S, X

H = [0xF0, 0x00, 0x20, 0x29, 0x02]  # Novation SysEx header before the device byte

# --- models --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, model", [
    ("Launchpad X:Launchpad X LPX MIDI 20:1", X),
    ("a2j:Launchpad X [24] (capture): Launchpad X LPX DAW", X),
    ("Launchpad Mini MK3:Launchpad Mini MK3 LPMiniMK3 MI 24:1", MINI_MK3),
    ("launchpad mini mk3 2 2", MINI_MK3),
    ("Launchpad Pro MK3:Launchpad Pro MK3 LPProMK3 MIDI 28:0", PRO_MK3),
    ("Launchpad MK2:Launchpad MK2 MIDI 1 20:0", MK2),
    ("Launchpad S:Launchpad S MIDI 1", S),
    ("Launchpad Mini:Launchpad Mini MIDI 1", MINI),
    ("Launchpad:Launchpad MIDI 1", models.ORIGINAL),
    ("Launchpad Pro:Launchpad Pro MIDI 2", None),  # the Pro MK1 speaks another SysEx
    ("Launch Control XL", None),
    ("Launchkey MK3 49", None),
    ("gridtonic:out", None),
])
def test_models_from_port_names(name, model):
    assert models.from_name(name) is model


def test_models_from_inquiry_replies():
    def reply(a, b):
        return (0xF0, 0x7E, 0x00, 0x06, 0x02, 0x00, 0x20, 0x29, a, b, 0x00, 0x00, 0, 1, 2, 3, 0xF7)

    assert models.from_inquiry(reply(0x03, 0x01)) is X
    assert models.from_inquiry(reply(0x13, 0x01)) is MINI_MK3
    assert models.from_inquiry(reply(0x69, 0x00)) is MK2
    assert models.from_inquiry(reply(0x20, 0x00)) is S
    assert models.from_inquiry(reply(0x7F, 0x7F)) is None
    other = list(reply(0x03, 0x01))
    other[5:8] = [0x00, 0x20, 0x32]  # another manufacturer, same family bytes
    assert models.from_inquiry(tuple(other)) is None
    assert models.from_inquiry((0xF0, 0x7E, 0xF7)) is None
    assert list(models.INQUIRY) == [0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7]


def test_the_interface_to_use():
    x = ["Launchpad X:LPX DAW In", "Launchpad X:LPX MIDI In"]
    assert models.choose(x) == [(X, "Launchpad X:LPX MIDI In")]  # X and Mini: the second
    mini = ["Launchpad Mini MK3 LPMiniMK3 DAW", "Launchpad Mini MK3 LPMiniMK3 MIDI"]
    assert models.choose(mini) == [(MINI_MK3, mini[1])]
    assert models.choose(x[:1]) == []  # its DAW ports showed first: not the interface to use
    cut = ["Launchpad Mini MK3:Launchpad Mini MK3 LPMiniMK3 DA 24:0",
           "Launchpad Mini MK3:Launchpad Mini MK3 LPMiniMK3 MI 24:1"]  # ALSA's 24-character cut
    assert models.choose(cut) == [(MINI_MK3, cut[1])]
    pro = ["LPProMK3 MIDI", "LPProMK3 DIN", "LPProMK3 DAW"]
    assert models.choose(pro) == [(PRO_MK3, "LPProMK3 MIDI")]  # Pro MK3: the first
    numbered = ["Launchpad X 1", "Launchpad X 2", "Launchpad X 3", "Launchpad X 4", "system:midi"]
    assert models.choose(numbered) == [(X, "Launchpad X 2"), (X, "Launchpad X 4")]  # a unit at a time
    assert models.choose(["Launchpad S", "Launchpad MK2", "midi through"]) == [
        (S, "Launchpad S"), (MK2, "Launchpad MK2")]


def test_inputs_pair_with_outputs_left_to_right():
    ins = ["A:Launchpad X LPX DAW Out", "A:Launchpad X LPX MIDI Out",
           "B:Launchpad Mini MK3 LPMiniMK3 MIDI Out", "C:Launchpad X LPX MIDI Out"]
    outs = ["C:Launchpad X LPX MIDI In", "A:Launchpad X LPX MIDI In",
            "B:Launchpad Mini MK3 LPMiniMK3 MIDI In"]
    found = models.pair(ins, outs)
    assert [(f.model, f.input[0], f.output[0]) for f in found] == [(X, "A", "C"), (MINI_MK3, "B", "B"),
                                                                    (X, "C", "A")]
    # named ones, in the order asked, model from the name when it tells
    assert models.pair(ins, outs, ("b:", "a:launchpad x lpx midi")) == [
        Found(MINI_MK3, ins[2], outs[2]), Found(X, ins[1], outs[1])]
    assert models.pair(["loop:out"], ["loop:in"], ("loop",)) == [Found(None, "loop:out", "loop:in")]
    assert models.pair(ins[:1], ["A:Launchpad X LPX DAW In"], ("a:",)) == []  # only its DAW ports yet
    assert models.pair(ins, [], ()) == []


# --- keys ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model, message, key", [
    (X, (0x90, 11, 100), ((0, 8), True)),  # bottom-left pad
    (X, (0x90, 88, 0), ((7, 1), False)),  # top-right pad, released
    (X, (0x80, 18, 64), ((7, 8), False)),
    (X, (0xB0, 91, 127), ((0, 0), True)),  # top row
    (X, (0xB0, 98, 127), ((7, 0), True)),
    (X, (0xB0, 89, 127), ((8, 1), True)),  # side column, top to bottom
    (PRO_MK3, (0xB0, 19, 0), ((8, 8), False)),
    (PRO_MK3, (0xB0, 10, 127), None),  # Pro MK3's left column: no key in the layout
    (PRO_MK3, (0xB0, 101, 127), None),
    (X, (0x90, 19, 127), None),  # gen-3 side buttons are CCs, never notes
    (X, (0xA0, 11, 40), None),  # aftertouch
    (MK2, (0x90, 89, 127), ((8, 1), True)),  # MK2's side column: notes
    (MK2, (0xB0, 104, 127), ((0, 0), True)),  # MK2's top row: CC 104-111
    (MK2, (0xB0, 91, 127), None),
    (S, (0x90, 0, 127), ((0, 1), True)),  # S: 16·row + column from the top
    (S, (0x90, 119, 0), ((7, 8), False)),
    (S, (0x90, 8, 127), ((8, 1), True)),
    (S, (0x90, 120, 127), ((8, 8), True)),
    (S, (0x90, 9, 127), None),
    (S, (0xB0, 111, 127), ((7, 0), True)),
    (S, (0xB0, 0, 0), None),
])
def test_keys(model, message, key):
    assert models.key(model, message) == key


@given(st.sampled_from(MODELS), st.integers(0, 8), st.integers(0, 8), st.booleans())
def test_every_key_reads_back_as_itself(model, x, y, down):
    if (x, y) == (8, 0):
        return
    assert models.key(model, tuple(models.press(model, (x, y), down))) == ((x, y), down)


def test_led_indices_and_units_side_by_side():
    assert models.led(X, (0, 8)) == 11 and models.led(X, (7, 1)) == 88
    assert models.led(X, (8, 0)) == 99 and models.led(PRO_MK3, (8, 0)) is None  # the logo
    assert models.led(MK2, (3, 0)) == 107 and models.led(S, (8, 2)) == 24
    assert len(models.leds(X)) == 81 and len(models.leds(MK2)) == 80
    assert models.place(0, 1, (8, 3)) == (8, 3)
    assert models.place(1, 2, (0, 1)) == (8, 1) and models.place(1, 2, (8, 1)) == (17, 1)
    assert models.place(0, 2, (8, 1)) == (16, 1)
    assert models.size(2) == (18, 9)


# --- SysEx, byte for byte ----------------------------------------------------------------------------

def test_gen3_programmer_mode_and_back():
    static_off = [b for _, i in models.leds(X) for b in (0x00, i, 0x00)]  # kills flashing and pulsing
    assert sysex.start(X) == [H + [0x0C, 0x0E, 0x01, 0xF7], H + [0x0C, 0x03, *static_off, 0xF7]]
    assert sysex.start(MINI_MK3)[0] == H + [0x0D, 0x0E, 0x01, 0xF7]
    assert sysex.start(PRO_MK3)[0] == H + [0x0E, 0x0E, 0x01, 0xF7]
    assert sysex.restore(X, None) == [H + [0x0C, 0x03, *static_off, 0xF7], H + [0x0C, 0x0E, 0x00, 0xF7]]
    assert sysex.restore(X, 1)[-1] == H + [0x0C, 0x0E, 0x01, 0xF7]  # it was in programmer mode before
    assert sysex.mode_query(MINI_MK3) == H + [0x0D, 0x0E, 0xF7]
    assert sysex.mode_reply(MINI_MK3, tuple(H + [0x0D, 0x0E, 0x00, 0xF7])) == 0
    assert sysex.mode_reply(MINI_MK3, tuple(H + [0x0C, 0x0E, 0x00, 0xF7])) is None  # another model's
    assert sysex.mode_reply(MK2, tuple(H + [0x18, 0x0E, 0x00, 0xF7])) is None


def test_the_pro_mk3_clears_every_led_it_has():
    """Its 26 LEDs outside the 9×9 keys (Shift, logo, left column, the two rows below the pads) were
    never cleared: what another program left on them stayed lit, flashing, through a whole set."""
    assert sorted(models.every_led(PRO_MK3)) == [*range(1, 9), *range(10, 100), *range(101, 109)]
    assert [i for _, i in models.leds(PRO_MK3)][:9] == [*range(91, 99), 81]  # drawn: the 9×9 keys only
    keys = [b for _, i in models.leds(PRO_MK3) for b in (0x00, i, 0x00)]  # 80 keys, static off
    first = H + [0x0E, 0x03, *keys, 0x00, 90, 0x00, 0xF7]  # 81 specs, the most a message holds
    rest = [99, 80, 70, 60, 50, 40, 30, 20, 10, 101, 102, 103, 104, 105, 106, 107, 108,  # logo, left,
            1, 2, 3, 4, 5, 6, 7, 8]  # then the two rows below the pads
    second = H + [0x0E, 0x03, *(b for i in rest for b in (0x00, i, 0x00)), 0xF7]
    assert sysex.start(PRO_MK3) == [H + [0x0E, 0x0E, 0x01, 0xF7], first, second]  # on attach
    assert sysex.restore(PRO_MK3, None) == [first, second, H + [0x0E, 0x0E, 0x00, 0xF7]]  # on exit
    for m in MODELS:  # the others' keys are all their LEDs
        assert m is PRO_MK3 or models.every_led(m) == tuple(i for _, i in models.leds(m))


def test_gen3_rgb_leds_batched():
    assert sysex.leds(X, [(11, (255, 0, 0)), (99, (0, 128, 255))]) == [
        H + [0x0C, 0x03, 0x03, 11, 127, 0, 0, 0x03, 99, 0, 64, 127, 0xF7]]
    many = sysex.leds(PRO_MK3, [(i, (2, 4, 6)) for i in range(100)])
    assert [len(m) for m in many] == [8 + 81 * 5, 8 + 19 * 5]  # at most 81 specs a message
    assert many[1][:12] == H + [0x0E, 0x03, 0x03, 81, 1, 2, 3]
    assert sysex.clear(X, [11, 12]) == [H + [0x0C, 0x03, 0x00, 11, 0x00, 0x00, 12, 0x00, 0xF7]]


def test_mk2_sysex():
    assert sysex.leds(MK2, [(104, (255, 255, 255)), (11, (0, 127, 4))]) == [
        H + [0x18, 0x0B, 104, 63, 63, 63, 11, 0, 31, 1, 0xF7]]
    assert [len(m) for m in sysex.leds(MK2, [(11, (1, 1, 1))] * 81)] == [8 + 80 * 4, 8 + 4]
    assert sysex.clear(MK2, [11]) == [H + [0x18, 0x0E, 0x00, 0xF7]]
    assert sysex.start(MK2) == [H + [0x18, 0x22, 0x00, 0xF7], H + [0x18, 0x0E, 0x00, 0xF7]]
    assert sysex.restore(MK2, None) == [H + [0x18, 0x0E, 0x00, 0xF7], H + [0x18, 0x22, 0x00, 0xF7]]


def test_s_and_mini_red_green_velocities():
    assert sysex.start(S) == [[0xB0, 0, 0], [0xB0, 0, 1]]
    assert sysex.restore(MINI, None) == [[0xB0, 0, 0]]
    assert sysex.leds(S, [(0, (255, 0, 0)), (8, (0, 255, 0)), (104, (255, 255, 0)), (16, (0, 0, 0))]) == [
        [0x90, 0, 0x0F], [0x90, 8, 0x3C], [0xB0, 104, 0x3F], [0x90, 16, 0x0C]]
    assert sysex.red_green((0, 0, 255)) == (3, 3)  # blue stays visible, as amber
    assert sysex.red_green((40, 0, 0)) == (0, 0)
    assert sysex.red_green((100, 50, 0)) == (1, 0)


@given(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))
def test_colour_conversions_stay_in_range(rgb):
    assert all(0 <= c <= 127 for c in sysex.scale(rgb, 127))
    assert all(0 <= c <= 63 for c in sysex.scale(rgb, 63))
    red, green = sysex.red_green(rgb)
    assert 0 <= red <= 3 and 0 <= green <= 3 and max(red, green) == (max(rgb) * 3 + 127) // 255


# --- palettes --------------------------------------------------------------------------------------

L8 = layout.load(layout.LAYOUT_DIR / "launchpad-8x8.toml")
L16 = layout.load(layout.LAYOUT_DIR / "two-launchpads-16x8.toml")


def test_launchpad_layouts():
    assert (L8.width, L8.height, L8.page_size, L8.pages) == (9, 9, 8, 8)  # 64 steps
    assert (L16.width, L16.height, L16.page_size, L16.pages) == (18, 9, 16, 4)
    for lay in (L8, L16):
        assert {"play", "shift", "mute", "introspect", "clear", "generate"} <= lay.keys.keys()
        assert all(y == 0 or x >= 8 * (lay.width // 9) for x, y in lay.keys.values())  # buttons, not pads


def test_levels_become_track_colours_with_velocity_as_brightness():
    table = layout.colours(L8)
    kick = table[1 * 9 + 0]  # track 1, step 1
    assert kick[0] == (0, 0, 0)
    assert kick[11] == tuple(round(c * 0.7) for c in (0xFF, 0x2A, 0x1A))
    assert [max(kick[v]) for v in range(4, 12)] == sorted(max(kick[v]) for v in range(4, 12))
    assert kick[15] == (255, 255, 255) and kick[3] == (26, 26, 26)  # the playhead is white
    snare = table[2 * 9 + 5]
    assert snare[13] == tuple(round(c * 0.87) for c in (0xFF, 0x8C, 0x00))
    px, py = L8.keys["play"]
    assert table[py * 9 + px][15] == (0x20, 0xFF, 0x40)
    sx, sy = L8.keys["slot_3"]
    assert table[sy * 9 + sx][15] == (0xFF, 0xB0, 0x00)  # by family
    hx, hy = L8.keys["shift"]
    assert table[hy * 9 + hx][15] == (255, 255, 255)  # the keys' colour


def test_unit_colours_split_a_frame():
    table = layout.colours(L16)
    frame = [0] * (18 * 9)
    frame[1 * 18 + 8] = 15  # track 1, step 9: the right unit's top-left pad
    frame[1 * 18 + 16] = 4  # the left unit's side column, first button
    left = models.unit_colours(X, 0, 2, tuple(frame), 18, table)
    right = models.unit_colours(MINI_MK3, 1, 2, tuple(frame), 18, table)
    assert right[81] == (255, 255, 255) and left[81] == (0, 0, 0)
    assert left[89] == tuple(round(255 * 0.15) for _ in range(3))
    assert len(left) == len(right) == 81


@pytest.mark.parametrize("bad, message", [
    ({"tracks": "red"}, "palette.tracks must be a list"),
    ({"tracks": ["#ff0000", "blue"]}, "palette.tracks[1] must be a colour"),
    ({"playhead": "#fff"}, "palette.playhead must be a colour"),
    ({"brightness": [0.5] * 15}, "16 numbers"),
    ({"functions": {"play": 3}}, "palette.functions.play"),
    ({"glow": 1}, "unknown field 'glow'"),
    ("red", "must be a table"),
])
def test_bad_palettes_get_one_clear_error(bad, message):
    d = {"size": [9, 9], "tracks": {"rows": [1, 2], "columns": [0, 8]}, "keys": {"play": [7, 0]},
         "palette": bad}
    with pytest.raises(LayoutError, match="^lp.toml: " + ".*" + message.replace("[", r"\[")):
        layout.from_dict(d, "lp.toml")


def test_launchpad_sizes_only():
    d = {"size": [9, 8], "tracks": {"rows": [1], "columns": [0, 8]}}
    with pytest.raises(LayoutError, match="9x9, 18x9"):
        layout.from_dict(d, "lp.toml")
