"""Grid latency and LED traffic over real UDP: emulated serialosc + grid ↔ gridtonic's grid client.

Key press (the emulator sends ``/grid/key``) → the first LED message arriving back at the emulator,
for ``--presses`` presses and as many releases, idle and while playing at 120 BPM: there each press
comes at a random phase of the 16th, so some land just after a playhead frame (the case a strict
1/60 s frame gap would hold back by up to 16.7 ms); then LED messages per second, playing and idle.

    python bench/grid_latency.py [--presses 500] [--seconds 5]
"""

from __future__ import annotations

import argparse
import random
import time

import trio

from gridtonic import analysis
from gridtonic.core import layout
from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import Sequencer
from gridtonic.core.session import default_session
from gridtonic.core.surface import FPS, Surface
from gridtonic.grid.emulator import EmulatedGrid, SerialOscEmulator
from gridtonic.grid.host import Grid, GridConfig


async def bench(presses: int, seconds: float) -> None:
    session = default_session()
    seq = Sequencer(session, InternalClock(120))
    surface = Surface(layout.builtin(16, 8), session, seq)
    arrived = trio.Event()
    grid = EmulatedGrid(on_led=lambda cmd: arrived.set())
    async with trio.open_nursery() as n:
        emu = SerialOscEmulator()
        port = await n.start(emu.run)
        await emu.plug(grid)
        await n.start(surface.run)
        await n.start(seq.run)
        await n.start(Grid(surface, GridConfig(serialosc_port=port)).run)
        while not any(grid.leds):
            await trio.sleep(0.01)
        await trio.sleep(0.1)

        for label, playing in (("idle", False), ("playing at 120 BPM, random phase", True)):
            seq.start() if playing else seq.stop()
            lat = []
            for i in range(presses * 2):
                x, y = i // 2 % 16, 5  # row 6: no track in the default kit, so only the held key changes
                await trio.sleep(1.1 / FPS + (random.uniform(0, 0.125) if playing else 0.0))
                arrived = trio.Event()
                t0 = time.perf_counter()
                grid.press(x, y, i % 2 == 0)
                with trio.move_on_after(1):
                    await arrived.wait()
                lat.append((time.perf_counter() - t0) * 1000)
            print(f"key → LED message, {label}: {analysis.latencies(lat)} (target p99 ≤ 5 ms)")

        for label, rate in (await analysis.traffic(seq, lambda: grid.led_messages, seconds)).items():
            print(f"LED messages per second, {label}: {rate:.1f}")
        n.cancel_scope.cancel()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presses", type=int, default=500)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args()
    trio.run(bench, args.presses, args.seconds)


if __name__ == "__main__":
    main()
