"""A plain aalink peer in a process of its own, as any other Link app would be, for tests and benches.

``python -m gridtonic.link.peer BPM`` joins the Link session (quantum 4, start/stop sync) and writes
a JSON line every ``EVERY`` s: the host time (``time.monotonic``, the clock trio's runs on) in the
middle of reading its beat, that window's width, the beat, tempo, start/stop state and peer count.
It reads JSON commands from stdin (``{"tempo": 100}``, ``{"playing": true}``, ``{"play_with": 1}``:
start playing once it has that many peers); end of input, or of the reader of its output, ends it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from aalink import Link

EVERY = 0.005  # s between samples


def sample(link: Link) -> dict[str, float | bool | int]:
    """The peer's beat at a host time (the middle of reading it, ``w`` s wide)."""
    t1 = time.monotonic()
    beat = link.beat
    t2 = time.monotonic()
    return {"m": (t1 + t2) / 2, "w": t2 - t1, "beat": beat, "tempo": link.tempo, "playing": link.playing,
            "peers": link.num_peers}


async def main(bpm: float) -> None:
    link = Link(bpm)
    link.quantum = 4
    link.start_stop_sync_enabled = True
    link.enabled = True
    done = asyncio.Event()
    pending = b""
    play_with: int | None = None  # peers to wait for before starting


    def commands() -> None:
        nonlocal pending, play_with
        data = os.read(sys.stdin.fileno(), 65536)
        if not data:
            done.set()
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            cmd = json.loads(line)
            if "tempo" in cmd:
                link.tempo = float(cmd["tempo"])
            if "playing" in cmd:
                link.playing = bool(cmd["playing"])
            if "play_with" in cmd:
                play_with = int(cmd["play_with"])

    asyncio.get_running_loop().add_reader(sys.stdin.fileno(), commands)
    try:
        while not done.is_set():
            if play_with is not None and link.num_peers >= play_with:
                link.playing, play_with = True, None
            print(json.dumps(sample(link)), flush=True)
            await asyncio.sleep(EVERY)
    except BrokenPipeError:  # the reader is gone: so is the point of going on
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        link.enabled = False


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 120.0))
