"""Launchpad latency and LED traffic over real JACK MIDI: an emulated Launchpad X ↔ gridtonic.

Pad press (the emulator sends the note) → the first LED SysEx arriving back at the emulator, for
``--presses`` presses and as many releases, spaced just over one frame so the 60 fps cap never
delays them. The round trip crosses JACK twice: each crossing waits for the next period (256 frames
at 48 kHz: up to 5.3 ms). Then bytes per second to the Launchpad while playing at 120 BPM and idle.
Starts its own JACK server (dummy backend) when none runs.

    python bench/launchpad_latency.py [--presses 500] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os

import trio

from gridtonic import analysis
from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import Sequencer
from gridtonic.core.session import default_session
from gridtonic.core.surface import FPS, Surface
from gridtonic.io import jack
from gridtonic.launchpad.emulator import EmulatedLaunchpad
from gridtonic.launchpad.host import LaunchpadConfig, Launchpads, builtin
from gridtonic.launchpad.sysex import GEN3_LEDS

SERVER = "gt-bench-launchpad"


async def bench(presses: int, seconds: float) -> None:
    os.environ.setdefault("JACK_DEFAULT_SERVER", SERVER)
    received = [0]
    arrived = trio.Event()
    lit: list[float] = []  # arrival times of LED SysEx (the emulator's stamps, not its poll)

    def probe(t: float, data: list[int]) -> None:  # every message the Launchpad gets
        received[0] += len(data)
        if len(data) > 6 and data[6] == GEN3_LEDS:
            lit.append(t)
            arrived.set()

    async with jack.ensure_jack(os.environ["JACK_DEFAULT_SERVER"]), trio.open_nursery() as n:
        session = default_session()
        seq = Sequencer(session, InternalClock(120))
        surface = Surface(builtin(1), session, seq)
        lp = EmulatedLaunchpad(on_message=probe)
        await n.start(lp.run)
        await n.start(surface.run)
        await n.start(seq.run)
        lps = Launchpads(surface, LaunchpadConfig())
        await n.start(lps.run)
        while not lps.order:
            await trio.sleep(0.01)
        await trio.sleep(0.2)

        lat = []
        for i in range(presses * 2):
            x = i // 2 % 8  # row 7: no track in the default kit, so only the held pad changes
            await trio.sleep(1.1 / FPS)
            arrived = trio.Event()
            t0, lit[:] = trio.current_time(), []
            lp.press((x, 7), i % 2 == 0)
            with trio.move_on_after(1):
                await arrived.wait()
            lat.append(((lit[0] if lit else trio.current_time()) - t0) * 1000)
        print(f"pad → LED SysEx (JACK both ways): {analysis.latencies(lat)}")

        for label, rate in (await analysis.traffic(seq, lambda: received[0], seconds)).items():
            print(f"bytes per second to the Launchpad, {label}: {rate:.0f}")
        n.cancel_scope.cancel()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presses", type=int, default=500)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args()
    trio.run(bench, args.presses, args.seconds)


if __name__ == "__main__":
    main()
