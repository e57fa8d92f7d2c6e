"""Trigger scheduling error vs the sequencer's ideal times: 1000 hits at 174 BPM through a pty.

The crow emulator (tests/crowemu.py) runs as its own process and stamps each line as it reads
it from the pty master; the error of a trigger is that stamp − (ideal hit time + engine latency).
Four tracks of 16ths on outputs 1–4, so hits at the same time share one write, as on stage.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import Hit, Sequencer
from gridtonic.core.session import Session, Track
from gridtonic.crow import host as crow
from gridtonic.crow.mapping import CrowConfig, Output
from gridtonic.sound.engine import DEFAULT_LATENCY

HITS = 1000
TEMPO = 174.0
EMULATOR = Path(__file__).resolve().parent.parent / "tests" / "crowemu.py"


async def play(link: Path) -> tuple[list[Hit], float, float]:
    tracks = [Track(name=f"t{i}") for i in range(4)]
    for t in tracks:
        t.set_pattern("x")
    seq = Sequencer(Session(tracks=tracks, tempo=TEMPO), InternalClock(TEMPO))
    hits: list[Hit] = []
    seq.sinks.append(hits.append)
    outputs = {n: Output("trigger", track=n - 1) for n in range(1, 5)}
    host = crow.Crow(CrowConfig(port=str(link), outputs=outputs), seq, DEFAULT_LATENCY)
    async with trio.open_nursery() as n:
        await n.start(host.run)
        while not host.connected:
            await trio.sleep(0.01)
        await n.start(seq.run)
        seq.start()
        while len(hits) < HITS:
            await trio.sleep(0.05)
        seq.stop()
        await trio.sleep(DEFAULT_LATENCY + 0.2)
        n.cancel_scope.cancel()
    return hits[:HITS], trio.current_time() - time.perf_counter(), host.serial_latency


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        link, record = Path(tmp) / "ttyCROW", Path(tmp) / "record.tsv"
        emu = subprocess.Popen([sys.executable, str(EMULATOR), str(link), str(record)],
                               stdout=subprocess.PIPE, text=True)
        try:
            assert emu.stdout is not None and emu.stdout.readline().strip() == "ready"
            hits, offset, serial_latency = trio.run(play, link)
        finally:
            emu.terminate()
            emu.wait(timeout=10)
        rows = [line.split("\t", 1) for line in record.read_text().splitlines()]
    got: dict[str, list[float]] = {}
    for t, line in rows:
        got.setdefault(line, []).append(float(t) + offset)
    errors = []
    for n in range(1, 5):
        ideal = [h.time + DEFAULT_LATENCY for h in hits if h.track == n - 1]
        errors += [a - b for a, b in zip(got.get(f"output[{n}]()", []), ideal, strict=False)]
    ms = sorted(e * 1e3 for e in errors)
    q = statistics.quantiles(ms, n=100)
    print(f"crow trigger timing: {len(ms)} of {len(hits)} hits at {TEMPO:g} BPM through a pty "
          f"(engine latency {DEFAULT_LATENCY * 1e3:.0f} ms, "
          f"measured serial latency {serial_latency * 1e3:.3f} ms)")
    print(f"error vs ideal time: mean {statistics.fmean(ms):+.3f} ms, sd {statistics.stdev(ms):.3f} ms, "
          f"median {statistics.median(ms):+.3f} ms")
    print(f"|error|: p95 {max(abs(q[4]), abs(q[94])):.3f} ms, p99 {max(abs(q[0]), abs(q[98])):.3f} ms, "
          f"max {max(abs(ms[0]), abs(ms[-1])):.3f} ms; min {ms[0]:+.3f} ms, max {ms[-1]:+.3f} ms")


if __name__ == "__main__":
    main()
