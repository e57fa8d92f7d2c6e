"""Session model, session files and autosave: bad input never crashes, saves are atomic."""

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from gridtonic.core import params, session
from gridtonic.core.session import Session, SessionError, Steps, Track, default_session
from gridtonic.io import store
from gridtonic.prior import sampler


def test_round_trip():
    s = default_session()
    s.tracks[0].velocity[3] = 0.5
    s.tracks[2].probability[5] = 0.25
    s.tracks[1].morph = 0.25
    s.tempo = 97.5
    s.seed = 12345
    s.slots = [None, tuple(Steps.of(t) for t in s.tracks)]
    again = Session.from_dict(json.loads(store.dumps(s)))
    assert again == s


def test_probability_is_written_only_when_used():
    d = default_session().to_dict()
    assert all("probability" not in t for t in d["tracks"])
    s = default_session()
    s.tracks[1].probability[0] = 0.5
    assert s.to_dict()["tracks"][1]["probability"][:2] == [0.5, 1.0]


def test_default_session_plays_every_track():
    s = default_session()
    assert [t.name for t in s.tracks] == ["kick", "snare", "closed hat", "open hat", "clap"]
    assert all(any(t.steps) for t in s.tracks)


def test_unknown_fields_and_out_of_range_values_warn_and_clamp(caplog):
    d = default_session().to_dict()
    d["colour"] = "red"
    d["tempo"] = 9000
    d["tracks"][0]["wobble"] = 1
    d["tracks"][0]["pan"] = -3
    d["tracks"][0]["patch_a"]["oscFreq"] = 1e9
    d["tracks"][0]["patch_a"]["flux"] = 3
    d["tracks"][0]["velocity"][0] = "loud"
    d["tracks"][1]["probability"] = [1.5, -2, 0.5]
    d["tracks"][2]["probability"] = "often"
    d["seed"] = -4
    with caplog.at_level(logging.WARNING):
        s = Session.from_dict(d)
    assert s.tempo == 300.0
    assert s.tracks[0].pan == -1.0
    assert s.tracks[0].patch_a["oscFreq"] == 20000.0
    assert "flux" not in s.tracks[0].patch_a
    assert s.tracks[0].velocity[0] == 1.0
    assert s.tracks[1].probability[:4] == [1.0, 0.0, 0.5, 1.0]
    assert s.tracks[2].probability == [1.0] * 64
    assert s.seed == 0
    text = caplog.text
    for word in ("colour", "wobble", "tempo", "pan", "oscFreq", "flux", "velocity[0]", "probability[0]",
                 "probability[1]", "tracks[2].probability must be a list", "seed"):
        assert word in text


def test_bad_slots_are_dropped_with_a_warning(caplog):
    d = default_session().to_dict()
    good = [{"pattern": "x---", "velocity": [0.5], "probability": [2]}]
    d["slots"] = [good, "x---", [], [3], None, good + [{"pattern": 7}]]
    with caplog.at_level(logging.WARNING):
        s = Session.from_dict(d)
    assert [slot is None for slot in s.slots] == [False, True, True, True, True, False]
    first = s.slots[0][0]
    assert first.on[:8] == (True, False, False, False) * 2
    assert first.velocity[0] == 0.5 and first.probability[0] == 1.0
    assert s.slots[5][1].on == (False,) * 64
    for where in ("slots[0][0].probability[0]", "slots[1]: a slot must be", "slots[2]", "slots[3]",
                  "slots[5][1]: pattern must be a string"):
        assert where in caplog.text
    d["slots"] = {"a": 1}
    with caplog.at_level(logging.WARNING):
        assert Session.from_dict(d).slots == []
    assert "slots must be a list" in caplog.text


@pytest.mark.parametrize("text, message", [
    ("{", "not valid JSON"),
    ("[]", "not a gridtonic session"),
    ('{"format": "gridtonic-session", "tracks": []}', "non-empty list"),
    ('{"format": "gridtonic-session", "tracks": [3]}', "must be an object"),
])
def test_unusable_files_give_one_line_errors(tmp_path, text, message):
    p = tmp_path / "s.json"
    p.write_text(text)
    with pytest.raises(SessionError, match=message) as e:
        store.load(p)
    assert "\n" not in str(e.value) and str(p) in str(e.value)


def test_morph_interpolates_and_switches():
    t = Track(name="x")
    t.patch_a = params.clean({"oscFreq": 100, "oscWave": 0})
    t.patch_b = params.clean({"oscFreq": 300, "oscWave": 2})
    t.morph = 0.5
    assert t.patch()["oscFreq"] == 200 and t.patch()["oscWave"] == 0
    t.morph = 0.75
    assert t.patch()["oscWave"] == 2
    t.morph = 1.0
    assert t.patch() == t.patch_b


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    p = tmp_path / "sub" / "session.json"
    s = default_session()
    store.save(s, p)
    s.tempo = 150
    store.save(s, p)
    assert store.load(p).tempo == 150
    assert os.listdir(p.parent) == ["session.json"]


CHILD = textwrap.dedent("""
    import sys, time, trio
    from pathlib import Path
    from gridtonic.io import store
    from gridtonic.core.session import default_session

    async def main():
        s = default_session()
        async with trio.open_nursery() as n:
            n.start_soon(store.autosave, s, Path(sys.argv[1]))
            i = 0
            while True:
                i += 1
                s.tempo = 20 + i * 0.01          # each edit is numbered by the tempo
                print(i, time.monotonic(), flush=True)
                await trio.sleep(0.005)

    trio.run(main)
""")


@pytest.mark.parametrize("run_for", [0.7, 1.3, 2.1])
def test_kill_9_loses_at_most_a_second_of_edits(tmp_path, run_for):
    p = tmp_path / "session.json"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(p)], stdout=subprocess.PIPE, text=True)
    edits = {}
    started = None
    try:
        for line in child.stdout:
            i, t = line.split()
            edits[int(i)] = float(t)
            started = started or float(t)
            if float(t) - started > run_for:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    for line in child.stdout.read().splitlines():  # edits made before the kill landed
        if len(fields := line.split()) == 2:  # the kill may cut the last line
            edits[int(fields[0])] = float(fields[1])
    last_time = max(edits.values())
    saved = store.load(p)  # always a whole, valid file
    saved_edit = round((saved.tempo - 20) / 0.01)
    assert saved_edit in edits
    assert last_time - edits[saved_edit] <= 1.0


def test_the_sessions_introspection_defaults_are_the_samplers():
    assert session.FOCUS == sampler.FOCUS and session.NEXT_BAR_MODES == sampler.NEXT_BAR_MODES
    assert sampler.NEXT_BAR == default_session().next_bar


def test_the_master_level_is_kept_and_an_older_file_without_it_plays_at_0_db(caplog):
    s = default_session()
    assert "master_db" not in s.to_dict()  # 0 dB, the default, is not written
    s.master_db = -6.5
    assert Session.from_dict(json.loads(json.dumps(s.to_dict()))).master_db == -6.5
    older = default_session().to_dict()
    assert Session.from_dict(older).master_db == 0.0
    with caplog.at_level(logging.WARNING):
        loud = Session.from_dict(older | {"master_db": 1e9})
        bad = Session.from_dict(older | {"master_db": "loud"})
    assert (loud.master_db, bad.master_db) == (session.MASTER_RANGE[1], 0.0)
    assert "master_db" in caplog.text
