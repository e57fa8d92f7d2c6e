"""Every reference voice rendered by gridtonic's engine against the original engine's render.

Yardstick: ../shared/eval/fidelity.py (imported by path, never copied). A voice passes when every
metric is within max(2 x its seed-to-seed floor, minimum) with the minimums logmel 2.0 dB,
envelope 1.5 dB, |loudness| 1.0 dB, centroid 1.0 semitone, pitch 0.5 semitone (pitch: minimum
only), floors from ../shared/eval/fidelity-floors.json. The original's one-shot silence gate is not
copied, so voices it affected are judged as ../shared/eval/README.md says: killed voices
(microtonic/04, /06) against ../shared/reference-renders-gate-free with the gate-free floors; cut hats
against either the normal or the gate-free render.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from gridtonic import nrt

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFS = SHARED / "reference-renders"
GATE_FREE = SHARED / "reference-renders-gate-free"
FIDELITY = SHARED / "eval" / "fidelity.py"
FLOORS = SHARED / "eval" / "fidelity-floors.json"


def _voices() -> list[tuple[str, dict]]:
    return [
        (f"{pj.parent.name}/{e['file']}", e)
        for pj in sorted(REFS.glob("*/params.json"))
        for e in json.loads(pj.read_text())
    ]


@pytest.fixture(scope="module")
def fidelity():
    if not FIDELITY.exists() or not FLOORS.exists():
        pytest.skip(f"the shared yardstick is absent ({FIDELITY}, {FLOORS})")
    spec = importlib.util.spec_from_file_location("fidelity", FIDELITY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, json.loads(FLOORS.read_text())


VOICES = _voices()


@pytest.mark.nrt
@pytest.mark.skipif(not VOICES, reason=f"no reference renders in {REFS}")
@pytest.mark.parametrize("key,entry", VOICES, ids=[k for k, _ in VOICES])
def test_voice_matches_the_original(key, entry, fidelity, engine_defs, tmp_path):
    fm, floors = fidelity
    out = nrt.render_hit(entry["params"], tmp_path / "hit.wav", entry["duration_s"], defs_dir=engine_defs)
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
            return
        report.append(f"{label}: fails {fails}; " + ", ".join(
            f"{k}={metrics[k]:.2f} (limit {limits[k]:.2f})" for k in limits if metrics.get(k) is not None))
    pytest.fail(f"{key} differs from the original:\n" + "\n".join(report))
