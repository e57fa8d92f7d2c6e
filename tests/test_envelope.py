"""core/envelope against the engine: each picture's shape matches the envelope measured on a real
scsynth -N render of the same patch (RMS in 2 ms frames, both normalised to their peak), and the
pitch sweep matches the render's zero-crossing frequency."""

from __future__ import annotations

import math

import numpy as np
import pytest
from enginekit import SR, hit

from gridtonic.core import envelope
from gridtonic.core.params import defaults

FRAME = 240  # 5 ms
TONE_BOUND = 0.02  # RMS difference of the shapes (drawn peak = 1, render scaled to fit); measured <= 0.005
NOISE_BOUND = 0.08  # filtered noise's own RMS wanders frame to frame; measured 0.008-0.054 over 3 seeds

TONES = [
    defaults() | {"oscFreq": 300.0, "oscAtk": 30.0, "oscDcy": 250.0, "mix": 100.0},
    defaults() | {"oscFreq": 300.0, "oscAtk": 0.0, "oscDcy": 600.0, "mix": 100.0, "distAmt": 15.0},
    defaults() | {"oscFreq": 500.0, "oscAtk": 80.0, "oscDcy": 120.0, "mix": 100.0, "oscWave": 1.0},
]
NOISES = [
    defaults() | {"mix": 0.0, "nEnvAtk": 20.0, "nEnvDcy": 150.0, "nFilFrq": 4000.0, "nFilMod": 2.0},
    defaults() | {"mix": 0.0, "nEnvMod": 1.0, "nEnvAtk": 10.0, "nEnvDcy": 200.0, "nFilFrq": 3000.0,
                  "nFilMod": 1.0, "nFilQ": 1.0},
    defaults() | {"mix": 0.0, "nEnvMod": 2.0, "nEnvAtk": 40.0, "nEnvDcy": 120.0, "nFilFrq": 2000.0,
                  "nFilMod": 1.0, "nFilQ": 2.0},
]


def frame_rms(x: np.ndarray, frames: int) -> np.ndarray:
    return np.sqrt((x[: frames * FRAME] ** 2).reshape(frames, -1).mean(axis=1))


