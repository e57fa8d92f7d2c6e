"""Onset measurement in rendered or recorded audio, for timing tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def onsets(path: Path, threshold: float = 0.01, min_gap: float = 0.03) -> np.ndarray:
    """Sample indices where the signal first rises above ``threshold`` after ``min_gap`` s below it.

    Hits of one voice are identical waveforms placed sample-exactly by OffsetOut, so a fixed
    threshold crosses each at the same offset: differences between onsets are exact in samples.
    """
    x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    loud = np.abs(x).max(axis=1) > threshold
    idx = np.flatnonzero(loud)
    if idx.size == 0:
        return idx
    gap = int(min_gap * sr)
    starts = [idx[0]] + [b for a, b in zip(idx[:-1], idx[1:], strict=True) if b - a > gap]
    return np.asarray(starts)
