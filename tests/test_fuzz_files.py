"""Files that cannot be used never block the next start: hostile and random session files, mutated
priors, crow.json, midi.json and CC maps, each loaded the way ``gridtonic run`` loads it.

Every case must load without an exception: a session either loads (clamped, and saves as a valid
session) or is moved aside whole and the next load starts clean; the prior is a sampler or None
(introspection off); the mappings are the checked file or the default. Hypothesis runs are bounded
and derandomized (the same files every run, a few seconds each)."""

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridtonic.core.session import Session, Steps, default_session
from gridtonic.crow import commands as crowcommands
from gridtonic.crow import mapping as crowmap
from gridtonic.grid import udp
from gridtonic.io import store
from gridtonic.midi import cc as midicc
from gridtonic.midi import mapping as midimap
from gridtonic.prior import database, sampler

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
DEEP = "[" * 100_000 + "]" * 100_000  # beyond the JSON parser's recursion limit
HUGE = 10**400  # a JSON integer no float holds
HOSTILE_VALUES = (HUGE, -HUGE, int("9" * 401), float("inf"), float("-inf"), float("nan"), 1e308, -1,
                  2**63, "x" * 1000, "", None, True, [], {}, [[[[[[]]]]]], {"a": {"b": {}}}, "\udcff")


def hostile(mutate) -> bytes:
    d = default_session().to_dict()
    mutate(d)
    return json.dumps(d).encode()


# The cases of issue 14 (7 of 26 crashed `gridtonic run` and stayed in place) and their relatives.
SESSION_CASES = {
    "401-digit seed": hostile(lambda d: d.update(seed=int("9" * 401))),
    "1e400 swing (an integer)": hostile(lambda d: d["tracks"][0].update(swing=HUGE)),
    "1e400 velocity": hostile(lambda d: d["tracks"][0]["velocity"].__setitem__(0, HUGE)),
    "1e400 parameter": hostile(lambda d: d["tracks"][0]["patch_a"].update(oscFreq=HUGE)),
    "1e400 tempo (inf)": hostile(lambda d: d.update(tempo=HUGE)).replace(str(HUGE).encode(), b"1e400"),
    "NaN and -Infinity": hostile(lambda d: d.update(tempo=float("nan"), seed=float("-inf"))),
    "4301-digit integer": b'{"format": "gridtonic-session", "seed": ' + b"9" * 4301 + b"}",
    "deep nesting": DEEP.encode(),
    "deep nesting in a track": hostile(lambda d: d["tracks"][0].update(name=[])).replace(
        b"[]", DEEP.encode()),
    "invalid UTF-8": b'{"format": "gridtonic-session", "tracks": [{"name": "\xff\xfe"}]}',
    "UTF-16": json.dumps(default_session().to_dict()).encode("utf-16"),
    "empty": b"",
    "NUL bytes": b"\0" * 100,
    "not an object": b"[1, 2, 3]",
    "no format": b'{"tracks": [{}]}',
    "tracks not a list": b'{"format": "gridtonic-session", "tracks": 7}',
    "a track not an object": b'{"format": "gridtonic-session", "tracks": [3]}',
    "wrong types everywhere": hostile(lambda d: d.update(
        tempo="fast", seed=[1], slots={"a": 1},
        tracks=[{"name": {"x": 1}, "pattern": 5, "velocity": "loud", "probability": {}, "swing": None,
                 "mute": "no", "pan": [], "choke": "hats", "max_voices": 1e400, "morph": True,
                 "patch_a": [], "patch_b": {"oscFreq": "high", "level": HUGE, "nope": 1}}])),
    "many unknown fields": hostile(lambda d: d.update({f"f{i}": i for i in range(100_000)})),
}


def files_beside(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name + ".broken-"))


