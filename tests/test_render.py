"""`gridtonic render`: the sequencer's hits through scsynth NRT, sample-exact and deterministic."""

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from gridtonic import analysis
from gridtonic.core import params
from gridtonic.core.session import SessionError
from gridtonic.io import osc, store
from gridtonic.sound import nrt, synthdefs
from gridtonic.sound.render import LIMIT_BYTES, loop_frames, pattern_session, render, routed, stem_paths
from gridtonic.sound.render import planned as render_planned

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


def ringing_session(path=None):
    """A tone (no noise) ringing 1.5 s from the last step of the bar, cut by a choke on beat 2: a
    loop's start holds the tail of the loop before it, up to the choke."""
    s = pattern_session("kick:---------------x,snare:----x-----------")
    s.tracks[0].patch_a = dict(CLICK, oscFreq=220.0, oscDcy=1500.0)
    s.tracks[1].patch_a = dict(CLICK, oscFreq=660.0)
    s.tracks[0].choke = s.tracks[1].choke = 1
    if path:
        store.save(s, path)
    return s


@pytest.mark.parametrize(("tempo", "frames"), [(130, 88615), (140, 82286)])  # 88615.38, 82285.71
def test_a_loop_is_its_bars_to_the_nearest_sample(tmp_path, tempo, frames):
    assert loop_frames(tempo, 1) == frames == round(4 * 60 / tempo * SR)
    ringing_session(tmp_path / "s.json")
    r = cli("render", str(tmp_path / "s.json"), "-o", str(tmp_path / "l.wav"), "--loop",
            "--tempo", str(tempo), "--bars", "1")
    assert r.returncode == 0 and "a loop" in r.stdout, r.stderr
    assert sf.info(str(tmp_path / "l.wav")).frames == frames
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.wav", "s.json"]  # no scratch files left


def seam_jump(x: np.ndarray) -> tuple[float, float]:
    """x played twice: the step from its last sample to its first, and the largest step near it."""
    twice = np.abs(np.diff(np.concatenate([x[-100:], x[:100]]), axis=0)).max(axis=1)
    return twice[99], np.delete(twice, 99).max()


