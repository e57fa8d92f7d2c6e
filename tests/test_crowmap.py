"""The mapping: checked like a session file, and every Lua line is made of checked numbers only."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from crowemu import II, JF_ADDRESSES
from hypothesis import given
from hypothesis import strategies as st

from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import Hit, hits_between
from gridtonic.core.session import Session, Track
from gridtonic.crow import mapping
from gridtonic.crow.mapping import CrowConfig, CrowConfigError, Output, Voice

NUM = r"-?\d+(\.\d+)?(e[-+]\d+)?"
JF = r"ii\.jf\[[12]\]"  # always a unit index: plain ii.jf goes wherever crow last pointed it
# Every line gridtonic may send, as a grammar: numbers and fixed words only.
LUA = re.compile(
    rf"crow\.reset\(\)|output\[[1-4]\]\(\)|output\[[1-4]\]\.volts=0|output\[[1-4]\]\.dyn\.lev={NUM}"
    rf"|output\[[1-4]\]\.action=(pulse\({NUM},{NUM},1\)|ar\({NUM},{NUM},dyn\{{lev={NUM}\}},'log'\))"
    rf"|{JF}\.mode\([01]\)|{JF}\.play_voice\([1-6],{NUM},{NUM}\)|{JF}\.vtrigger\([1-6],{NUM}\)"
)

scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(max_size=8)
json_values = (scalars | st.lists(scalars, max_size=2)
               | st.dictionaries(st.text(max_size=4), scalars, max_size=2))
output_dicts = st.fixed_dictionaries({}, optional={
    "kind": st.sampled_from(mapping.KINDS) | st.text(max_size=8),
    "track": json_values, "level": json_values, "time": json_values, "steps": json_values,
    "attack": json_values, "release": json_values, "division": json_values, "bars": json_values,
})
configs = st.fixed_dictionaries({}, optional={
    "port": json_values,
    "serial_latency": json_values,
    "outputs": st.dictionaries(st.sampled_from(["1", "2", "3", "4", "5", "x"]), output_dicts | json_values),
    "just_friends": st.fixed_dictionaries({}, optional={
        "command": st.sampled_from(mapping.JF_COMMANDS) | st.text(max_size=8),
        "voices": st.lists(st.fixed_dictionaries({"track": json_values}, optional={
            "voice": json_values, "unit": json_values, "pitch": json_values, "level": json_values,
        }) | json_values, max_size=4) | json_values,
    }),
})


@given(configs, st.floats(20, 300), st.integers(0, 8), st.floats(0, 1))
def test_any_config_makes_only_well_formed_lua(d, tempo, track, velocity):
    config = mapping.from_dict(d)
    hit = Hit(0.0, 0.0, 0, track, velocity)
    lines = (mapping.setup_lines(config, tempo) + mapping.gate_lines(config, tempo, {})
             + mapping.hit_lines(config, hit, {}) + mapping.exit_lines(config)
             + [line for _, line in mapping.pulse_beats(config, 0.0, 8.0)])
    for line in lines:
        assert LUA.fullmatch(line), line


def test_user_strings_never_reach_crow(caplog):
    d = {"outputs": {"1": {"kind": "trigger", "track": 1, "level": "os.exit()"},
                     "2": {"kind": "print('hi')", "track": 1}},
         "just_friends": {"command": "os.exit", "voices": [{"track": 1, "pitch": "1);os.exit(("}]}}
    config = mapping.from_dict(d)
    text = "\n".join(mapping.setup_lines(config, 120.0)
                     + mapping.hit_lines(config, Hit(0.0, 0.0, 0, 0, 1.0), {}))
    assert "os." not in text and "print" not in text
    assert config.outputs[1].level == 5.0 and 2 not in config.outputs
    assert config.jf_command == "play_voice"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 4


def test_out_of_range_values_are_clamped_with_a_warning(caplog):
    config = mapping.from_dict({"outputs": {"1": {"kind": "envelope", "track": 99, "level": 50}},
                                "just_friends": {"voices": [{"track": 2, "voice": 9, "unit": 3}]}})
    assert config.outputs[1] == Output("envelope", track=63, level=10.0)
    assert config.voices == (Voice(track=1, voice=6, unit=2),)
    assert any("clamped to 10" in r.getMessage() for r in caplog.records)


def test_round_trip_through_json():
    config = CrowConfig(port="/dev/ttyACM0", serial_latency=0.002, outputs={
        1: Output("trigger", track=0, time=0.02), 2: Output("gate", track=1, steps=2.0),
        3: Output("clock", division=0.5), 4: Output("reset", bars=2)},
        voices=(Voice(track=2, voice=4, unit=2, pitch=0.5, level=7.0),), jf_command="vtrigger")
    again = mapping.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


def test_load_errors_are_one_line(tmp_path: Path):
    bad = tmp_path / "crow.json"
    bad.write_text("{not json")
    with pytest.raises(CrowConfigError, match=r"crow\.json: line 1: not valid JSON"):
        mapping.load(bad)
    with pytest.raises(CrowConfigError, match="cannot read"):
        mapping.load(tmp_path / "missing.json")
    bad.write_text("[1, 2]")
    with pytest.raises(CrowConfigError, match="must be a JSON object"):
        mapping.load(bad)


def test_default_is_the_originals_gates():
    config = mapping.default_config()
    assert mapping.setup_lines(config, 120.0) == ["crow.reset()"] + [
        f"output[{n}].action=pulse(0.03125,5,1)" for n in range(1, 5)]  # 1/16 beat at 120 BPM
    assert mapping.hit_lines(config, Hit(0.0, 0.0, 0, 4, 1.0), {}) == []  # track 5 has no output


def test_envelope_level_is_sent_only_when_it_changes():
    config = CrowConfig(outputs={2: Output("envelope", track=0, level=8.0)})
    levels: dict[int, float] = {}
    sent = [mapping.hit_lines(config, Hit(0.0, 0.0, 0, 0, v), levels) for v in (1.0, 1.0, 0.5)]
    assert sent == [["output[2].dyn.lev=8", "output[2]()"], ["output[2]()"],
                    ["output[2].dyn.lev=4", "output[2]()"]]


def test_a_ratchet_is_one_trigger_a_hit_and_an_accent_plays_at_full_level():
    """crow gets the very hits the engine gets (each ratchet hit, nudged times come with them);
    an accent, which has no level of its own on crow, plays at velocity 1."""
    s = Session(tracks=[Track(name="kick")])
    t = s.tracks[0]
    t.set_pattern("x---x---")
    t.velocity[0] = t.velocity[4] = 0.5
    t.ratchet[0], t.accent[4] = 3, True
    config = CrowConfig(outputs={1: Output("envelope", track=0, level=8.0)})
    levels: dict[int, float] = {}
    sent = [mapping.hit_lines(config, h, levels) for h in hits_between(s, InternalClock(), 0.0, 2.0)]
    assert sent == [["output[1].dyn.lev=4", "output[1]()"], ["output[1]()"], ["output[1]()"],
                    ["output[1].dyn.lev=8", "output[1]()"]]


def test_vtrigger_keeps_jf_in_its_own_mode():
    config = CrowConfig(voices=(Voice(track=0, voice=1),), jf_command="vtrigger")
    assert mapping.setup_lines(config, 120.0) == ["crow.reset()"]
    assert mapping.hit_lines(config, Hit(0.0, 0.0, 0, 0, 0.5), {}) == ["ii.jf[1].vtrigger(1,2.5)"]
    assert mapping.exit_lines(config) == []


@pytest.mark.parametrize(("version", "dyn"), [
    ("v4.0.5", True), ("v3.0.0", True), ("v3.1.2-4-g1a2b3c4", True), ("v2.1.0", False), ("v1.0.3", False),
    ("?", False), ("blackbird-0.4", False)])
def test_envelopes_play_as_pulses_on_firmware_without_dyn(version, dyn):
    """crow's ASL has ``dyn`` from v3.0: on older (or unreadable) firmware an envelope output is a
    pulse at its level, as long as the envelope, and no line names ``dyn``."""
    config = CrowConfig(outputs={1: Output("trigger", track=0), 2: Output("envelope", track=0, level=8.0,
                                                                        attack=0.01, release=0.3)})
    played = mapping.for_firmware(config, version)
    lines = mapping.setup_lines(played, 120.0) + mapping.hit_lines(played, Hit(0.0, 0.0, 0, 0, 0.5), {})
    assert (played == config) is dyn
    assert any("dyn" in line for line in lines) is dyn
    if not dyn:
        assert "output[2].action=pulse(0.31,8,1)" in lines
        assert played.outputs[1] == config.outputs[1]


UNIT1, UNIT2 = JF_ADDRESSES


def jf_session(config: CrowConfig) -> list[str]:
    """Every line a connect, a hit on track 1, one on track 2 and the goodbye send."""
    return (mapping.setup_lines(config, 120.0) + mapping.hit_lines(config, Hit(0.0, 0.0, 0, 0, 1.0), {})
            + mapping.hit_lines(config, Hit(0.0, 0.0, 0, 1, 0.5), {}) + mapping.exit_lines(config))


def on_crow(lines: list[str], ii: II | None = None) -> II:
    """The lines run by crow's ii addressing (lib/l_ii_mod.c, modelled in crowemu.II)."""
    ii = ii or II()
    for line in lines:
        ii.run(line)
    return ii