def check_session(path: Path, data: bytes) -> Session:
    """Load ``data`` as run does: never an exception; it loads (and saves as a session that
    loads the same) or it is moved aside whole and the next load is the default session."""
    path.write_bytes(data)
    before = files_beside(path)
    session = store.open_session(path)
    if path.exists():  # used, checked: what autosave writes is a valid session that loads as saved
        saved = store.dumps(session)
        assert store.dumps(Session.from_dict(json.loads(saved))) == saved
        path.unlink()
    else:
        moved = [p for p in files_beside(path) if p not in before]
        assert len(moved) == 1 and moved[0].read_bytes() == data
        assert session == default_session()
        assert store.open_session(path) == default_session()  # the next start is clean
    return session


@pytest.mark.parametrize("case", SESSION_CASES)
def test_hostile_session_files_load_or_are_moved_aside(tmp_path, case):
    check_session(tmp_path / "session.json", SESSION_CASES[case])


def test_the_issue_cases_that_crashed_now_clamp_or_move_aside(tmp_path, caplog):
    path = tmp_path / "session.json"
    assert check_session(path, SESSION_CASES["401-digit seed"]).seed == 2**32 - 1
    assert check_session(path, SESSION_CASES["1e400 swing (an integer)"]).tracks[0].swing == 100.0
    assert check_session(path, SESSION_CASES["1e400 parameter"]).tracks[0].patch_a["oscFreq"] == 20000.0
    assert check_session(path, SESSION_CASES["1e400 tempo (inf)"]).tempo == 120.0  # not a number
    for case in ("deep nesting", "invalid UTF-8", "4301-digit integer"):
        caplog.clear()
        check_session(path, SESSION_CASES[case])
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and errors[0].startswith(str(path)) and "moved it to" in errors[0]


def test_a_huge_or_endless_session_file_is_refused_unread(tmp_path, caplog):
    path = tmp_path / "session.json"
    with path.open("wb") as f:
        f.truncate(1 << 30)  # 1 GB, sparse: 65 s and +4.9 GB before
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert store.open_session(path) == default_session()
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) * 1024 < 50 << 20
    assert "1,073,741,824 bytes, more than the 10,485,760" in caplog.text
    assert not path.exists() and len(files_beside(path)) == 1
    path.symlink_to("/dev/zero")  # st_size 0, never ends
    assert store.open_session(path) == default_session()
    assert "not a regular file" in caplog.text and not path.is_symlink()


JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.floats(), st.text(max_size=20),
                        st.integers(), st.sampled_from(HOSTILE_VALUES))
ANY_JSON = st.recursive(
    JSON_LEAVES, lambda c: st.lists(c, max_size=6) | st.dictionaries(st.text(max_size=8), c, max_size=6),
    max_leaves=40)


def _paths(value, at=()):
    """Every place in a JSON value where a field or item sits."""
    yield at
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*at, i))


def _replaced(value, at, new):
    if not at:
        return new
    copy = json.loads(json.dumps(value))
    inner = copy
    for k in at[:-1]:
        inner = inner[k]
    inner[at[-1]] = new
    return copy


SESSION = default_session()
SESSION.slots = [None, tuple(Steps.of(t) for t in SESSION.tracks)]
SESSION_DICT = SESSION.to_dict()
SESSION_PATHS = list(_paths(SESSION_DICT))
SESSION_TEXT = store.dumps(SESSION).encode()


def dumps(value) -> bytes:
    return json.dumps(value).encode()  # NaN and Infinity as Python writes them; lone surrogates escaped


def structured(base: dict, paths: list) -> st.SearchStrategy[bytes]:
    """A valid file with 1-4 fields (anywhere, also whole tracks or lists) replaced by hostile or
    random values."""
    edits = st.lists(st.tuples(st.sampled_from(paths), st.sampled_from(HOSTILE_VALUES) | ANY_JSON),
                     min_size=1, max_size=4)

    def apply(changes):
        value = base
        for at, new in changes:
            try:
                value = _replaced(value, at, new)
            except (KeyError, IndexError, TypeError):  # an earlier edit removed this place
                pass
        return dumps(value)
    return edits.map(apply)


