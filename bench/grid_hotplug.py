"""Seconds from a hot-plug event to the whole frame back on the grid, against the real serialoscd
(built from ../shared/peers/serialosc, as `make test` does) with a pty grid: replug after 0.05 s
and 2 s, the daemon restarted with the settings its device saved / with them wiped / after 5 s
away. Timed from the plug or the daemon's start to the pty grid showing the surface's frame.
Usage: python bench/grid_hotplug.py [--rounds N]"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from serialoscd import rig, shows, until  # noqa: E402  (the tests' real-daemon rig)


async def replug(run: Path, away: float) -> float:
    async with rig(run) as (daemon, surface, _grid, _heard):
        g = daemon.grid()
        g.plug()
        await until(lambda: shows(g, surface), "the first frame")
        g.unplug()
        await trio.sleep(away)
        g.plug()
        took = await until(lambda: shows(g, surface), "the replugged grid lit")
        g.unplug()
        return took


async def restart(run: Path, saved: bool, away: float) -> float:
    async with rig(run) as (daemon, surface, _grid, _heard):
        g = daemon.grid()
        g.plug()
        await until(lambda: shows(g, surface), "the first frame")
        g.unplug()  # its device saves its settings
        g.plug()
        await until(lambda: shows(g, surface), "the replugged grid lit")
        daemon.stop()
        if not saved:
            shutil.rmtree(daemon.config)
            daemon.config.mkdir()
        await trio.sleep(away)
        g.levels = [0] * len(g.levels)
        start = trio.current_time()
        daemon.start()
        (daemon.present / "again").write_text(g.devnode + "\n")
        await until(lambda: shows(g, surface), "the grid lit after the restart")
        took = trio.current_time() - start
        g.unplug()
        return took


CASES = {
    "replug after 0.05 s": lambda run: replug(run, 0.05),
    "replug after 2 s": lambda run: replug(run, 2.0),
    "restart, saved settings": lambda run: restart(run, True, 0.0),
    "restart, settings wiped": lambda run: restart(run, False, 0.0),
    "restart after 5 s away": lambda run: restart(run, True, 5.0),
}


async def main(rounds: int) -> None:
    for name, case in CASES.items():
        times = []
        for i in range(rounds):
            with tempfile.TemporaryDirectory() as d:
                times.append(await case(Path(d) / str(i)))
        t = np.asarray(times)
        print(f"{name:<26} n={rounds}  median {np.median(t):.3f} s  max {t.max():.3f} s", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    trio.run(main, p.parse_args().rounds)
