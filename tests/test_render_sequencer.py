"""Issue 15's features in offline renders (scsynth -N), to the sample: ratchet onsets, micro-timing,
conditions over 8 bars, per-track lengths realigning after their LCM, and a parameter lock that
changes its own step's spectrum only. The same hits live over JACK: test_realtime."""

import numpy as np
import pytest
import soundfile as sf

from gridtonic import analysis
from gridtonic.core import params
from gridtonic.core.session import Session, Track
from gridtonic.sound import synthdefs
from gridtonic.sound.render import render

pytestmark = pytest.mark.nrt
SR = 48000
SIXTEENTH = SR * 60 // 120 // 4  # 6000 samples at 120 BPM
CLICK = params.clean(analysis.CLICK)


def clicks(*patterns: str, freqs=(1000.0, 3000.0)) -> Session:
    s = Session(tracks=[Track(name=f"t{i}") for i in range(len(patterns))], tempo=120.0)
    for t, p, f in zip(s.tracks, patterns, freqs, strict=False):
        t.patch_a = t.patch_b = dict(CLICK, oscFreq=f)
        t.set_pattern(p)
    return s


def onsets(s: Session, tmp_path, bars: int, min_gap: float = 0.02) -> list[int]:
    path = tmp_path / "r.wav"
    render(s, path, bars=bars)
    found = analysis.onsets(path, threshold=0.05, min_gap=min_gap)
    return [int(x - found[0]) for x in found]  # the first hit is at the render's start


def test_ratchets_and_nudges_land_on_their_samples(tmp_path):
    s = clicks("x---x---x---x---")
    t = s.tracks[0]
    t.length = 16
    t.ratchet[0] = 4  # four hits in the 16th: 1500 samples apart
    t.nudge[4] = 6  # a quarter step late: +1500
    t.nudge[8] = -1  # one 1/384 note early: -250
    t.ratchet[12], t.nudge[12] = 3, 3  # a ratchet nudged moves as a whole: 2000 apart from +750
    want = [0, 1500, 3000, 4500, 4 * SIXTEENTH + 1500, 8 * SIXTEENTH - 250,
            12 * SIXTEENTH + 750, 12 * SIXTEENTH + 2750, 12 * SIXTEENTH + 4750]
    assert onsets(s, tmp_path, 1) == want


def test_conditions_over_8_bars(tmp_path):
    s = clicks("x-------x-------")
    t = s.tracks[0]
    t.length = 16
    t.condition[0], t.condition[8] = "1:2", "3:4"
    bar = 16 * SIXTEENTH
    want = sorted([b * bar for b in (0, 2, 4, 6)] + [b * bar + 8 * SIXTEENTH for b in (2, 6)])
    assert onsets(s, tmp_path, 8) == want


def test_tracks_of_3_and_5_steps_realign_after_15(tmp_path):
    s = clicks("x-x", "x---x", freqs=(1000.0, 1000.0))
    (a, b), path = s.tracks, tmp_path / "poly.wav"
    a.length, b.length, a.pan, b.pan = 3, 5, -1.0, 1.0  # one track per channel
    render(s, path, bars=2)  # 32 steps: the 15-step cycle twice and then some
    x, _ = sf.read(str(path), dtype="float64", always_2d=True)
    got = [np.asarray(analysis.onsets_in(x[:, c], SR, threshold=0.05, min_gap=0.02)) for c in (0, 1)]
    first = got[0][0]
    assert got[1][0] == first  # both start together
    assert list(got[0] - first) == [n * SIXTEENTH for n in range(32) if n % 3 in (0, 2)]
    assert list(got[1] - first) == [n * SIXTEENTH for n in range(32) if n % 5 in (0, 4)]
    both = sorted((int(o - first), c) for c in (0, 1) for o in got[c])
    cycle = 15 * SIXTEENTH
    again = [(o - cycle, c) for o, c in both if cycle <= o < 2 * cycle]
    assert again == [(o, c) for o, c in both if o < cycle]


def test_a_locked_parameter_changes_only_its_steps_spectrum(tmp_path):
    s = clicks("x---" * 4)
    t = s.tracks[0]
    t.length = 16
    t.locks[8] = {"oscFreq": 4000.0}
    path = tmp_path / "lock.wav"
    render(s, path, bars=1)
    x, _ = sf.read(str(path), dtype="float64", always_2d=True)
    mono = x.mean(axis=1)
    starts = analysis.onsets(path, threshold=0.05)
    assert len(starts) == 4
    beat = 4 * SIXTEENTH
    segments = [mono[a: a + beat // 2] for a in starts]

    def peak_hz(seg: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        hz = np.fft.rfftfreq(len(seg), 1 / SR)
        spectrum[hz < 100] = 0  # the click's envelope (DC and its slope), not its pitch
        return float(hz[np.argmax(spectrum)])

    assert [round(peak_hz(g), -2) for g in segments] == [1000.0, 1000.0, 4000.0, 1000.0]
    rms = lambda v: float(np.sqrt(np.mean(v**2)))  # noqa: E731
    for i in (1, 3):  # the other steps are the first one's waveform (the master lowpass's state aside)
        assert rms(segments[i] - segments[0]) < 0.01 * rms(segments[0])
    assert rms(segments[2] - segments[0]) > 0.5 * rms(segments[0])


def test_a_lock_on_eq_gain_changes_only_its_steps_voice(tmp_path):
    """8ths of a 600 ms tone: from the third on its voices share their track's EQ, the locked step
    plays its own while they ring. The render with the lock is the one without it except while the
    locked voice sounds, where it is +15 dB at the tone (BPeakEQ's gain is eQGain / 2)."""
    s = clicks("x-x-" * 4)
    t = s.tracks[0]
    t.patch_a = t.patch_b = dict(CLICK, oscDcy=600.0)
    t.length = 16

    def mono(name: str) -> np.ndarray:
        render(s, tmp_path / name, bars=1, limit=False)
        return sf.read(str(tmp_path / name), dtype="float64", always_2d=True)[0].mean(axis=1)

    plain = mono("plain.wav")
    t.locks[8] = {"eQGain": 30.0}
    locked = mono("locked.wav")
    at, peak = 8 * SIXTEENTH, np.abs(plain).max()
    end = at + int(synthdefs.duration(t.patch_a) * SR) + 2 * 64  # the locked voice has ended
    assert np.abs(locked[:at] - plain[:at]).max() < 1e-6 * peak
    assert np.abs(locked[end:] - plain[end:]).max() < 1e-6 * peak
    spectrum = lambda v: float(np.abs(np.fft.rfft(v[at: at + 2 * SIXTEENTH])).max())  # noqa: E731
    gain = 20 * np.log10(spectrum(locked) / spectrum(plain))
    print(f"\nlocked step: {gain:+.2f} dB at its peak (BPeakEQ +15 dB at 1000 Hz, the tone at 1005 Hz)")
    assert 14.5 < gain < 15.5
