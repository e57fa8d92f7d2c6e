"""The engine's behaviour, heard through real scsynth -N renders: timing, velocity, pan, gate,
voice lifetime, and a measurable effect of every parameter in the right direction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
from enginekit import SR, hit

from gridtonic.core.params import defaults
from gridtonic.io import osc
from gridtonic.sound import nrt, synthdefs

pytestmark = pytest.mark.nrt

# A clean tone: sine, no pitch sweep, no distortion, flat EQ (mix 100 leaves ~1 % noise).
TONE = defaults() | {"oscFreq": 200.0, "oscDcy": 400.0, "mix": 100.0, "nEnvDcy": 100.0}
# Noise only: mix 0 removes the tone (its def has no oscillator at all).
NOISE = defaults() | {"mix": 0.0, "nEnvDcy": 200.0, "nFilFrq": 3000.0, "nFilMod": 1.0, "nFilQ": 1.0}


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x**2) + 1e-30))


def zero_crossing_hz(x: np.ndarray) -> float:
    m = x.mean(axis=1)
    return float(np.count_nonzero(np.diff(np.signbit(m))) / 2 / (len(m) / SR))


def centroid(x: np.ndarray) -> float:
    p = np.abs(np.fft.rfft(x.mean(axis=1))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    return float((p * f).sum() / p.sum())


def env_db(x: np.ndarray, frame: int = 240) -> np.ndarray:
    n = len(x) // frame
    return 10 * np.log10((x[: n * frame] ** 2).reshape(n, -1).mean(axis=1) + 1e-30)


def peak_time(x: np.ndarray) -> float:
    return float(np.argmax(env_db(x)) * 240 / SR)


def length_to(x: np.ndarray, below: float = 40.0) -> float:
    """Seconds until the envelope last falls ``below`` dB under its peak."""
    e = env_db(x)
    return float(np.flatnonzero(e > e.max() - below)[-1] * 240 / SR)


def band_fraction(x: np.ndarray, lo: float, hi: float) -> float:
    p = np.abs(np.fft.rfft(x.mean(axis=1))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    return float(p[(f >= lo) & (f < hi)].sum() / p.sum())


def lr_correlation(x: np.ndarray) -> float:
    return float(np.corrcoef(x[:, 0], x[:, 1])[0, 1])


def band(lo: float, hi: float):
    return lambda x: band_fraction(x, lo, hi)


def early(feature, seconds: float = 0.03):
    return lambda x: feature(x[: int(seconds * SR)])


def window(feature, start: float, stop: float):
    return lambda x: feature(x[int(start * SR) : int(stop * SR)])


# (parameter, base patch, low value, high value, feature, expected sign of feature(high) - feature(low))
EFFECTS = [
    ("oscFreq", TONE, 100.0, 400.0, zero_crossing_hz, +1),
    ("oscAtk", TONE, 0.0, 150.0, peak_time, +1),
    ("oscDcy", TONE, 100.0, 600.0, length_to, +1),
    ("oscWave", TONE, 0.0, 2.0, centroid, +1),
    ("modMode", TONE | {"modAmt": 24.0, "modRate": 20.0}, 0.0, 1.0, early(zero_crossing_hz, 0.02), -1),
    ("modRate", TONE | {"modAmt": 24.0}, 5.0, 100.0, window(zero_crossing_hz, 0.02, 0.06), -1),
    ("modAmt", TONE | {"modRate": 10.0}, 0.0, 24.0, early(zero_crossing_hz), +1),
    ("nFilMod", NOISE | {"nFilFrq": 2000.0}, 0.0, 2.0, centroid, +1),
    ("nFilFrq", NOISE, 500.0, 8000.0, centroid, +1),
    ("nFilQ", NOISE, 1.0, 1000.0, band(2800, 3200), +1),
    ("nStereo", NOISE, 0.0, 1.0, lr_correlation, -1),
    ("nEnvMod", NOISE | {"nEnvAtk": 40.0}, 0.0, 2.0, early(db, 0.005), +1),  # clap: a burst at once
    ("nEnvAtk", NOISE, 0.0, 100.0, peak_time, +1),
    ("nEnvDcy", NOISE, 50.0, 400.0, length_to, +1),
    ("mix", TONE | {"nFilFrq": 5000.0, "nFilMod": 2.0}, 55.0, 100.0, band(150, 250), +1),
    ("distAmt", TONE, 0.0, 100.0, centroid, +1),
    ("eQFreq", NOISE | {"eQGain": 30.0, "nFilMod": 0.0, "nFilFrq": 20000.0}, 300.0, 8000.0, centroid, +1),
    ("eQGain", NOISE | {"eQFreq": 500.0}, -30.0, 30.0, band(400, 630), +1),
    ("level", TONE, -12.0, 0.0, db, +1),
    ("oscVel", TONE, 0.0, 150.0, db, -1),
    ("nVel", NOISE, 0.0, 150.0, db, -1),
    ("modVel", TONE | {"modAmt": 24.0, "modRate": 10.0}, 0.0, 150.0, early(zero_crossing_hz), -1),
]


def test_every_parameter_is_covered():
    assert sorted(e[0] for e in EFFECTS) == sorted(defaults())


@pytest.mark.parametrize("name,base,low,high,feature,sign", EFFECTS, ids=[e[0] for e in EFFECTS])
def test_parameter_has_an_effect_in_the_right_direction(name, base, low, high, feature, sign, engine_defs,
                                                        tmp_path):
    a = feature(hit(engine_defs, tmp_path, base | {name: low}))
    b = feature(hit(engine_defs, tmp_path, base | {name: high}))
    assert np.sign(b - a) == sign, f"{name} {low} -> {high}: feature {a:.4g} -> {b:.4g}"


def test_level_is_an_exact_gain(engine_defs, tmp_path):
    a = hit(engine_defs, tmp_path, NOISE | {"level": -6.0})
    b = hit(engine_defs, tmp_path, NOISE | {"level": 0.0})
    assert db(b) - db(a) == pytest.approx(6.0, abs=0.01)


@pytest.mark.parametrize("sens,velocity,expected_db", [(100, 0.0, -6.02), (100, 0.5, -2.50), (0, 0.0, 0.0),
                                                       (200, 0.5, None)])
def test_velocity_follows_the_sensitivity_law(sens, velocity, expected_db, engine_defs, tmp_path):
    """gain = trim(S) * (1 - S/200 * (1 - vel)); checked on the noise path, which stays linear here."""
    patch = NOISE | {"nVel": float(sens), "level": -20.0}
    full = hit(engine_defs, tmp_path, patch)
    soft = hit(engine_defs, tmp_path, patch, velocity=velocity)
    if expected_db is None:  # S = 200: the original's trim is 0, silent at any velocity
        assert db(full) < -200 and db(soft) < -200
    else:
        assert db(soft) - db(full) == pytest.approx(expected_db, abs=0.15)


def test_velocity_one_is_the_default(engine_defs, tmp_path):
    a = hit(engine_defs, tmp_path, TONE)
    b = hit(engine_defs, tmp_path, TONE, velocity=1.0)
    np.testing.assert_array_equal(a, b)


def test_pan_balances_with_unity_at_the_centre(engine_defs, tmp_path):
    centre = hit(engine_defs, tmp_path, TONE)
    left = hit(engine_defs, tmp_path, TONE, pan=-1.0)
    right = hit(engine_defs, tmp_path, TONE, pan=1.0)
    half = hit(engine_defs, tmp_path, TONE, pan=0.5)
    np.testing.assert_allclose(centre[:, 0], centre[:, 1], atol=1e-7)
    assert db(left[:, 1]) < db(left[:, 0]) - 60 and db(right[:, 0]) < db(right[:, 1]) - 60
    assert db(left[:, 0]) - db(centre[:, 0]) == pytest.approx(3.01, abs=0.05)  # equal power
    assert db(half[:, 1]) - db(half[:, 0]) == pytest.approx(20 * np.log10(np.tan(0.375 * np.pi)), abs=0.05)


def render_events(defs, tmp_path, events, duration: float) -> np.ndarray:
    path = nrt.render(events, tmp_path / "score.wav", duration, defs_dir=defs)
    return sf.read(str(path), dtype="float64", always_2d=True)[0]


@pytest.mark.parametrize("start", [6000, 19500, 48013])
def test_onset_lands_on_the_exact_sample(start, engine_defs, tmp_path):
    note = synthdefs.voice_message(NOISE | {"nFilMod": 2.0}, nrt.HIT_NODE)
    x = render_events(engine_defs, tmp_path, [(start / SR, [note])], 1.5)
    assert np.all(x[:start] == 0.0)
    assert np.abs(x[start : start + 2]).max() > 1e-3


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_full_velocity_sensitivity_is_silent_not_nan_and_the_next_hit_sounds(mode, engine_defs, tmp_path):
    """nVel / oscVel 200 % trim their gain to 0, which made an exponential envelope NaN; a NaN
    voice leaves the master's filters NaN, so every later hit was silent too."""
    quiet = defaults() | {"nVel": 200.0, "oscVel": 200.0, "nEnvMod": float(mode)}
    events = [(0.0, [synthdefs.voice_message(quiet, nrt.HIT_NODE)]),
              (0.5, [synthdefs.voice_message(defaults(), nrt.HIT_NODE + 1)])]
    x = render_events(engine_defs, tmp_path, events, 1.0)
    assert np.isfinite(x).all()
    assert np.abs(x[: SR // 2]).max() < 1e-6 and np.abs(x[SR // 2:]).max() > 0.01


def test_gate_zero_fades_out_in_5_ms_and_frees_the_voice(engine_defs, tmp_path):
    long_tone = TONE | {"oscDcy": 5000.0}
    release = 24000  # samples
    events = [
        (0.0, [synthdefs.voice_message(long_tone, 2000)]),
        (release / SR, [osc.message("/n_set", 2000, "gate", 0.0)]),
        (0.75, [synthdefs.voice_message(TONE, 2000)]),  # same id again: only possible once freed
    ]
    x = render_events(engine_defs, tmp_path, events, 1.0)
    before = np.abs(x[release - 960 : release]).max()
    fade = np.abs(x[release : release + 240])
    after = x[release + 400 : int(0.75 * SR)]
    assert before > 0.05
    assert fade[:48].max() > 0.5 * before  # starts at full level ...
    # ... and is gone ~5 ms later: what is left is the global 20 Hz HPF settling, subsonic and < -40 dB
    assert np.abs(after).max() < 0.01 * before
    assert zero_crossing_hz(after) < 20.0
    assert np.abs(np.diff(x[release - 480 : release + 480, 0])).max() < 2 * np.abs(
        np.diff(x[release - 960 : release - 480, 0])).max()  # no click
    assert np.abs(x[int(0.75 * SR) :]).max() > 0.05  # the node id was free again


def alive_at(defs, tmp_path, patch, t: float) -> bool:
    """Whether a voice of ``patch`` started at 0 still exists at ``t``: re-using a node id fails while
    the node exists, so a second hit (a loud tone) with the same id sounds only once the first is gone."""
    events = [(0.0, [synthdefs.voice_message(patch, 3000)]), (t, [synthdefs.voice_message(TONE, 3000)])]
    x = render_events(defs, tmp_path, events, t + 0.3)
    return not np.abs(x[int(t * SR) + 64 :]).max() > 0.05


def last_above(x: np.ndarray, dbfs: float) -> float:
    """Seconds to the last sample whose magnitude is above ``dbfs``."""
    return float(np.flatnonzero(np.abs(x).max(axis=1) > 10 ** (dbfs / 20))[-1] / SR)


@pytest.mark.parametrize("patch", [TONE, NOISE, TONE | {"oscDcy": 50.0, "nEnvDcy": 300.0, "distAmt": 60.0},
                                   NOISE | {"nEnvAtk": 300.0, "oscAtk": 600.0, "level": -20.0}])
def test_voice_lives_while_it_sounds_and_is_gone_by_duration(patch, engine_defs, tmp_path):
    """A voice frees itself at synthdefs.duration (the original's envelope ends) at the latest, never
    while its output is above -60 dBFS (it may go once under -70 dBFS for 20 ms, after its attacks)."""
    block = 64 / SR
    life = synthdefs.duration(patch)
    alone = render_events(engine_defs, tmp_path, [(0.0, [synthdefs.voice_message(patch, 3000)])], life + 0.1)
    sounding = last_above(alone, -60.0)
    assert alive_at(engine_defs, tmp_path, patch, sounding - 3 * block), f"gone before {sounding:.4f} s"
    assert not alive_at(engine_defs, tmp_path, patch, life + 3 * block), f"alive after {life:.4f} s"


def test_a_voice_under_minus_70_dbfs_frees_itself_before_its_envelopes_end(engine_defs, tmp_path):
    patch = NOISE | {"nEnvDcy": 2000.0}
    life = synthdefs.duration(patch)
    x = render_events(engine_defs, tmp_path, [(0.0, [synthdefs.voice_message(patch, 3000)])], life)
    quiet = last_above(x, -70.0)
    assert quiet < life - 0.7  # the exp envelope's last ~30 dB are under -70 dBFS
    # gone 20 ms after its noise peaks stop crossing -70 dBFS (they may, ~10 dB over its RMS, a while)
    assert not alive_at(engine_defs, tmp_path, patch, quiet + 0.2)
    # but alive while its RMS, a straight line in dB (exp envelope), is still over -75 dBFS (its peaks
    # ~10 dB higher): extrapolated from the 20 ms frames between -30 and -60 dBFS
    frames = x[: len(x) // 960 * 960, 0].reshape(-1, 960)
    rms = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-30)
    fit = np.flatnonzero((rms < -30.0) & (rms > -60.0))
    slope, at0 = np.polyfit(fit * 0.02, rms[fit], 1)
    assert alive_at(engine_defs, tmp_path, patch, (-75.0 - at0) / slope)


def test_def_names_cover_every_mode(engine_defs):
    names = {p.stem for p in engine_defs.glob("*.scsyndef")}
    for m in range(3):
        for w in range(3):
            for mix, dcy in ((100.0, 50.0), (100.0, 500.0), (30.0, 500.0)):
                for rate in (17.0, synthdefs.RAW_RANDOM_RATE):
                    patch = defaults() | {"modMode": m, "oscWave": w, "mix": mix, "oscDcy": dcy,
                                          "nStereo": 1.0, "modRate": rate}
                    assert synthdefs.def_name(patch) in names


def test_broken_source_fails_the_build_loudly(tmp_path):
    for i, text in enumerate(["(\nSynthDef(\\x, { Out.ar(0, SinOsc.ar( }) \n", "[NoSuchUGen.ar]\n",
                              "[1].nonExistingMethod\n"]):
        bad = tmp_path / f"bad{i}.scd"
        bad.write_text(text)
        with pytest.raises(synthdefs.BuildError, match="BUILD FAILED"):
            synthdefs.build(tmp_path / f"out{i}", source=bad)


def test_defs_are_current_only_for_the_sources_they_were_built_from(engine_defs, tmp_path, monkeypatch):
    """``gridtonic run`` builds the defs again when the engine changed since (an update brings a new
    def: the old folder would play without it), not only when there are none."""
    assert synthdefs.current(engine_defs)
    assert not synthdefs.current(tmp_path)  # none built
    changed = tmp_path / "mixer.scd"
    changed.write_text(synthdefs.MIXER.read_text() + "// an update\n")
    monkeypatch.setattr(synthdefs, "MIXER", changed)
    assert not synthdefs.current(engine_defs)


def test_global_lowpass_darkens_everything(engine_defs, tmp_path):
    note = synthdefs.voice_message(NOISE | {"nFilFrq": 8000.0}, nrt.HIT_NODE)
    bright = render_events(engine_defs, tmp_path, [(0.0, [note])], 0.5)
    dark = render_events(engine_defs, tmp_path, [(0.0, [synthdefs.lpf_message(1000.0, 0.5), note])], 0.5)
    assert centroid(dark) < 0.5 * centroid(bright)


def test_render_failures_are_clear(engine_defs, tmp_path):
    with pytest.raises(nrt.RenderError, match="no SynthDefs"):
        nrt.render_hit(TONE, tmp_path / "a.wav", 0.1, defs_dir=tmp_path)
    with pytest.raises(nrt.RenderError, match="scsynth -N failed"):
        nrt.render_hit(TONE, tmp_path / "missing-dir" / "a.wav", 0.1, defs_dir=engine_defs)


def forced(patch: dict, name: str, node: int = nrt.HIT_NODE) -> bytes:
    """The /s_new of ``patch`` played by the def ``name`` instead of the one def_name picks."""
    return osc.message("/s_new", name, node, 0, synthdefs.VOICE_GROUP, *synthdefs.synth_args(patch))


@pytest.mark.parametrize("patch,general", [
    (NOISE | {"nFilQ": 0.7}, "supertonic_04400"),  # special Q sine weight 0: the def without it
    (TONE | {"nFilQ": 0.7, "mix": 100.0}, "supertonic_00300"),
    (TONE | {"mix": 45.0, "nFilQ": 2.0}, "supertonic_00300"),  # tone weight 0 (mix <= 50): no oscillator
])
def test_a_leaner_def_sounds_like_the_general_one(patch, general, engine_defs, tmp_path):
    """def_name drops branches whose weight is exactly 0; the def that computes them (at weight 0) must
    give the same samples, up to float rounding."""
    lean = synthdefs.def_name(patch)
    assert lean != general
    a = render_events(engine_defs, tmp_path, [(0.0, [synthdefs.voice_message(patch, nrt.HIT_NODE)])], 0.5)
    b = render_events(engine_defs, tmp_path, [(0.0, [forced(patch, general)])], 0.5)
    assert np.abs(a).max() > 0.01
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_the_special_q_sine_is_chosen_exactly_when_it_has_a_weight():
    below, above = synthdefs.SINE_Q * 0.999, synthdefs.SINE_Q * 1.001
    assert synthdefs.def_name(NOISE | {"nFilQ": below})[13] == "1"  # BP, no sine
    assert synthdefs.def_name(NOISE | {"nFilQ": above})[13] == "4"  # BP + sine
    q_index = 0.1092 * math.log(synthdefs.SINE_Q) + 0.0343  # the .scd's SelectX index: 0 is no sine
    assert q_index == pytest.approx(0.0, abs=1e-12)


def band_levels(x: np.ndarray) -> np.ndarray:
    """Power in dB of third-octave bands from 100 Hz (left channel)."""
    power, hz = np.abs(np.fft.rfft(x[:, 0])) ** 2, np.fft.rfftfreq(len(x), 1 / SR)
    edges = 100 * 2 ** (np.arange(24) / 3)
    bands = zip(edges[:-1], edges[1:], strict=True)
    return np.array([10 * np.log10(power[(hz >= lo) & (hz < hi)].sum() + 1e-30) for lo, hi in bands])


def test_random_pitch_noise_at_the_sample_rate_drops_its_lag(engine_defs, tmp_path):
    """From RAW_RANDOM_RATE the random mode's noise changes every sample and its Lag keeps under 0.1 % of
    the last value: the def without it (mode digit 3) has the same spectrum (the samples drift apart:
    the frequency noise's tiny change accumulates in the oscillator's phase)."""
    patch = TONE | {"modMode": 2.0, "modRate": synthdefs.RAW_RANDOM_RATE, "modAmt": 20.0, "oscDcy": 90.0}
    name = synthdefs.def_name(patch)
    assert name[11] == str(synthdefs.RAW_RANDOM)
    assert synthdefs.def_name(patch | {"modRate": synthdefs.RAW_RANDOM_RATE * 0.99})[11] == "2"
    raw = render_events(engine_defs, tmp_path, [(0.0, [synthdefs.voice_message(patch, nrt.HIT_NODE)])], 0.3)
    lag = render_events(engine_defs, tmp_path, [(0.0, [forced(patch, name.replace("_3", "_2", 1))])], 0.3)
    a, b = band_levels(raw), band_levels(lag)
    heard = np.maximum(a, b) > max(a.max(), b.max()) - 40
    assert heard.sum() > 10 and np.abs(a - b)[heard].max() < 0.2