TWO_UNITS = CrowConfig(voices=(Voice(track=0, voice=1, unit=1, pitch=-1.0), Voice(track=1, voice=3, unit=2)))


def test_two_just_friends_each_get_their_own_commands_on_crow():
    ii = on_crow(jf_session(TWO_UNITS))
    assert ii.to(UNIT1) == [("mode", (1,)), ("play_voice", (1, -1, 5)), ("mode", (0,))]
    assert ii.to(UNIT2) == [("mode", (1,)), ("play_voice", (3, 0, 2.5)), ("mode", (0,))]


def test_plain_ii_jf_lines_would_send_unit_1s_commands_to_unit_2():
    """The lines gridtonic sent before (plain ``ii.jf`` for unit 1), run by the same model of crow:
    after the first ``ii.jf[2]`` unit 1's hit and goodbye reach unit 2, and unit 1 stays in
    synthesis mode when gridtonic exits."""
    old = [line.replace("ii.jf[1].", "ii.jf.") for line in jf_session(TWO_UNITS)]
    ii = on_crow(old)
    assert ii.to(UNIT1) == [("mode", (1,))]
    assert ii.to(UNIT2) == [("mode", (1,)), ("play_voice", (1, -1, 5)), ("play_voice", (3, 0, 2.5)),
                            ("mode", (0,)), ("mode", (0,))]


