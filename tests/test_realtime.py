"""gridtonic playing live: jackd (dummy) + realtime scsynth + the sequencer, recorded with DiskOut.

16ths at 120 BPM are 0.125 s apart: 6000 samples at 48 kHz by the nominal rate; the reference is
the mean interval actually recorded (time tags are system time, and JACK dummy's clock runs a little
off it). Onsets are whole samples, so an interval is that period rounded down or up; time-stamped
bundles must keep every interval within ±1 sample of those, also while another CPU-heavy task runs
(unstamped commands would be off by up to a JACK period, 256 samples).
"""

import math
import subprocess
import sys

import numpy as np
import pytest
import trio

from gridtonic import analysis
from gridtonic.app import Instrument
from gridtonic.core import params
from gridtonic.grid import udp
from gridtonic.sound import mixer, synthdefs
from gridtonic.sound.render import pattern_session, render
from gridtonic.sound.scsynth import Scsynth

pytestmark = pytest.mark.realtime


def click_instrument(jack_server: str) -> Instrument:
    s = pattern_session("kick:x")  # every 16th
    s.tracks[0].patch_a = params.clean(analysis.CLICK)
    return Instrument(s, port=udp.free_port(), jack_server=jack_server)


@pytest.fixture
def busy_core():
    """Another CPU-heavy task (a busy loop taking a whole core) for the duration of a test."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield
    proc.kill()
    proc.wait()


async def check_sixteenths(jack_server, tmp_path, without_xruns):
    async def play(attempt: int):
        path = tmp_path / f"live{attempt}.wav"
        await analysis.capture(click_instrument(jack_server), path, 4.0)
        return analysis.onsets(path, threshold=0.05, min_gap=0.05)

    found = await without_xruns(play)
    assert len(found) >= 20
    period, _, _ = analysis.grid(found)
    assert abs(period - 6000) < 60  # JACK dummy's clock (the system timer) is within 1 % of nominal
    # onsets are whole samples: the interval is the ideal one rounded either way, ±1 sample
    ioi = np.diff(found)
    assert ioi.min() >= math.floor(period) - 1 and ioi.max() <= math.ceil(period) + 1, (period, ioi)


async def test_sixteenths_are_sample_exact(jack_server, tmp_path, without_xruns):
    await check_sixteenths(jack_server, tmp_path, without_xruns)


async def test_sixteenths_stay_exact_under_cpu_load(jack_server, tmp_path, busy_core, without_xruns):
    await check_sixteenths(jack_server, tmp_path, without_xruns)


async def test_the_global_lowpass_runs_after_the_voice_group(jack_server):
    """The engine's setup runs at every (re)start: group 1 for voices, then the mixer's track EQs
    (stereo and mono) and track synths, one lowpass synth and the master (sound.mixer)."""
    server = Scsynth(port=udp.free_port(), synthdef_dir=synthdefs.synthdef_dir(), jack_server=jack_server)
    async with trio.open_nursery() as n:
        await n.start(server.run)
        await server.sync()
        status = await server.status()
        n.cancel_scope.cancel()
    assert status["synths"] == 3 * mixer.TRACKS + 2 and status["groups"] == 2  # root + voice group


def featured_session():
    """One click track with every per-step timing feature: ratchets, nudges either way, a condition,
    a speed and a length that is not a bar."""
    s = pattern_session("kick:x---x---x-x-x--")
    t = s.tracks[0]
    t.patch_a = t.patch_b = params.clean(analysis.CLICK)
    t.length = 17  # polymetric against the bar: every cycle starts on another 16th
    t.ratchet[0], t.ramp[0] = 3, 0.0
    t.nudge[4], t.nudge[8] = 5, -7
    t.condition[10] = "1:2"
    t.ratchet[12] = 2
    return s


async def test_live_play_matches_the_render_to_the_sample(jack_server, tmp_path, without_xruns):
    s = featured_session()
    rendered = tmp_path / "render.wav"
    render(s, rendered, bars=8)
    want = analysis.onsets(rendered, threshold=0.05, min_gap=0.02).astype(float)

    async def play(attempt: int):
        path = tmp_path / f"live{attempt}.wav"
        inst = Instrument(featured_session(), port=udp.free_port(), jack_server=jack_server)
        await analysis.capture(inst, path, 4.0)
        return analysis.onsets(path, threshold=0.05, min_gap=0.02).astype(float)

    live = await without_xruns(play)
    assert len(live) >= 10  # about 16 hits in 4 s
    # the recording starts mid-pattern: find where in the render it is, then compare the onsets on
    # the line through them (JACK dummy's clock runs a little off the system clock time tags use)
    fits = []
    for k in range(len(want) - len(live) + 1):
        ref = want[k:k + len(live)]
        slope, offset = np.polyfit(ref, live, 1)
        fits.append((float(np.abs(live - (offset + slope * ref)).max()), k, slope))
    error, _, slope = min(fits)
    assert abs(slope - 1) < 0.01 and error <= 1.5, (error, slope)  # ±1 sample, and the fit's rounding
