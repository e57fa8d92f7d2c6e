"""The converted .scd: the right def per drum, the real sclang (headless) rendering it offline to the
same audio as gridtonic's own NRT path, seeded, and playing it live on a running scsynth."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
import trio
from enginekit import SHARED

from gridtonic.core.sequencer import Hit
from gridtonic.core.session import default_session
from gridtonic.grid import udp
from gridtonic.presets import kits, scconvert
from gridtonic.presets.mtpreset import parse
from gridtonic.sound import nrt, synthdefs
from gridtonic.sound.engine import Voices
from gridtonic.sound.scsynth import Scsynth

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
LIVE_DRIVER = """\
AppClock.sched(%(limit)d, { "DRIVER TIMEOUT".postln; 1.exit });
~supertonicNoBoot = true;
thisProcess.argv[0].load;
Server.default = s = Server.remote(\\gridtonic, NetAddr("127.0.0.1", %(port)d));
fork {
	~setupMsgs.do { |m| s.sendMsg(*m) };
	s.sync;
	~hit.(1); ~hit.(2, 0.5); ~hit.(3);
	s.sync;
	"HITS SENT".postln;
	0.exit;
};
"""


@needs_seeds
def test_each_drum_gets_its_def_and_saw_stays_saw():
    preset = kits.read(SEEDS / "default.mtpreset")
    text = scconvert.scd(preset, "file")
    assert "// track 4: drum 7, LV HH HT" in text and "// track 5: drum 4, VT-808 CP" in text
    for d in preset.drums:
        assert f"def: \\{synthdefs.def_name(d.patch)}," in text
    assert text.count("(name:") == 8
    saw = parse('MicrotonicDrumPatchV3: {\n OscWave: Saw\n ModMode: Sine\n Mix: 90 / 10\n}', "saw.mtdrum")
    assert "def: \\supertonic_12000," in scconvert.scd(saw)  # mtpreset2sc.lua made this a sine


def sclang_render(preset, hits: list[tuple[float, int, float]], duration: float, seed: int, tmp_path):
    """The converted file's ~renderNRT run by the real sclang, headless: [seconds, track, velocity] hits."""
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
    return sc_wav


def read(path) -> np.ndarray:
    audio, sr = sf.read(str(path), dtype="float64", always_2d=True)
    assert sr == 48000
    return audio


needs_sclang = pytest.mark.skipif(not shutil.which("sclang"), reason="sclang not installed")


@pytest.mark.nrt
@needs_seeds
@needs_sclang
@pytest.mark.parametrize("name", ["default.mtpreset", "microtonic.preset"])
def test_converted_file_renders_what_gridtonic_renders(name, engine_defs, tmp_path):
    preset = kits.read(SEEDS / name)
    drums = kits.assignment(preset, 8)
    hits = [(i * 0.25, i + 1, 1.0 - 0.08 * i) for i in range(8)]  # every drum, overlapping, velocities
    duration, seed = 2.5, 7
    sc = read(sclang_render(preset, hits, duration, seed, tmp_path))
    events = [(t, [synthdefs.voice_message(drums[i - 1].patch, nrt.HIT_NODE + n, v, drums[i - 1].pan)])
              for n, (t, i, v) in enumerate(hits)]
    py = read(nrt.render(events, tmp_path / "py.wav", duration, seed=seed, defs_dir=engine_defs))
    assert sc.shape == py.shape and np.abs(py).max() > 0.05
    assert np.abs(sc - py).max() <= 1e-6  # in practice bit-identical


@pytest.mark.nrt
@needs_seeds
@needs_sclang
def test_converted_chokes_cut_as_gridtonic_cuts(engine_defs, tmp_path):
    """Every seed kit has Choke Off, so the converted chokes were never heard: here the two hats
    (drums 3 and 7, both LV HH HT) share choke group 1 and cut each other, in sclang as through
    gridtonic's voices."""
    text = (SEEDS / "default.mtpreset").read_text()
    lines = text.splitlines(keepends=True)
    hats = [i for i, ln in enumerate(lines) if ln.strip() == 'Choke: "Off"'][2:4]  # 3rd and 4th in the file
    for i in hats:
        lines[i] = lines[i].replace('"Off"', '"1"')
    (tmp_path / "choked.mtpreset").write_text("".join(lines))
    preset = kits.read(tmp_path / "choked.mtpreset")
    assert [d.choke for d in kits.assignment(preset, 8)] == [None, None, 1, None, None, None, 1, None]
    hits = [(0.0, 3, 1.0), (0.06, 7, 0.9), (0.1, 1, 1.0), (0.15, 3, 0.8), (0.2, 2, 0.7), (0.24, 7, 1.0),
            (0.3, 7, 0.6)]  # each hat hit cuts the one before, whichever track; kick and snare ring on
    duration, seed = 1.5, 3
    sc = read(sclang_render(preset, hits, duration, seed, tmp_path))

    def gridtonic_render(name: str, choke: bool) -> np.ndarray:
        session = default_session()
        kits.load(session, preset, "a")
        for track in session.tracks:
            track.choke = track.choke if choke else None
        voices = Voices(session)
        events = [(t, voices.messages(Hit(t, 0.0, 0, i - 1, v))) for t, i, v in hits]
        return read(nrt.render(events, tmp_path / name, duration, seed=seed, defs_dir=engine_defs))

    py, unchoked = gridtonic_render("py.wav", True), gridtonic_render("unchoked.wav", False)
    assert sc.shape == py.shape and np.abs(py).max() > 0.05
    assert np.abs(py - unchoked).max() > 0.005  # the chokes are heard (the hats peak near 0.02)
    assert np.abs(sc - py).max() <= 1e-6


@pytest.mark.realtime
@needs_seeds
@needs_sclang
async def test_converted_file_plays_live_on_a_running_server(jack_server, engine_defs, tmp_path):
    """What a SuperCollider user does with the file, minus the boot: ~hit on a running scsynth
    (gridtonic's defs loaded) starts each drum's voice, which plays and ends (/n_end), with nothing
    refused (a missing def or a bad argument comes back as /fail)."""
    ended: list[int] = []
    server = Scsynth(port=udp.free_port(), synthdef_dir=engine_defs, client_name=f"gt-scd-{os.getpid()}",
                     on_end=ended.append)
    scd, driver = tmp_path / "kit.scd", tmp_path / "live.scd"
    scd.write_text(scconvert.scd(kits.read(SEEDS / "default.mtpreset")))
    driver.write_text(LIVE_DRIVER % {"limit": SCLANG_TIMEOUT_S - 10, "port": server.port})
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QTWEBENGINE_DISABLE_SANDBOX="1")
    async with trio.open_nursery() as n:
        await n.start(server.run)
        r = await trio.run_process(["timeout", str(SCLANG_TIMEOUT_S), "sclang", str(driver), str(scd)],
                                   stdin=subprocess.DEVNULL, capture_stdout=True, capture_stderr=True,
                                   env=env, cwd=tmp_path, check=False)
        out, err = (b.decode(errors="replace") for b in (r.stdout, r.stderr))
        assert "HITS SENT" in out and r.returncode == 0, out[-3000:] + err[-2000:]
        with trio.move_on_after(10):  # a hang guard: the longest of the three drums is under 2 s
            while len(ended) < 3:
                await trio.sleep(0.05)
        n.cancel_scope.cancel()
    assert len(ended) == 3, f"voices ended: {ended}"
