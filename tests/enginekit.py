"""Helpers shared by the engine tests: single-hit renders (the compiled defs: conftest.engine_defs)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import soundfile as sf

from gridtonic import nrt

SR = 48000


def hit(defs: Path, tmp: Path, patch: Mapping[str, float], duration: float = 1.0, **kw) -> np.ndarray:
    """A single hit rendered by scsynth -N, as a (samples, 2) array."""
    path = tmp / f"hit-{len(list(tmp.glob('hit-*.wav')))}.wav"
    nrt.render_hit(patch, path, duration, defs_dir=defs, **kw)
    x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    assert sr == SR
    return x
