"""config.toml in the user config dir: defaults for any command's options, checked as the command line
checks them; the MIDI and crow mappings; the old midi.json/crow.json still read."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridtonic import cli, crow, midi
from gridtonic.io import config, store

FILE = """
log_level = "loud"
[run]
tempo = 133
web-port = 8810
no_web = true
latency = -1
midi-in = 5
bogus = 1
[nosuch]
x = 1
"""


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A user whose config file and data dir are in tmp_path."""
    monkeypatch.setenv("GRIDTONIC_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GRIDTONIC_DATA", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    return tmp_path


def parse(*argv):
    settings = config.load()
    return cli._parser(settings).parse_args(argv), settings.problems


def test_a_missing_file_changes_nothing(user):
    args, problems = parse("run")
    assert problems == [] and args.tempo is None and args.web_port == 8808 and args.log_level is None


def test_each_value_is_checked_by_its_option_and_the_command_line_wins(user):
    (user / "config.toml").write_text(FILE)
    args, problems = parse("run")
    where = user / "config.toml"
    assert (args.tempo, args.web_port, args.no_web, args.midi_in) == (133, 8810, True, "5")
    assert args.latency == 0.08 and args.log_level is None  # the refused ones keep their defaults
    assert sorted(problems) == sorted([
        f"{where}: [run] latency = -1: -1 is out of range: it must be above 0 and at most 2 s; ignored",
        f"{where}: [run] bogus: gridtonic run has no such option; ignored",
        f"{where}: [nosuch] is no command's table; ignored",
        f"{where}: log_level = 'loud': use debug, info, warning or error; ignored",
    ])
    args, _ = parse("run", "--tempo", "99", "--web-port", "9000")
    assert (args.tempo, args.web_port) == (99, 9000)


@pytest.mark.parametrize("text", ["[run\ntempo = 1", "tempo = ", "\xff", "a = " + "9" * 5000])
def test_a_file_that_cannot_be_read_is_one_warning_and_nothing_used(user, text):
    (user / "config.toml").write_bytes(text.encode("latin-1"))
    args, problems = parse("run")
    assert len(problems) == 1 and problems[0].startswith(f"{user / 'config.toml'}: not used (")
    assert args.tempo is None


def test_run_takes_its_settings_from_the_file(user, jack_server):
    (user / "config.toml").write_text('log_level = "warning"\n[run]\ntempo = 133\nno-web = true\n'
                                      'serialosc-port = "x"\n')
    env = {**os.environ, "JACK_DEFAULT_SERVER": jack_server}
    r = subprocess.run([sys.executable, "-m", "gridtonic", "run", "--for", "0.5"], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert store.load(user / "data" / "session.json").tempo == 133
    assert r.stderr.splitlines() == [  # warnings only: the bad value, and nothing at info level
        f"gridtonic: {user / 'config.toml'}: [run] serialosc-port = 'x': invalid int value: 'x'; ignored"]


def test_the_midi_and_crow_mappings_come_from_the_file_else_the_old_json_files(user):
    old = {"input": "old in", "tracks": [{"out": {"note": 40}}]}
    (user / "data" / "midi.json").write_text(json.dumps(old))
    (user / "data" / "crow.json").write_text(json.dumps({"outputs": {"2": {"kind": "trigger", "track": 3}}}))
    args, _ = parse("run", "--midi-notes-out")
    assert midi.config_from_args(args).mapping.out[0].note == 40
    assert midi.config_from_args(args).mapping.input == "old in"
    assert set(crow.config_from(args).outputs) == {2}
    (user / "config.toml").write_text('[mapping.midi]\ninput = "MPK"\n[[mapping.midi.tracks]]\n'
                                      'out = {channel = 10, note = 38}\n'
                                      '[mapping.crow.outputs.1]\nkind = "gate"\ntrack = 1\n')
    args, problems = parse("run", "--midi-notes-out")
    m = midi.config_from_args(args).mapping
    assert problems == [] and (m.input, m.out[0].note, m.out[0].channel) == ("MPK", 38, 9)
    outputs = crow.config_from(args).outputs
    assert set(outputs) == {1} and outputs[1].kind == "gate" and outputs[1].track == 0


RUN_KEYS = [a.dest for a in cli._parser(config.Settings(Path("none.toml")))._subparsers._group_actions[0]
            .choices["run"]._actions if a.option_strings]
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300, max_value=10**4000)
    | st.floats() | st.text(max_size=30) | st.datetimes(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8)
TABLES = st.dictionaries(
    st.sampled_from(["run", "render", "devices", "crow", "mapping", "log_level", "x" * 100]) | st.text(),
    st.dictionaries(st.sampled_from(RUN_KEYS) | st.text(max_size=60), VALUES, max_size=6) | VALUES,
    max_size=5)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(TABLES)
def test_any_settings_leave_every_command_usable(tables):
    """Whatever a config file holds (tomllib gives these types), each bad value is one short line and
    the commands still parse with what is left."""
    s = config.Settings(Path("config.toml"), tables)
    p = cli._parser(s)
    s.log_level()
    assert all("\n" not in line and len(line) < 400 for line in s.problems), s.problems
    p.parse_args(["run"])
    p.parse_args(["render", "kick:x", "-o", "x.wav"])


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_in_the_file_are_at_most_one_warning(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_bytes(data)
    s = config.load(path)
    assert len(s.problems) <= 1 and all("\n" not in line for line in s.problems)
    cli._parser(s).parse_args(["run"])