def shape_error(patch, which: str, engine_defs, tmp_path, seconds: float = 0.6) -> float:
    """RMS difference between the picture's envelope (RMS per frame, peak 1) and the render's
    (RMS per frame, scaled by least squares: the picture is a shape, not a level)."""
    frames = int(seconds * SR) // FRAME
    got = frame_rms(hit(engine_defs, tmp_path, patch, seconds + 0.05).mean(axis=1), frames)
    pic = envelope.picture(patch, points=frames * FRAME // 6, duration=frames * FRAME / SR)
    drawn = frame_rms(np.asarray(getattr(pic, which)), frames)
    drawn /= drawn.max()
    got *= (got @ drawn) / (got @ got)
    return float(np.sqrt(np.mean((got - drawn) ** 2)))


@pytest.mark.nrt
@pytest.mark.parametrize("patch", TONES)
def test_the_tone_envelope_is_the_renders(patch, engine_defs, tmp_path):
    assert shape_error(patch, "tone", engine_defs, tmp_path) < TONE_BOUND


@pytest.mark.nrt
@pytest.mark.parametrize("patch", NOISES)
def test_the_noise_envelope_is_the_renders(patch, engine_defs, tmp_path):
    assert shape_error(patch, "noise", engine_defs, tmp_path, 0.4) < NOISE_BOUND


def frequency(w: np.ndarray) -> float:
    """Hz of ``w`` from its rising zero crossings, each placed between samples by interpolation."""
    i = np.flatnonzero((w[:-1] < 0) & (w[1:] >= 0))
    t = i + w[i] / (w[i] - w[i + 1])
    return float((len(t) - 1) / (t[-1] - t[0]) * SR)


@pytest.mark.nrt
def test_the_pitch_sweep_is_the_renders(engine_defs, tmp_path):
    """A decaying sweep from 4 octaves up and a sine vibrato: the frequency in each 10 ms window of
    the render follows the drawn pitch within 1 %."""
    for mod in ({"modMode": 0.0, "modAmt": 48.0, "modRate": 2.0},
                {"modMode": 1.0, "modAmt": 4.0, "modRate": 3.0}):
        patch = defaults() | {"oscFreq": 400.0, "oscDcy": 800.0, "mix": 100.0} | mod
        x = hit(engine_defs, tmp_path, patch, 0.5).mean(axis=1)
        pic = envelope.picture(patch, points=5001, duration=0.5)
        for start in (0.01, 0.05, 0.1, 0.2, 0.3, 0.4):
            hz = frequency(x[int(start * SR): int((start + 0.01) * SR)])
            want = float(np.mean(np.interp(np.linspace(start, start + 0.01, 50), pic.times, pic.pitch)))
            assert abs(hz / want - 1) < 0.01, (mod, start, hz, want)


def test_the_shapes_follow_the_engines_formulas():
    p = defaults() | {"oscAtk": 10.0, "oscDcy": 100.0, "nEnvAtk": 0.0, "nEnvDcy": 50.0, "mix": 75.0}
    assert envelope.tone_envelope(p, 0.0) == pytest.approx(0.0001)
    assert envelope.tone_envelope(p, 0.010) == pytest.approx(1.0)
    assert envelope.tone_envelope(p, 0.010 + 0.1 * 0.05) == pytest.approx(0.9)  # decayer at dist 0
    assert envelope.tone_envelope(p, 0.005) == pytest.approx(0.0001 ** 0.5)  # exponential: the midpoint
    assert envelope.noise_envelope(p, 0.07) == pytest.approx(0.0001)  # nEnvDcy x 1.4 = 70 ms
    assert envelope.length(p) == pytest.approx(0.010 + 0.1 + 0.1 * 0.05)
    assert envelope.decayer(100) == pytest.approx(0.3)
    assert envelope.mix_weights(50)[0] == 0 and envelope.mix_weights(50)[1] == pytest.approx(2)
    tone, noise = envelope.mix_weights(100)
    assert tone == pytest.approx(1, abs=1e-4) and noise < 0.02
    hz, depth = envelope.pitch_function(p | {"modAmt": 24.0, "modRate": 5.0})
    assert depth == 12 and hz(0) == pytest.approx(4 * (54 + 5)) and hz(10) == pytest.approx(59)  # Decay: 2x
    pic = envelope.picture(p | {"modMode": 2.0, "modAmt": 24.0, "oscDcy": 90.0})  # random: an octave each way
    assert pic.random_pitch and pic.pitch_range == pytest.approx((59 / 2, 59 * 2))
    assert envelope.picture(p | {"modMode": 2.0, "oscDcy": 100.0}).pitch == ()  # the noise oscillator
    assert envelope.picture(p | {"mix": 40.0}).pitch == ()  # no tone, no pitch
    assert max(envelope.picture(p | {"mix": 40.0}).tone) == 0


def test_any_patch_draws_finite_values():
    """Edges and junk (clamped like any patch): every value finite, amplitudes 0-1."""
    for patch in ({"oscAtk": 0, "oscDcy": 0, "nEnvAtk": 0, "nEnvDcy": 0}, {"oscFreq": math.inf},
                  {"modRate": 1e300, "modAmt": -1e300, "nEnvMod": 2, "nEnvAtk": 10000},
                  {"mix": math.nan, "oscDcy": 10000, "distAmt": 100}):
        pic = envelope.picture(patch, points=300)
        assert all(math.isfinite(v) for v in (*pic.tone, *pic.noise, *pic.pitch, pic.length))
        assert all(0 <= v <= 1.0 + 1e-9 for v in (*pic.tone, *pic.noise))