def mutated(text: bytes) -> st.SearchStrategy[bytes]:
    """``text`` cut short, or with 1-64 bytes overwritten, inserted or deleted anywhere (places
    drawn from a seeded Random: Hypothesis's own integers favour the first bytes, the header)."""
    def mutate(args) -> bytes:
        rnd, cut, n = args
        if cut:
            return text[:rnd.randrange(len(text) + 1)]
        b = bytearray(text)
        for _ in range(n):
            at = rnd.randrange(max(len(b), 1))
            b[at:at + 1] = rnd.randbytes(rnd.choice((0, 1, 1, 1, 2)))
        return bytes(b)
    return st.tuples(st.randoms(use_true_random=False), st.booleans(), st.integers(1, 64)).map(mutate)


@FUZZ
@given(data=st.one_of(ANY_JSON.map(dumps), st.binary(max_size=300), structured(SESSION_DICT, SESSION_PATHS),
                      mutated(SESSION_TEXT)))
def test_fuzzed_session_files_load_or_are_moved_aside(tmp_path, data):
    path = tmp_path / "session.json"
    for old in files_beside(path):
        old.unlink()
    check_session(path, data)


# --- the prior ------------------------------------------------------------------------------------

PRIOR = sampler.default_path().read_bytes()


@settings(FUZZ, max_examples=60)
@given(data=mutated(PRIOR))
def test_mutated_priors_turn_introspection_off_or_still_generate(tmp_path, data):
    path = tmp_path / "prior.sqlite"
    path.write_bytes(data)
    s = sampler.load_file(path)  # as Instrument.load_prior does: never raises
    if s is not None:
        g = s.generate("snare", "x---x---x---x---", "kick", seed=1)
        assert 0 <= g.pid < 1 << 16


def damaged_prior(tmp_path: Path, sql: str) -> Path:
    path = tmp_path / "prior.sqlite"
    path.write_bytes(PRIOR)
    con = sqlite3.connect(path)
    with con:
        con.execute(sql)
    con.close()
    return path


ONE_COUNT = "UPDATE pattern SET n = {} WHERE (ins, pid) IN (SELECT ins, pid FROM pattern LIMIT 1)"


@pytest.mark.parametrize("value", ["1e300", "'many'"])  # OverflowError, ValueError out of numpy before
def test_damaged_counts_turn_introspection_off_in_one_line(tmp_path, caplog, value):
    path = damaged_prior(tmp_path, ONE_COUNT.format(value))
    assert sampler.load_file(path) is None
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith(f"{path}: damaged prior")


def test_damaged_provenance_is_one_line_and_still_plays(tmp_path):
    path = damaged_prior(tmp_path, "UPDATE corpus SET stats = CAST(X'7B22FF' AS TEXT)")  # not UTF-8 JSON
    with pytest.raises(database.PriorError, match="damaged prior"):
        database.info(path)
    assert sampler.load_file(path) is not None  # the counts are whole


def test_a_huge_prior_is_refused_from_its_size(tmp_path, caplog):
    path = tmp_path / "prior.sqlite"
    path.write_bytes(PRIOR)
    with path.open("r+b") as f:
        f.truncate(1 << 30)
    assert sampler.load_file(path) is None
    assert "1,073,741,824 bytes" in caplog.text and "introspection is off" in caplog.text


# --- crow.json, midi.json, the CC map ------------------------------------------------------------

def crow_as_run(path: Path) -> crowmap.CrowConfig:
    config = crowcommands.config_from(argparse.Namespace(crow=None, crow_map=path))
    assert config is not None
    crowmap.setup_lines(config, 120.0)  # the checked numbers make Lua lines
    return config