def test_a_loop_played_twice_is_the_pattern_playing_on_across_the_seam(tmp_path):
    s = ringing_session()
    length = render(s, tmp_path / "loop.wav", bars=1, loop=True)
    render(s, tmp_path / "once.wav", bars=1)
    render(s, tmp_path / "on.wav", bars=3)
    loop, once, on = (sf.read(str(tmp_path / f"{n}.wav"))[0] for n in ("loop", "once", "on"))
    bar = SR * 2  # 120 BPM
    assert length == 2.0 and len(loop) == bar
    assert np.abs(once[:SR // 10]).max() == 0 and np.abs(loop[:SR // 10]).max() > 0.05  # the tail wrapped
    assert np.abs(loop[SR // 2 + SR // 50:SR]).max() < 1e-3  # and choked on beat 2, as on the next pass
    # bars 2-3 of the pattern played on; bars of one render differ by up to 1.5e-4 at their onsets,
    # a tail not wrapped or not choked would be 0.03-0.06 off
    assert np.abs(np.concatenate([loop, loop]) - on[bar:3 * bar]).max() < 1e-3
    seam, near = seam_jump(loop)
    assert seam < 2 * near
    seam, near = seam_jump(once[:bar])  # the bar cut from a plain render clicks at the seam
    assert seam > 10 * near


def test_stems_sum_to_the_mix_and_hold_each_tracks_hits(tmp_path):
    spec = "kick:x---x---x---x---,snare:----x-------x---,closed hat:xx-xxx-xxx-xxx-x,open hat:--x---x-"
    r = cli("render", spec, "-o", str(tmp_path / "beat.wav"), "--bars", "1", "--stems")
    assert r.returncode == 0, r.stderr
    s = pattern_session(spec)
    render(s, tmp_path / "plain.wav", bars=1)
    names = ["beat-kick.wav", "beat-snare.wav", "beat-closed-hat.wav", "beat-open-hat.wav", "beat-clap.wav"]
    assert [p.name for p in stem_paths(s, tmp_path / "beat.wav")] == names
    assert all(n in r.stdout for n in names)
    mix, plain = (sf.read(str(tmp_path / n))[0] for n in ("beat.wav", "plain.wav"))
    stems = [sf.read(str(tmp_path / n))[0] for n in names]
    assert np.array_equal(mix, plain)  # --stems leaves the mix as it was
    assert all(x.shape == mix.shape for x in stems)
    assert np.abs(sum(stems) - mix).max() < 1e-6 < np.abs(mix).max() / 10  # noise included: same voices
    kick = analysis.onsets_in(stems[0][:, 0], SR, threshold=0.05, min_gap=0.1)  # a threshold crossing:
    assert len(kick) == 4 and np.abs(np.diff(kick) - SR // 2).max() <= 1  # ±1 sample on a ringing tail
    assert np.abs(stems[-1]).max() == 0  # the clap plays nothing


def test_loop_stems_are_the_loop_split_by_track(tmp_path):
    s = ringing_session()
    render(s, tmp_path / "l.flac", bars=1, loop=True, stems=True)
    mix = sf.read(str(tmp_path / "l.flac"))[0]
    kick, snare, *rest = (sf.read(str(p))[0] for p in stem_paths(s, tmp_path / "l.flac"))
    assert len(mix) == SR * 2 and all(x.shape == mix.shape for x in (kick, snare, *rest))
    assert sf.info(str(tmp_path / "l-kick.flac")).subtype == "PCM_24"
    assert np.abs(kick + snare + sum(rest) - mix).max() <= 3 * 2.0**-23  # one 24-bit step each
    assert np.abs(kick[:SR // 10]).max() > 0.05 and np.abs(snare[:SR // 10]).max() < 1e-6  # the kick's tail


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.dictionaries(st.sampled_from([p.name for p in params.PARAMS]), st.floats(-1e6, 1e6, width=32)),
       st.integers(1000, 2**31 - 1), st.integers(0, 14))
def test_a_routed_voice_is_the_same_message_with_out_added(patch, node, bus):
    message = synthdefs.voice_message(patch, node)
    address, args = osc.parse(message)
    assert routed(message, bus) == osc.message(address, *args, "out", bus)
    release = osc.message("/n_set", node, "gate", 0.0)
    assert routed(release, bus) == release


def test_the_same_session_and_seed_render_the_same_bytes(tmp_path):
    spec = "snare:x-x-,closed hat:xxxx,open hat:--x-"
    for n in "ab":
        r = cli("render", spec, "-o", str(tmp_path / f"{n}.wav"), "--bars", "1", "--seed", "3")
        assert r.returncode == 0, r.stderr
        render(pattern_session(spec), tmp_path / f"{n}-loop.wav", bars=1, seed=3, loop=True, stems=True)
    written = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("a"))
    assert len(written) == 2 + len(pattern_session(spec).tracks)
    for name in written:
        a, b = tmp_path / name, tmp_path / ("b" + name[1:])
        assert subprocess.run(["cmp", str(a), str(b)]).returncode == 0, name
        assert peak_time(a) == 0  # the PEAK chunk's time stamp, zeroed: the bytes cannot differ by the clock


def peak_time(path: Path) -> int:
    data = path.read_bytes()
    at = data.index(b"PEAK")
    return int.from_bytes(data[at + 12:at + 16], "little")


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


def test_huge_render_without_force_says_its_size_and_writes_nothing(tmp_path):
    out = tmp_path / "huge.wav"
    r = cli("render", "kick:x---", "-o", str(out), "--bars", "1000000")  # 2,000,000 s at 120 BPM
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "768.0 GB" in r.stderr and "--force" in r.stderr and "nothing written" in r.stderr
    r = cli("render", "kick:x---", "-o", str(out), "--bars", str(10**400))
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "--bars must be from 1 to 1,000,000" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_planned_size_bounds_the_render_and_the_limit_is_2_gb(tmp_path):
    s = pattern_session("kick:x---,open hat:--x-")
    seconds, planned, nbytes = render_planned(s, tmp_path / "a.wav", 3)
    duration = render(s, tmp_path / "a.wav", bars=3)
    info = sf.info(str(tmp_path / "a.wav"))
    assert duration <= seconds and planned.header == "WAV" and nbytes == planned.nbytes >= info.frames * 8
    seconds, planned, nbytes = render_planned(s, tmp_path / "a.wav", 3, loop=True, stems=True)
    assert seconds == 6.0 and nbytes == planned.nbytes * (1 + len(s.tracks))
    at_limit = (LIMIT_BYTES // 8 - nrt.BLOCK) / SR  # seconds of stereo float that just fit in 2 GB
    assert nrt.output("x.wav", at_limit).nbytes <= LIMIT_BYTES < nrt.output("x.wav", at_limit + 0.01).nbytes


@settings(max_examples=8, deadline=None, derandomize=True)
@given(st.floats(0.001, 0.3))
def test_output_size_is_the_rendered_audio_exactly(tmp_path_factory, duration):
    path = nrt.render([], tmp_path_factory.mktemp("o") / "o.wav", duration)
    assert nrt.output(path, duration).nbytes == sf.info(str(path)).frames * 2 * 4


def test_format_follows_the_suffix_and_wav_becomes_rf64_past_4_gb():
    frames = nrt.WAV_MAX_DATA // 8 // nrt.BLOCK * nrt.BLOCK  # the longest stereo float WAV
    wav_max = (frames - nrt.BLOCK / 2) / SR  # a duration that renders to that many frames
    assert nrt.output("a.wav", wav_max) == nrt.Output("WAV", "float", frames * 8)
    assert nrt.output("a.WAV", wav_max + nrt.BLOCK / SR).header == "RF64"
    assert nrt.output("a.wav", 24 * 3600.0).header == "RF64"
    assert nrt.output("a.aif", 24 * 3600.0).header == "RF64"  # any other name: WAV, as before
    assert nrt.output("a.w64", 1.0).header == "W64" and nrt.output("a.rf64", 1.0).header == "RF64"
    assert nrt.output("a.flac", 1.0) == nrt.Output("FLAC", "int24", 48064 * 2 * 3)


@pytest.mark.parametrize("suffix", [".w64", ".rf64", ".flac"])
def test_w64_rf64_and_flac_hold_the_same_audio_as_wav(tmp_path, suffix):
    s = pattern_session("snare:x-x-,closed hat:xxxx")
    render(s, tmp_path / "a.wav", bars=1)
    r = cli("render", "snare:x-x-,closed hat:xxxx", "-o", str(tmp_path / f"a{suffix}"), "--bars", "1")
    assert r.returncode == 0 and nrt.SUFFIX_FORMATS[suffix][0] in r.stdout, r.stderr
    wav, other = (sf.read(str(tmp_path / f"a{x}"), dtype="float64")[0] for x in (".wav", suffix))
    assert sf.info(str(tmp_path / f"a{suffix}")).format == nrt.SUFFIX_FORMATS[suffix][0]
    if suffix == ".flac":  # 24-bit: within one step, where the float audio is in range
        inside = np.abs(wav) < 1.0
        assert inside.mean() > 0.99 and np.abs(wav - other)[inside].max() <= 2.0**-23
    else:
        assert np.array_equal(wav, other)


def test_progress_reports_score_time_up_to_the_end(tmp_path):
    seen = []
    duration = render(pattern_session("kick:x-x-"), tmp_path / "p.wav", bars=2,
                      progress=lambda done, total: seen.append((done, total)))
    times = [d for d, _ in seen]
    assert times == sorted(times) and len(times) >= 4 and times[-1] == pytest.approx(duration)
    assert {t for _, t in seen} == {duration}


def test_a_failed_render_leaves_no_file_and_keeps_the_old_one(tmp_path):
    out = tmp_path / "keep.wav"
    out.write_bytes(b"the take from yesterday")

    def interrupt(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nrt.render([(0.5, [])], out, 1.0, progress=interrupt)
    assert out.read_bytes() == b"the take from yesterday" and list(tmp_path.iterdir()) == [out]


@pytest.mark.parametrize("options", [(), ("--loop", "--stems")])
def test_a_terminated_render_leaves_no_file_and_no_scsynth(tmp_path, options):
    out = tmp_path / "long.wav"
    dense = ",".join(f"{t}:xxxxxxxxxxxxxxxx" for t in ("kick", "snare", "closed hat"))
    cmd = [sys.executable, "-m", "gridtonic", "render", dense, "-o", str(out), "--bars", "400",
           "--tempo", "300", *options]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = None
    while partial is None and p.poll() is None:  # a loop's first run writes into a hidden scratch folder
        partial = next(tmp_path.glob("**/.*.partial"), None)
    assert partial is not None, "the render ended before it wrote anything"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=30) == 130
    assert list(tmp_path.iterdir()) == []
    assert not [c for c in Path("/proc").glob("[0-9]*/cmdline") if str(partial).encode() in _read(c)]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # the process ended meanwhile
        return b""
