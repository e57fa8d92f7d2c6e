"""Soak: the densest performance the sequencer allows, for minutes, against a realtime instrument.

8 tracks x 32 steps, every step set (odd steps at probability 0.8, the rest 1), 300 BPM, 16 voices
per track, no choke, with autosave and the prior loaded as ``gridtonic run`` has them, on jackd dummy
(48 kHz / 256, as ``run`` starts it) + realtime scsynth. jackd is started here, its output kept in
a file, so its xrun lines can be counted. Sampled each second: RSS of this process (the instrument)
and scsynth, CPU % of both and of jackd; counted: scsynth's ``late`` lines (bundles that arrived
after their time), JACK xruns (``client ... was not finished``: a client missed the period's
deadline; ``Process XRun``: the dummy driver's own thread woke late). Each xrun is listed with what
happened within 0.5 s of it: Python GC passes, late bundles, autosave writes, scsynth's node count.

    python bench/soak.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import re
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import trio

from gridtonic.app import Instrument
from gridtonic.core.session import STEPS, default_session
from gridtonic.grid import udp
from gridtonic.io import child, jack

SR = 48000
PERIOD = 256
TEMPO = 300.0
NEAR_S = 0.5  # an event this close to an xrun is listed with it
TICK_HZ = os.sysconf("SC_CLK_TCK")
XRUN = re.compile(rb"JackEngine::XRun: client = (\S+) was not finished|JackTimedDriver::Process XRun = (\d+)")


@dataclass
class Timeline:
    """What happened when (time.monotonic()), to set beside each xrun."""

    xruns: list[tuple[float, str, str]] = field(default_factory=list)  # (t, kind, other RT processes)
    late: list[tuple[float, str]] = field(default_factory=list)
    gc: list[tuple[float, int, float]] = field(default_factory=list)  # (start, generation, ms)
    saves: list[float] = field(default_factory=list)
    nodes: list[tuple[float, float]] = field(default_factory=list)
    load: list[tuple[float, float, float]] = field(default_factory=list)  # (t, machine %, others' %)


class LateLines(logging.Handler):
    """scsynth's stdout reaches the debug log line by line; its ``late 0.0123`` lines are counted."""

    def __init__(self, timeline: Timeline) -> None:
        super().__init__(logging.DEBUG)
        self.timeline = timeline

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if ": late " in text:
            self.timeline.late.append((time.monotonic(), text.split(": ", 1)[1]))


def soak_session():
    s = default_session()
    s.tempo = TEMPO
    for t in s.tracks:
        t.set_pattern("x" * STEPS)
        t.probability = [0.8 if i % 2 else 1.0 for i in range(STEPS)]
        t.max_voices, t.choke = 16, None
    return s


def watch_gc(timeline: Timeline) -> None:
    started: dict[int, float] = {}

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[info["generation"]] = time.perf_counter()
        else:
            begun = started.pop(info["generation"], time.perf_counter())
            ms = (time.perf_counter() - begun) * 1000
            timeline.gc.append((time.monotonic() - ms / 1000, info["generation"], ms))

    gc.callbacks.append(callback)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK_HZ  # utime + stime


def machine_busy_s() -> float:
    """CPU seconds every core has spent busy since boot (/proc/stat: all but idle and iowait)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK_HZ


def rt_threads(pid: int) -> list[str]:
    """The realtime threads of ``pid`` (scheduling policy and priority): JACK's process threads
    should be SCHED_FIFO, or any busy process on the machine can delay them."""
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[38]) in (1, 2) and int(fields[37]) < 99:  # SCHED_FIFO/RR, not the kernel's
                found.append(f"{(task / 'comm').read_text().strip()} rt {fields[37]}")
    except OSError:  # it ended meanwhile
        pass
    return found


def other_rt(ours: set[int]) -> str:
    """Other processes' realtime audio threads (another jackd or scsynth competes for the cores)."""
    names = [f"{pid.name} {rt[0]}" for pid in Path("/proc").glob("[0-9]*")
             if int(pid.name) not in ours and (rt := rt_threads(int(pid.name))) and "irq" not in rt[0]
             and "watchdog" not in rt[0]]
    return ", ".join(names) or "-"


async def tail_jack(path: Path, timeline: Timeline, ours: set[int]) -> None:
    """jackd's output as it grows: each xrun line, stamped when read (within 20 ms)."""
    with path.open("rb") as f:
        buf = b""
        while True:
            buf += f.read()
            *lines, buf = buf.split(b"\n")
            for line in lines:
                m = XRUN.search(line)
                if m:
                    kind = f"client {m[1].decode()} late" if m[1] else f"driver late {int(m[2])} us"
                    timeline.xruns.append((time.monotonic(), kind, other_rt(ours)))
            await trio.sleep(0.02)


async def count_saves(path: Path, timeline: Timeline) -> None:
    last = None
    while True:
        mtime = path.stat().st_mtime_ns if path.exists() else None
        if mtime != last and last is not None:
            timeline.saves.append(time.monotonic())
        last = mtime
        await trio.sleep(0.1)


async def soak(minutes: float, server: str, jack_log: Path, session_path: Path) -> None:
    timeline = Timeline()
    logging.getLogger("gridtonic.sound.scsynth").addHandler(LateLines(timeline))
    logging.getLogger("gridtonic.sound.scsynth").setLevel(logging.DEBUG)
    watch_gc(timeline)
    with jack_log.open("wb") as out:
        jackd = child.spawn(jack.command(server, SR, PERIOD), out)
    try:
        while not await trio.to_thread.run_sync(jack.running, server):
            await trio.sleep(0.05)
        inst = Instrument(soak_session(), session_path, port=udp.free_port(), jack_server=server)
        async with trio.open_nursery() as n:
            await n.start(inst.run)
            n.start_soon(tail_jack, jack_log, timeline, {os.getpid(), jackd.pid, inst.server.pid})
            n.start_soon(count_saves, session_path, timeline)
            await report(inst, jackd.pid, minutes, timeline)
            n.cancel_scope.cancel()
    finally:
        jackd.terminate()
        with trio.move_on_after(3):
            await jackd.wait()


