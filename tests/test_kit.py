"""The default kit's balance, measured on scsynth -N renders of each voice (the compiled engine)."""

import numpy as np
import pytest
from enginekit import SR, hit

from gridtonic.core import kit

# dB under the kick by the mean of the peak and the loudest 10 ms RMS: what a drum mix usually has
TARGETS = {"snare": 5.0, "clap": 6.0, "closed hat": 10.0, "open hat": 10.0}
TOLERANCE = 1.5  # dB: the level parameter's half step as set (whole dB) and noise seeds' spread


def loudness(x: np.ndarray) -> tuple[float, float]:
    """(peak, loudest 10 ms RMS) in dBFS of a stereo render."""
    window = SR // 100
    power = np.convolve((x ** 2).mean(axis=1), np.ones(window) / window, "valid")
    return 20 * np.log10(np.abs(x).max()), 10 * np.log10(power.max())


@pytest.fixture(scope="module")
def measured(engine_defs, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kit")
    return {name: loudness(hit(engine_defs, tmp, patch, 1.5)) for name, patch in kit.default_kit()}


def test_every_default_voice_sits_where_the_kit_means_it_under_the_kick(measured):
    """The default kit's hats peaked 27-29 dB under the kick, the clap 19: inaudible beside it."""
    kick_peak, kick_rms = measured["kick"]
    gaps = {name: ((kick_peak - peak) + (kick_rms - rms)) / 2 for name, (peak, rms) in measured.items()
            if name != "kick"}
    assert gaps.keys() == TARGETS.keys()
    assert all(abs(gaps[n] - TARGETS[n]) <= TOLERANCE for n in TARGETS), gaps
    assert all(kick_peak - peak <= 10 for peak, _ in measured.values()), measured  # by peak alone too


def test_the_whole_kit_at_once_cannot_clip(measured):
    assert sum(10 ** (peak / 20) for peak, _ in measured.values()) < 1.0, measured
