"""Live timing: jackd (dummy) + realtime scsynth + gridtonic's sequencer, recorded with DiskOut.

A click on every 16th at 120 BPM for ``--seconds``; onsets are found in the recording and compared
with the ideal grid: 0.125 s apart, as a straight line fitted through them (the audio clock, JACK
dummy's or a sound card's, runs slightly off the system clock that time tags use). Reported:
σ and max of the onset error and the inter-onset intervals, in samples, for
- gridtonic: hits stamped at ideal time + latency (bundles), idle and with a busy core;
- baseline: the same hits sent unstamped at their time (a sequencer that sleeps to each step and
  sends ``/s_new`` at once): scsynth starts them at the next JACK period.

    python bench/timing.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trio

from gridtonic import analysis
from gridtonic.app import Instrument
from gridtonic.core import params
from gridtonic.grid import udp
from gridtonic.io import jack, osc
from gridtonic.sound.engine import Engine
from gridtonic.sound.render import pattern_session

SR = 48000
PERIOD = 256


class Unstamped(Engine):
    """The naive way: wait until the hit's time, then send it for 'now'."""

    def __init__(self, *args, nursery: trio.Nursery, **kw):
        super().__init__(*args, **kw)
        self.nursery = nursery

    def play(self, hit) -> None:
        async def later():
            await trio.sleep_until(hit.time)
            self.server.send(osc.bundle(osc.IMMEDIATE, self.voices.messages(hit)))

        self.nursery.start_soon(later)


async def measure(path: Path, seconds: float, stamped: bool) -> dict[str, float]:
    s = pattern_session("kick:x")
    s.tracks[0].patch_a = params.clean(analysis.CLICK)
    inst = Instrument(s, port=udp.free_port())
    async with trio.open_nursery() as n:
        if not stamped:
            inst.engine = Unstamped(s, inst.server, inst.latency, nursery=n)
            inst.server.on_end = inst.engine.ended
            inst.sequencer.sinks[:] = [inst.engine.play]
        await analysis.capture(inst, path, seconds)
        n.cancel_scope.cancel()
    found = analysis.onsets(path, threshold=0.05, min_gap=0.05).astype(float)
    slope, error, ioi = analysis.grid(found)
    return {
        "hits": len(found), "rate": slope / 0.125, "err_sd": error.std(), "err_max": np.abs(error).max(),
        "ioi_sd": ioi.std(), "ioi_max": np.abs(ioi).max(),
    }


def report(name: str, m: dict[str, float]) -> None:
    print(f"{name:<28} {m['hits']:>5} {m['err_sd']:>8.2f} {m['err_max']:>8.2f} "
          f"{m['ioi_sd']:>8.2f} {m['ioi_max']:>8.2f}   (audio clock {m['rate']:.2f} Hz)")


async def main(seconds: float) -> None:
    print(f"16ths at 120 BPM, {seconds:g} s each, jackd dummy {SR} Hz / {PERIOD} frames "
          f"(one period = {PERIOD} samples = {PERIOD / SR * 1000:.2f} ms)")
    print(f"{'case':<28} {'hits':>5} {'err σ':>8} {'err max':>8} {'IOI σ':>8} {'IOI max':>8}  [samples]")
    with tempfile.TemporaryDirectory() as tmp:
        for name, stamped, busy in (
            ("gridtonic (bundles)", True, False),
            ("gridtonic, busy core", True, True),
            ("unstamped baseline", False, False),
            ("unstamped, busy core", False, True),
        ):
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
            try:
                report(name, await measure(Path(tmp) / f"{name}.wav", seconds, stamped))
            finally:
                if hog:
                    hog.kill()
                    hog.wait()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0)
    a = p.parse_args()
    name = f"gridtonic-bench-{os.getpid()}"
    os.environ["JACK_DEFAULT_SERVER"] = name

    async def run() -> None:
        async with jack.ensure_jack(name, SR, PERIOD):
            await main(a.seconds)

    trio.run(run)
    time.sleep(0.1)
