"""midi.json: per-track notes out (channel, note, velocity, gate) and in, port names; checked."""

import json
import logging

import pytest
import trio

from gridtonic.cli import _parser as cli_parser
from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import Sequencer
from gridtonic.midi import mapping
from gridtonic.midi.inport import listen
from gridtonic.midi.mapping import MidiMap, NoteIn
from gridtonic.midi.outport import NoteOut
from gridtonic.midi.service import config_from_args, serve
from gridtonic.sound.render import pattern_session

MAP = {"output": "gt-drums", "tracks": [
    {"out": {"channel": 2, "note": 60, "velocity": 90, "gate": 0.5}, "in": {"channel": 3, "notes": [60, 61]}},
    {"out": {"channel": 17, "note": "x"}, "in": {"notes": [200]}, "colour": "red"},
]}


def test_fields_are_read_and_bad_ones_are_one_warning_each(caplog):
    with caplog.at_level(logging.WARNING):
        m = mapping.from_dict(MAP, "midi.json")
    assert m.out[0] == NoteOut(channel=1, note=60, velocity=90, gate=0.5)
    assert m.into[0] == NoteIn((60, 61), 2)
    assert m.out[1] == NoteOut(channel=15, note=38)  # clamped channel 16, default note
    assert m.into[1] == MidiMap().into[1]  # default notes
    assert m.out[2:] == MidiMap().out[2:] and m.output == "gt-drums" and m.input is None
    assert len(caplog.records) == 4, caplog.text  # channel 17, note "x", notes [200], "colour"
    assert m.track_for(2, 61) == 0 and m.track_for(5, 61) is None and m.track_for(0, 38) == 1
    assert mapping.from_dict(m.to_dict()) == m


def test_a_broken_file_is_one_error_and_the_default(tmp_path, caplog):
    path = tmp_path / "midi.json"
    path.write_text("{nope")
    assert mapping.load(path) == MidiMap() and "not valid JSON" in caplog.text
    assert mapping.load(tmp_path / "none.json") == MidiMap()


def test_run_reads_midi_json_beside_the_session(tmp_path):
    (tmp_path / "midi.json").write_text(json.dumps(MAP))
    config = config_from_args(cli_parser().parse_args(
        ["run", "--session", str(tmp_path / "s.json"), "--midi-notes-out"]))
    assert config.output == "gt-drums" and config.mapping.out[0].note == 60


async def test_a_configured_note_and_channel_arrive_on_a_real_port(jack_server, tmp_path):
    (tmp_path / "midi.json").write_text(json.dumps({"tracks": [
        {"out": {"channel": 2, "note": 60, "velocity": 90, "gate": 0.25}}]}))
    config = config_from_args(cli_parser().parse_args(  # JACK, as the listener, also beside a sequencer
        ["run", "--session", str(tmp_path / "s.json"), "--midi-notes-out", "--midi-api", "jack"]))
    seq = Sequencer(pattern_session("kick:x---"), InternalClock(120))
    received = []
    async with trio.open_nursery() as n:
        await n.start(serve, config, seq, lambda hit: None, 0.05)
        await n.start(listen, "gridtonic:out", received)
        seq.start()
        await n.start(seq.run)
        await trio.sleep(0.6)
        n.cancel_scope.cancel()
    notes = [m for _, m in received if m[0] & 0xF0 == 0x90]
    assert notes[:2] == [[0x91, 60, 90], [0x91, 60, 0]]
    on, off = [t for t, m in received if m[0] == 0x91][:2]
    assert off - on == pytest.approx(0.25 * 0.5, abs=256 / 48000 + 2e-3)  # a quarter beat, ± a JACK period