def test_one_just_friends_is_reached_whatever_crow_was_pointed_at():
    """crow keeps ``ii.jf``'s address through ``crow.reset()`` and USB reconnects: a crow left on
    unit 2 (by an earlier two-unit session or a user script) still plays unit 1."""
    config = CrowConfig(voices=(Voice(track=0, voice=2),))
    ii = on_crow(jf_session(config), II(address=UNIT2))
    assert [a for a, _, _ in ii.sent] == [UNIT1] * 3
    assert on_crow([line.replace("ii.jf[1].", "ii.jf.") for line in jf_session(config)],
                   II(address=UNIT2)).to(UNIT1) == []


@given(st.lists(st.floats(0, 64), min_size=2, max_size=8).map(sorted),
       st.sampled_from([0.125, 0.25, 1 / 3, 1.0, 3.0]), st.integers(1, 4))
def test_pulse_windows_partition_the_grid(edges, division, bars):
    config = CrowConfig(outputs={1: Output("clock", division=division), 2: Output("reset", bars=bars)})
    whole = mapping.pulse_beats(config, edges[0], edges[-1])
    pieces = [p for a, b in zip(edges, edges[1:], strict=False) for p in mapping.pulse_beats(config, a, b)]
    assert pieces == whole
    assert all(b % (bars * 4) == 0 for b, line in whole if line == "output[2]()")


def test_gate_is_redefined_only_when_its_length_really_moves():
    """A wobbling tempo (a MIDI clock's, measured tick by tick) costs no lines; a drift is followed
    once it adds up past GATE_TOLERANCE; a real change re-defines the gate once."""
    config = CrowConfig(outputs={1: Output("trigger", track=0), 3: Output("gate", track=0, steps=2.0)})
    gates: dict[int, float] = {}
    mapping.setup_lines(config, 120.0, gates)
    assert gates == {3: pytest.approx(0.25)}
    wobble = [120.0 * (1 + 0.009 * (-1) ** k) for k in range(50)]  # ±0.9 % every hit
    assert [line for t in wobble for line in mapping.gate_lines(config, t, gates)] == []
    drift = [120.0 * 1.002 ** k for k in range(1, 11)]  # +0.2 % a hit: 2.0 % in all
    assert len([line for t in drift for line in mapping.gate_lines(config, t, gates)]) == 1
    assert mapping.gate_lines(config, 150.0, gates) == ["output[3].action=pulse(0.2,5,1)"]
    assert mapping.gate_lines(config, 150.5, gates) == []


def test_write_time():
    assert mapping.write_time(10.0, 0.08, 0.001) == pytest.approx(10.079)
