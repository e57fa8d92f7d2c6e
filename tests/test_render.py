"""`gridtonic render`: the sequencer's hits through scsynth NRT, sample-exact and deterministic."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from gridtonic import analysis
from gridtonic.core import params
from gridtonic.core.session import SessionError
from gridtonic.io import store
from gridtonic.sound import nrt
from gridtonic.sound.render import pattern_session, render

pytestmark = pytest.mark.nrt
SR = 48000
CLICK = params.clean(analysis.CLICK)


def click_session(path):
    s = pattern_session("kick:x---")
    s.tracks[0].patch_a = dict(CLICK)
    store.save(s, path)
    return s


def cli(*args):
    return subprocess.run([sys.executable, "-m", "gridtonic", *args], capture_output=True, text=True)


def test_cli_render_places_every_hit_on_its_exact_sample(tmp_path):
    out = tmp_path / "kick.wav"
    click_session(tmp_path / "s.json")
    r = cli("render", str(tmp_path / "s.json"), "-o", str(out), "--bars", "2", "--tempo", "120")
    assert r.returncode == 0, r.stderr
    found = analysis.onsets(out, threshold=0.05, min_gap=0.1)
    step = SR * 60 // 120  # one beat at 120 BPM = 24000 samples
    assert list(found - found[0]) == [i * step for i in range(8)]
    single = nrt.render_hit(CLICK, tmp_path / "one.wav", 0.1)
    assert found[0] == analysis.onsets(single, threshold=0.05)[0]  # the first hit starts at sample 0


def test_render_is_deterministic_per_seed(tmp_path):
    s = pattern_session("snare:x-x-,closed hat:xxxx")
    a, b, c = (tmp_path / n for n in ("a.wav", "b.wav", "c.wav"))
    render(s, a, bars=1, seed=7)
    render(s, b, bars=1, seed=7)
    render(s, c, bars=1, seed=8)
    xa, xb, xc = (sf.read(str(p))[0] for p in (a, b, c))
    assert np.array_equal(xa, xb)
    assert not np.array_equal(xa, xc)


def test_session_file_renders_and_swing_delays_odd_steps(tmp_path):
    path = tmp_path / "s.json"
    s = click_session(path)
    s.tracks[0].set_pattern("xxxx")
    s.tracks[0].swing = 75.0
    store.save(s, path)
    out = tmp_path / "swing.wav"
    r = cli("render", str(path), "-o", str(out), "--bars", "1")
    assert r.returncode == 0, r.stderr
    found = analysis.onsets(out, threshold=0.05, min_gap=0.05)
    sixteenth = SR * 60 // 120 // 4  # 6000
    gaps = np.diff(found)
    assert set(gaps[0::2]) == {int(sixteenth * 1.5)} and set(gaps[1::2]) == {int(sixteenth * 0.5)}


def test_bad_pattern_and_bad_file_give_one_line_errors(tmp_path):
    r = cli("render", "cowbell:x---", "-o", str(tmp_path / "x.wav"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no track 'cowbell'" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    r = cli("render", str(bad), "-o", str(tmp_path / "x.wav"))
    assert r.returncode == 2 and "not valid JSON" in r.stderr and r.stderr.count("\n") == 1
    with pytest.raises(SessionError):
        pattern_session("kick")
