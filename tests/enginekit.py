"""Helpers shared by the engine tests: single-hit renders (the compiled defs: conftest.engine_defs) and
the fidelity yardstick against the original's reference renders."""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gridtonic.sound import nrt

SR = 48000
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFS = SHARED / "reference-renders"
GATE_FREE = SHARED / "reference-renders-gate-free"
FIDELITY = SHARED / "eval" / "fidelity.py"
FLOORS = SHARED / "eval" / "fidelity-floors.json"


def hit(defs: Path, tmp: Path, patch: Mapping[str, float], duration: float = 1.0, **kw) -> np.ndarray:
    """A single hit rendered by scsynth -N, as a (samples, 2) array."""
    path = tmp / f"hit-{len(list(tmp.glob('hit-*.wav')))}.wav"
    nrt.render_hit(patch, path, duration, defs_dir=defs, **kw)
    x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    assert sr == SR
    return x


@functools.cache
def _yardstick():
    spec = importlib.util.spec_from_file_location("fidelity", FIDELITY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, json.loads(FLOORS.read_text())


def differences(key: str, out: Path) -> str:
    """How the render ``out`` fails reference voice ``key`` (e.g. "default/01-sc-bd-toxyk.wav"), "" if it
    passes (see test_engine_fidelity for the rule); skips the test when the shared yardstick is absent."""
    if not FIDELITY.exists() or not FLOORS.exists():
        pytest.skip(f"the shared yardstick is absent ({FIDELITY}, {FLOORS})")
    fm, floors = _yardstick()
    info = floors[key]
    judged = []
    if not info["killed_by_gate"]:
        judged.append(("reference", REFS / key, info["floor"]))
    if info["gate_affected"]:
        judged.append(("gate-free reference", GATE_FREE / key, info["floor_gate_free"]))
    report = []
    for label, ref, floor in judged:
        metrics = fm.compare(str(ref), str(out))
        ok, fails, limits = fm.judge(metrics, floor)
        if ok:
            return ""
        report.append(f"{label}: fails {fails}; " + ", ".join(
            f"{k}={metrics[k]:.2f} (limit {limits[k]:.2f})" for k in limits if metrics.get(k) is not None))
    return "\n".join(report)
