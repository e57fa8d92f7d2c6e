"""Seconds from a ``kill -9`` of the jackd gridtonic started until its sound is back.

gridtonic plays the default session on a jackd (dummy) of its own; the jackd is killed ``--kills``
times, and each time the figure is how long until scsynth answers /status again and starts a voice
(the sequencer's clock runs on meanwhile: hits due while the server is down are dropped).

    python bench/jack_restart.py [--kills 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics

import trio

from gridtonic import analysis
from gridtonic.app import Instrument
from gridtonic.core.session import default_session
from gridtonic.grid import udp


def jackd(name: str) -> int:
    """The PID of this process's jackd named ``name``."""
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if f.read().split(b"\0")[:3] == [b"jackd", b"-n", name.encode()]:
                    return int(entry)
        except OSError:
            continue
    raise LookupError(name)


async def main(kills: int) -> None:
    name = f"gt-bench-{os.getpid()}"
    inst = Instrument(default_session(), port=udp.free_port(), jack_server=name)
    figures = []
    async with trio.open_nursery() as n:
        await n.start(inst.run)
        for _ in range(kills):
            await trio.sleep(1.0)
            killed = trio.current_time()
            os.kill(jackd(name), signal.SIGKILL)
            with trio.fail_after(30):
                figures.append(await analysis.sound_back(inst.port) - killed)
        n.cancel_scope.cancel()
    print(f"sound back after kill -9 of gridtonic's jackd, {kills} kills: "
          f"median {statistics.median(figures):.2f} s, min {min(figures):.2f} s, max {max(figures):.2f} s")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=5)
    trio.run(main, p.parse_args().kills)
