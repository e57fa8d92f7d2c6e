"""The converted .scd: the right def per drum, and the real sclang (headless) rendering it offline to the
same audio as gridtonic's own NRT path, seeded."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
from enginekit import SHARED

from gridtonic import nrt, presets, scconvert, synthdefs
from gridtonic.mtpreset import parse

SEEDS = SHARED / "seed-presets"
needs_seeds = pytest.mark.skipif(not (SEEDS / "default.mtpreset").exists(), reason=f"no seeds in {SEEDS}")
SCLANG_TIMEOUT_S = 120

DRIVER = """\
AppClock.sched(%(limit)d, { "DRIVER TIMEOUT".postln; 1.exit });
~supertonicNoBoot = true;
thisProcess.argv[0].load;
if(~renderNRT.isNil) { "CONVERTED FILE DID NOT LOAD".postln; 1.exit };
~renderNRT.(thisProcess.argv[1], %(hits)s, %(duration)r, %(seed)d, { "RENDER DONE".postln; 0.exit });
"""


@needs_seeds
def test_each_drum_gets_its_def_and_saw_stays_saw():
    preset = presets.read(SEEDS / "default.mtpreset")
    text = scconvert.scd(preset, "file")
    assert "// track 4: drum 7, LV HH HT" in text and "// track 5: drum 4, VT-808 CP" in text
    for d in preset.drums:
        assert f"def: \\{synthdefs.def_name(d.patch)}," in text
    assert text.count("(name:") == 8
    saw = parse('MicrotonicDrumPatchV3: {\n OscWave: Saw\n ModMode: Sine\n Mix: 90 / 10\n}', "saw.mtdrum")
    assert "def: \\supertonic_12000," in scconvert.scd(saw)  # mtpreset2sc.lua made this a sine


@pytest.mark.nrt
@needs_seeds
@pytest.mark.skipif(not shutil.which("sclang"), reason="sclang not installed")
@pytest.mark.parametrize("name", ["default.mtpreset", "microtonic.preset"])
def test_converted_file_renders_what_gridtonic_renders(name, engine_defs, tmp_path):
    preset = presets.read(SEEDS / name)
    drums = presets.assignment(preset, 8)
    hits = [(i * 0.25, i + 1, 1.0 - 0.08 * i) for i in range(8)]  # every drum, overlapping, velocities
    duration, seed = 2.5, 7

    scd = tmp_path / "kit.scd"
    scd.write_text(scconvert.scd(preset))
    driver = tmp_path / "driver.scd"
    sc_hits = "[" + ", ".join(f"[{t!r}, {i}, {v!r}]" for t, i, v in hits) + "]"
    driver.write_text(DRIVER % {"limit": SCLANG_TIMEOUT_S - 10, "hits": sc_hits, "duration": duration,
                                "seed": seed})
    sc_wav = tmp_path / "sc.wav"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QTWEBENGINE_DISABLE_SANDBOX="1")
    r = subprocess.run(["timeout", str(SCLANG_TIMEOUT_S), "sclang", str(driver), str(scd), str(sc_wav)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert "RENDER DONE" in r.stdout and r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]

    events = [(t, [synthdefs.voice_message(drums[i - 1].patch, nrt.HIT_NODE + n, v, drums[i - 1].pan)])
              for n, (t, i, v) in enumerate(hits)]
    py_wav = nrt.render(events, tmp_path / "py.wav", duration, seed=seed, defs_dir=engine_defs)

    sc, sr_sc = sf.read(str(sc_wav), dtype="float64", always_2d=True)
    py, sr_py = sf.read(str(py_wav), dtype="float64", always_2d=True)
    assert sr_sc == sr_py == 48000 and sc.shape == py.shape
    assert np.abs(py).max() > 0.05
    assert np.abs(sc - py).max() <= 1e-6  # in practice bit-identical
