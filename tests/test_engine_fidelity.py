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

import json

import pytest
from enginekit import REFS, differences

from gridtonic.sound import nrt


def _voices() -> list[tuple[str, dict]]:
    return [
        (f"{pj.parent.name}/{e['file']}", e)
        for pj in sorted(REFS.glob("*/params.json"))
        for e in json.loads(pj.read_text())
    ]


VOICES = _voices()


@pytest.mark.nrt
@pytest.mark.skipif(not VOICES, reason=f"no reference renders in {REFS}")
@pytest.mark.parametrize("key,entry", VOICES, ids=[k for k, _ in VOICES])
def test_voice_matches_the_original(key, entry, engine_defs, tmp_path):
    out = nrt.render_hit(entry["params"], tmp_path / "hit.wav", entry["duration_s"], defs_dir=engine_defs)
    report = differences(key, out)
    if report:
        pytest.fail(f"{key} differs from the original:\n{report}")
