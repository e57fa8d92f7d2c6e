"""CC learn and the followed tempo, pure: CC values through the parameter ranges, learning order,
the map file beside the session, ``--cc-learn`` parsing, and ``session.tempo`` from a MIDI master."""

import argparse
import json
import logging
import math

import pytest

from gridtonic.cli import _parser as cli_parser
from gridtonic.core import params
from gridtonic.core.sequencer import Sequencer
from gridtonic.io import midiports
from gridtonic.io.midiports import Stamps
from gridtonic.midi import cc as midicc
from gridtonic.midi.cc import CcMap, cc_value
from gridtonic.midi.clock import MidiClock
from gridtonic.midi.inport import MidiIn
from gridtonic.midi.service import MidiConfig, cc_map, config_from_args
from gridtonic.midi.ticksim import jitter, master
from gridtonic.sound.render import pattern_session

CC = 0xB0


def test_cc_values_span_the_parameter_range():
    for p in params.PARAMS:
        assert cc_value(p.name, 0) == p.minimum and cc_value(p.name, 127) == p.maximum
    assert cc_value("level", 64) == pytest.approx(-100 + 110 * 64 / 127)  # dB: linear
    assert cc_value("mix", 127 // 2) == pytest.approx(100 * 63 / 127)


def test_exponential_parameters_are_on_a_log_scale():
    # equal knob steps are equal frequency ratios: the middle of 20 Hz–20 kHz is 632 Hz, not 10 kHz
    assert cc_value("oscFreq", 63.5) == pytest.approx(math.sqrt(20 * 20000))
    ratios = [cc_value("nFilFrq", v + 1) / cc_value("nFilFrq", v) for v in range(127)]
    assert max(ratios) == pytest.approx(min(ratios))


def test_discrete_parameters_get_their_choices():
    assert [cc_value("oscWave", v) for v in (0, 31, 32, 95, 96, 127)] == [0, 0, 1, 1, 2, 2]


def test_learning_binds_the_next_knob_in_turn_and_each_knob_once():
    cc = CcMap()
    cc.learn(0, "oscFreq")
    cc.learn(2, "level")
    assert cc.target(9, 74) == (0, "oscFreq")
    assert cc.target(9, 74) == (0, "oscFreq")  # the same knob still turning: not the next target
    assert cc.target(0, 7) == (2, "level")
    assert cc.target(0, 8) is None and not cc.learning
    with pytest.raises(ValueError):
        cc.learn(0, "nope")


def test_a_cc_changes_the_tracks_patch_through_midi_in():
    session = pattern_session("kick:x,snare:-")
    midi_in = MidiIn(Sequencer(session, MidiClock()), lambda hit: None)
    kick = dict(session.tracks[0].patch_a)
    midi_in.cc.learn(1, "nFilFrq")
    midi_in.feed(0.0, [CC | 3, 71, 127, 71, 0])  # learnt from its first value, then moved (running status)
    assert session.tracks[1].patch_a["nFilFrq"] == 20.0
    midi_in.feed(0.0, [CC | 3, 72, 64])  # not bound: nothing changes
    assert session.tracks[0].patch_a == kick


def test_the_map_file_round_trips_and_bad_rows_are_dropped(tmp_path, caplog):
    cc = CcMap()
    cc.learn(1, "oscDcy")
    cc.target(15, 1)
    path = midicc.path_for(tmp_path / "live.json")
    assert path.name == "live.cc.json"
    path.write_text(midicc.dumps(cc))
    rows = json.loads(path.read_text())["bindings"]
    assert rows == [{"channel": 16, "cc": 1, "track": 2, "param": "oscDcy"}]  # counted from 1
    assert midicc.open_map(path).bindings == {(15, 1): (1, "oscDcy")}
    data = cc.to_dict()
    data["bindings"] += [{"channel": 17, "cc": 1, "track": 1, "param": "level"}, "junk",
                         {"channel": 1, "cc": 2.5, "track": 1, "param": "level"}]
    path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        assert midicc.open_map(path).bindings == {(15, 1): (1, "oscDcy")}
    assert len(caplog.records) == 3


@pytest.mark.parametrize("text", ["{not json", '{"format": "other", "bindings": []}', "[]", "\xff\xfe"])
def test_an_unusable_map_file_is_one_error_line_and_an_empty_map(tmp_path, caplog, text):
    path = tmp_path / "s.cc.json"
    path.write_text(text, encoding="latin-1")
    with caplog.at_level(logging.WARNING):
        assert midicc.open_map(path) == CcMap()
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert str(path) in caplog.text and "\n" not in caplog.records[0].getMessage()
    assert midicc.open_map(tmp_path / "missing.json") == CcMap()


def test_learn_targets_from_the_command_line(tmp_path, caplog):
    assert midicc.learn_target("kick:oscfreq") == ("kick", "oscFreq")
    assert midicc.learn_target("closed hat:level") == ("closed hat", "level")
    for bad in ("level", ":level", "kick:pitch"):
        with pytest.raises(argparse.ArgumentTypeError):
            midicc.learn_target(bad)
    names = ["kick", "snare", "Closed Hat"]
    found = [midicc.track_index(t, names) for t in ("1", "3", "4", "closed hat", "tom")]
    assert found == [0, 2, None, 2, None]
    config = MidiConfig(input="x", cc_file=tmp_path / "s.cc.json", learn=(("snare", "level"), ("tom", "mix")))
    with caplog.at_level(logging.INFO):
        assert cc_map(config, names).learning == [(1, "level")]
    assert "no track 'tom'" in caplog.text


def follow(tempo: float, seconds: float, session_tempo: float = 120.0) -> tuple[list[float], float]:
    """A master at ``tempo`` with ±1 ms jitter into MidiIn; returns each value written to
    ``session.tempo`` and the final one."""
    session = pattern_session("kick:x")
    session.tempo = session_tempo
    clock = MidiClock(session_tempo)
    midi_in = MidiIn(Sequencer(session, clock), lambda hit: None, clock=clock)
    writes = []
    for t in jitter(master(lambda t: tempo, seconds), 1e-3):
        before = session.tempo
        midi_in.feed(t, [0xF8])
        if session.tempo != before:
            writes.append(session.tempo)
    return writes, session.tempo


def test_the_followed_tempo_is_written_back_rounded_once_locked():
    writes, final = follow(133.33, 60.0, session_tempo=90)
    assert final == 133.3
    assert len(writes) <= 2, writes  # once settled, then at most a last digit: not every tick
    writes, final = follow(120.08, 60.0)
    assert writes == [] and final == 120.0  # within the 0.15 BPM step: left alone


def test_a_tempo_change_is_written_once_it_settled():
    writes, final = follow(100.0, 30.0)
    assert writes == [100.0]
    session = pattern_session("kick:x")
    clock = MidiClock()
    midi_in = MidiIn(Sequencer(session, clock), lambda hit: None, clock=clock)
    ticks = master(lambda t: 120.0 if t < 11 else 126.0, 16)
    written = {}
    for t in jitter(ticks, 1e-3):
        midi_in.feed(t, [0xF8])
        written.setdefault(session.tempo, t)
    assert list(written) == [120.0, 126.0] and written[126.0] - 11 < 3.0  # within 3 s of the change


def test_a_master_beyond_the_session_range_is_clamped():
    assert follow(350.0, 5.0)[1] == 300.0


def test_polled_messages_keep_their_spacing_however_late_the_poll():
    """Stamps: rtmidi's delta times give the spacing; the smallest arrival-to-poll lag places it."""
    stamps = Stamps()
    assert stamps(10.0, []) == []
    assert stamps(10.003, [0.0]) == [10.003]  # the first: its poll is the best guess yet
    late = stamps(10.050, [0.010, 0.0105, 0.0105])  # three ticks polled 16 ms after the last
    assert late == pytest.approx([10.013, 10.0235, 10.034], abs=1e-5)
    assert stamps(10.0442, [0.010]) == pytest.approx([10.044], abs=1e-5)  # a slower poll: same anchor
    assert stamps(10.0535, [0.010]) == pytest.approx([10.0535])  # a quicker one moves it earlier
    # the anchor only creeps later by DRIFT: a stall of every poll moves no stamp by more
    elapsed = 2.5
    t = stamps(10.0535 + elapsed, [2.0])[0]
    assert t - 12.0535 == pytest.approx(midiports.DRIFT * elapsed)


def test_run_cc_learn_arms_learning_beside_the_session(tmp_path):
    args = cli_parser().parse_args(["run", "--session", str(tmp_path / "gig.json"),
                                    "--cc-learn", "kick:oscfreq", "--cc-learn", "2:level"])
    config = config_from_args(args)
    assert config.input == "virtual"  # no --midi-in: gridtonic's own port, for a controller to connect
    assert config.learn == (("kick", "oscFreq"), ("2", "level"))
    assert config.cc_file == tmp_path / "gig.cc.json"
    with pytest.raises(SystemExit):  # argparse: usage and one line naming the parameters
        cli_parser().parse_args(["run", "--cc-learn", "kick:pitch"])


@pytest.mark.parametrize(("flags", "want"), [
    (["--midi-clock-out"], {"output": "virtual", "clock_out": True, "input": None}),
    (["--midi-notes-out"], {"output": "virtual", "notes_out": True, "input": None}),
    (["--midi-record"], {"input": "virtual", "record": True, "output": None}),
    (["--midi-notes-out", "--midi-out", "tr8"], {"output": "tr8", "notes_out": True}),
    (["--clock", "midi", "--midi-notes-out"], {"follow": True, "input": "virtual", "output": "virtual"}),
])
def test_each_midi_flag_takes_effect_alone(tmp_path, flags, want):
    """--midi-clock-out, --midi-notes-out and --midi-record alone were ignored (no config at all)."""
    config = config_from_args(cli_parser().parse_args(["run", "--session", str(tmp_path / "s.json"), *flags]))
    assert config is not None and {k: getattr(config, k) for k in want} == want


def test_following_and_sending_the_clock_is_one_line_error(tmp_path):
    """--clock midi --midi-clock-out dropped the clock out silently."""
    from gridtonic.midi.service import MidiConfigError

    args = cli_parser().parse_args(["run", "--session", str(tmp_path / "s.json"), "--clock", "midi",
                                    "--midi-clock-out"])
    with pytest.raises(MidiConfigError, match="use one"):
        config_from_args(args)
    assert config_from_args(cli_parser().parse_args(["run", "--session", str(tmp_path / "s.json")])) is None
