"""Helpers shared by the engine tests: SynthDefs compiled once per session, single-hit renders."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gridtonic import nrt, synthdefs

SR = 48000


@pytest.fixture(scope="session")
def engine_defs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """engine/supertonic.scd compiled by the real sclang into a fresh directory."""
    return synthdefs.build(tmp_path_factory.mktemp("synthdefs"))


def hit(defs: Path, tmp: Path, patch: Mapping[str, float], duration: float = 1.0, **kw) -> np.ndarray:
    """A single hit rendered by scsynth -N, as a (samples, 2) array."""
    path = tmp / f"hit-{len(list(tmp.glob('hit-*.wav')))}.wav"
    nrt.render_hit(patch, path, duration, defs_dir=defs, **kw)
    x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    assert sr == SR
    return x