CROW_DICT = {"port": "/dev/ttyACM0", "serial_latency": 0.002, "outputs": {
    "1": {"kind": "gate", "track": 1, "steps": 0.5}, "2": {"kind": "envelope", "track": 2},
    "3": {"kind": "clock", "division": 0.5}, "4": {"kind": "reset", "bars": 4}},
    "just_friends": {"command": "play_voice", "voices": [{"track": 3, "voice": 2, "unit": 2, "pitch": 1}]}}
MIDI_DICT = {"input": "Digitakt", "output": None, "tracks": [
    {"out": {"channel": 1, "note": 60, "velocity": None, "gate": 0.25},
     "in": {"channel": 2, "notes": [60, 61]}}]}
CC_DICT = {"format": midicc.FORMAT, "bindings": [{"channel": 1, "cc": 74, "track": 1, "param": "oscFreq"},
                                                  {"channel": 2, "cc": 7, "track": 3, "param": "level"}]}
LOADERS = {
    "crow.json": (crow_as_run, CROW_DICT, crowmap.default_config()),
    "midi.json": (midimap.load, MIDI_DICT, midimap.MidiMap()),
    "session.cc.json": (midicc.open_map, CC_DICT, midicc.CcMap()),
}
CONFIG_CASES = [b"1" * 5000, b"9" * 401, DEEP.encode(), b"\xff\xfe{}", b"", b"null",
                b'{"outputs": ' + DEEP.encode() + b"}"]


def config_inputs(name):
    base = LOADERS[name][1]
    return st.one_of(st.sampled_from(CONFIG_CASES), ANY_JSON.map(dumps), st.binary(max_size=200),
                     structured(base, list(_paths(base))), mutated(json.dumps(base).encode()))


@pytest.mark.parametrize("name", LOADERS)
def test_fuzzed_mappings_fall_back_to_their_defaults(tmp_path, name):
    load, base, _ = LOADERS[name]

    @settings(FUZZ, max_examples=100)
    @given(data=config_inputs(name))
    def one(data):
        path = tmp_path / name
        path.write_bytes(data)
        load(path)

    one()
    (tmp_path / name).write_text(json.dumps(base))
    assert load(tmp_path / name) != LOADERS[name][2]  # the good file is read, not the default


@pytest.mark.parametrize("name", LOADERS)
def test_a_huge_mapping_is_refused_in_one_line(tmp_path, caplog, name):
    load, _, default = LOADERS[name]
    path = tmp_path / name
    with path.open("wb") as f:
        f.truncate(1 << 30)
    assert load(path) == default
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith(f"{path}: 1,073,741,824 bytes, more than the 1,048,576")


# --- end to end: gridtonic run ---------------------------------------------------------------------

@pytest.mark.realtime
def test_run_with_hostile_files_starts_moves_the_session_aside_and_next_run_is_clean(tmp_path, jack_server):
    data = tmp_path / "data"
    data.mkdir()
    (data / "session.json").write_bytes(SESSION_CASES["deep nesting in a track"])
    (data / "crow.json").write_bytes(b'{"outputs": {"1": {"kind": "gate", "track": ' + b"9" * 401 + b"}}}")
    env = {**os.environ, "GRIDTONIC_DATA": str(data), "JACK_DEFAULT_SERVER": jack_server}

    def run():
        return subprocess.run([sys.executable, "-m", "gridtonic", "run", "--for", "1", "--port",
                               str(udp.free_port())], capture_output=True, text=True, env=env, timeout=60)

    first = run()
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    moved = [line for line in first.stderr.splitlines() if "moved it to" in line]
    assert len(moved) == 1 and str(data / "session.json") in moved[0]
    assert len(files_beside(data / "session.json")) == 1
    saved = store.load(data / "session.json")  # autosave wrote the default session over nothing
    assert [t.name for t in saved.tracks] == [t.name for t in default_session().tracks]
    second = run()
    assert second.returncode == 0, second.stderr
    assert "moved it to" not in second.stderr and len(files_beside(data / "session.json")) == 1