async def report(inst: Instrument, jackd: int, minutes: float, timeline: Timeline) -> None:
    me, synth = os.getpid(), inst.server.pid
    await trio.sleep(1.0)  # past start-up: defs loaded, prior read
    start = time.monotonic()
    rss0 = rss_mb(me), rss_mb(synth)
    cpu0 = [cpu_s(p) for p in (me, synth, jackd)]
    xruns0, late0 = len(timeline.xruns), len(timeline.late)
    peak = [0.0, 0.0]
    last = (time.monotonic(), machine_busy_s(), sum(cpu0))
    while time.monotonic() - start < minutes * 60:
        await trio.sleep(1.0)
        peak = [max(peak[0], rss_mb(me)), max(peak[1], rss_mb(synth))]
        now = (time.monotonic(), machine_busy_s(), sum(cpu_s(p) for p in (me, synth, jackd)))
        wall = now[0] - last[0]
        timeline.load.append((now[0], (now[1] - last[1]) / wall * 100,
                              (now[1] - last[1] - (now[2] - last[2])) / wall * 100))
        last = now
        status = await inst.server.status()
        timeline.nodes.append((time.monotonic(), status["synths"]))
    wall = time.monotonic() - start
    cpu = [(cpu_s(p) - c) / wall * 100 for p, c in zip((me, synth, jackd), cpu0, strict=True)]
    rss1 = rss_mb(me), rss_mb(synth)
    xruns, late = timeline.xruns[xruns0:], timeline.late[late0:]
    synths = [v for _, v in timeline.nodes]
    gen2 = [g for g in timeline.gc if g[1] == 2 and g[0] >= start]
    print(f"soak: {wall / 60:.1f} min, 8 tracks x {STEPS} steps at {TEMPO:g} BPM, "
          f"jackd dummy {SR} Hz / {PERIOD}")
    print(f"RSS MB        start    end   peak\n  gridtonic {rss0[0]:8.1f} {rss1[0]:6.1f} {peak[0]:6.1f}"
          f"\n  scsynth   {rss0[1]:8.1f} {rss1[1]:6.1f} {peak[1]:6.1f}")
    print(f"CPU %: gridtonic {cpu[0]:.1f}, scsynth {cpu[1]:.1f}, jackd {cpu[2]:.1f} "
          f"(of one core; {os.cpu_count()} cores)")
    print(f"scsynth synths: mean {statistics.fmean(synths):.0f}, max {max(synths):.0f}")
    busy = [b for _, b, _ in timeline.load]
    print(f"machine: {statistics.fmean(busy):.0f} % busy on average, max {max(busy):.0f} % "
          f"(of one core, all processes); realtime threads: jackd {', '.join(rt_threads(jackd))}; "
          f"scsynth {', '.join(rt_threads(synth))}")
    print(f"late bundles: {len(late)}")
    for t, text in late:
        print(f"  {t - start:7.2f} s  {text}  {around(timeline, t)}")
    print(f"GC: {sum(g[0] >= start for g in timeline.gc)} passes, {len(gen2)} full "
          f"(longest {max((g[2] for g in timeline.gc if g[0] >= start), default=0):.1f} ms); "
          f"autosave writes: {sum(t >= start for t in timeline.saves)}")
    print(f"JACK xruns: {len(xruns)}")
    if xruns:
        gaps = [b[0] - a[0] for a, b in zip(xruns, xruns[1:], strict=False)]
        if gaps:
            print(f"  s between xruns: median {statistics.median(gaps):.1f}, "
                  f"min {min(gaps):.1f}, max {max(gaps):.1f}")
        for t, kind, others in xruns:
            near = [f"GC gen {g} {ms:.1f} ms" for s, g, ms in timeline.gc if abs(s - t) < NEAR_S]
            near += [f"scsynth {text}" for s, text in timeline.late if abs(s - t) < NEAR_S]
            near += ["autosave" for s in timeline.saves if abs(s - t) < NEAR_S]
            nodes = min(timeline.nodes, key=lambda x: abs(x[0] - t), default=(t, 0))[1]
            print(f"  {t - start:7.2f} s  {kind:<28} synths {nodes:3.0f}  {around(timeline, t)}  "
                  f"near: {', '.join(near) or '-'}; other realtime processes: {others}")


def around(timeline: Timeline, t: float) -> str:
    """The machine's load in the second around ``t``: all processes, and those not ours."""
    _, busy, others = min(timeline.load, key=lambda x: abs(x[0] - 0.5 - t), default=(t, 0.0, 0.0))
    return f"machine {busy:3.0f} %, others {others:3.0f} %"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    a = p.parse_args()
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().handlers[0].setLevel(logging.WARNING)  # scsynth's debug lines are counted, not shown
    server = f"gridtonic-soak-{os.getpid()}"
    os.environ["JACK_DEFAULT_SERVER"] = server
    with tempfile.TemporaryDirectory() as tmp:
        trio.run(soak, a.minutes, server, Path(tmp) / "jackd.log", Path(tmp) / "session.json")


if __name__ == "__main__":
    main()
