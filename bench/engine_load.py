"""Realtime headroom: the engine in a realtime scsynth on jackd (dummy), 8 tracks of 16ths at 180 BPM.

The kit is default.mtpreset's eight drums (../shared/seed-presets; the built-in five-drum kit, its
tracks repeated, without it), voices as live: gridtonic's Engine, its per-track and total voice
limits, bundles stamped ahead by the live latency. Every track hits every 16th (``--ratchet 2``
splits each into two; ``0``, the default, runs 1 and 2 after an idle case, the engine without
hits). scsynth's own load is polled with ``/status`` every ``--poll`` seconds after the first
second: the mean of its average CPU and the highest peak CPU (its DSP load, % of the JACK period),
and JACK's xruns while the hits play (from its log; a machine shared with other work has some of
its own).

    python bench/engine_load.py [--seconds 20] [--ratchet 0] [--defs build/synthdefs]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

import trio

from gridtonic.core.playback import Hit
from gridtonic.core.session import MAX_TRACKS, Session, default_session
from gridtonic.grid import udp
from gridtonic.io import child, jack, osc
from gridtonic.presets import kits
from gridtonic.sound import synthdefs
from gridtonic.sound.engine import Engine
from gridtonic.sound.scsynth import Scsynth

SR, PERIOD = 48000, 256
BPM = 180
SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seed-presets"


def eight_tracks() -> Session:
    """default.mtpreset's drums on 8 tracks, or the built-in kit's repeated up to 8."""
    session = default_session()
    if (SEEDS / "default.mtpreset").exists():
        kits.load(session, kits.read(SEEDS / "default.mtpreset"), "a")
    while len(session.tracks) < MAX_TRACKS:
        session.tracks.append(copy.deepcopy(session.tracks[len(session.tracks) % 5]))
    return session


async def play(engine: Engine, tracks: int, seconds: float, ratchet: int) -> int:
    """Every track on every 16th (split into ``ratchet`` hits, none if 0) for ``seconds``; the hits sent."""
    if not ratchet:
        await trio.sleep(seconds)
        return 0
    step = 60 / BPM / 4
    start = trio.current_time() + 0.2
    sent = 0
    for i in range(round(seconds / step) * ratchet):
        at = start + i * step / ratchet
        await trio.sleep_until(at - 0.02)  # the bundle still leaves a latency ahead of its time
        for track in range(tracks):
            engine.play(Hit(at, i / ratchet / 4, i // ratchet, track, 1.0, span=0.25 / ratchet))
            sent += 1
    return sent


async def measure(jack_name: str, log: Path, defs: Path, seconds: float, ratchet: int, poll: float) -> dict:
    """One case; ``ratchet`` 0 plays nothing (the engine idle: its global synth and the server)."""
    session = eight_tracks()
    server = Scsynth(port=udp.free_port(), synthdef_dir=defs, client_name=f"gt-load-{os.getpid()}",
                     jack_server=jack_name)
    loads: list[tuple[float, float, float]] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        engine = Engine(session, server)
        server.on_end = engine.ended

        async def watch() -> None:
            await trio.sleep(1.0)
            while True:
                s = await server.status()
                loads.append((s["avg_cpu"], s["peak_cpu"], s["synths"]))
                await trio.sleep(poll)

        nursery.start_soon(watch)
        await trio.sleep(1.0)  # scsynth joining the JACK graph may cost an xrun: not the voices' doing
        before = xruns(log)
        hits = await play(engine, len(session.tracks), seconds, ratchet)
        after = xruns(log)
        nursery.cancel_scope.cancel()
    return {"hits": hits, "avg": statistics.mean(a for a, _, _ in loads), "peak": max(p for _, p, _ in loads),
            "voices": max(n for _, _, n in loads) - OWN_SYNTHS,
            "xruns": after - before}


# the engine's own synths, always there: the global lowpass and the mixer's (paused EQs count too)
OWN_SYNTHS = sum(osc.parse(m)[0] == "/s_new" for m in synthdefs.setup_messages())


def xruns(log: Path) -> int:
    return log.read_text(errors="replace").count("XRun")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--ratchet", type=int, default=0, help="hits per 16th; 0 = idle, 1 and 2")
    ap.add_argument("--poll", type=float, default=0.25, help="seconds between /status requests")
    ap.add_argument("--defs", type=Path, default=None, help="compiled SynthDefs (default: synthdef_dir())")
    a = ap.parse_args(argv)
    defs = a.defs or synthdefs.synthdef_dir()
    name = f"gt-jack-{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "jackd.log"
        with open(log, "wb") as out:
            jackd = subprocess.Popen(["jackd", "-n", name, "-d", "dummy", "-r", str(SR), "-p", str(PERIOD)],
                                     stdout=out, stderr=subprocess.STDOUT)
        try:
            trio.run(_wait_for_jack, name)
            print(f"realtime scsynth on jackd dummy ({SR} Hz, {PERIOD}-frame period = "
                  f"{PERIOD / SR * 1000:.2f} ms), {a.seconds:g} s per case, /status every {a.poll:g} s")
            print(f"{'case':38s} {'hits':>5s} {'voices':>6s} {'avg CPU %':>9s} {'peak CPU %':>10s} "
                  f"{'xruns':>5s}")
            for ratchet in ([0, 1, 2] if a.ratchet == 0 else [a.ratchet]):
                m = trio.run(measure, name, log, defs, a.seconds, ratchet, a.poll)
                label = "idle (no hits)" if not ratchet else f"8 tracks, 16ths at {BPM} BPM" + (
                    f", ratchet {ratchet}" if ratchet > 1 else "")
                print(f"{label:38s} {m['hits']:5d} {m['voices']:6d} {m['avg']:9.2f} {m['peak']:10.2f} "
                      f"{m['xruns']:5d}")
        finally:
            child.end(jackd)
    print("voices = the most synths scsynth ran at once, less the engine's own")
    return 0


async def _wait_for_jack(name: str) -> None:
    with trio.fail_after(10):
        while not await trio.to_thread.run_sync(jack.running, name):
            await trio.sleep(0.05)


if __name__ == "__main__":
    raise SystemExit(main())
