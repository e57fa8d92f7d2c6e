"""Two Link peers inside a private network namespace: gridtonic's clock and sequencer, and a plain
aalink peer (:mod:`gridtonic.link.peer`) in a process of its own. For tests and ``bench/link_phase``.

``namespaced(argv)`` runs a command in a new network namespace with only ``lo`` up, multicast on
and 224.0.0.0/4 routed to it, so Link's discovery never leaves the machine. Inside one,
``python -m gridtonic.link.rig [PHASE_SECONDS [CHANGES]]`` plays the scenario of :func:`peers`, prints
one JSON object: how long tempo and start/stop took each way, how far apart the two peers' beats
are at the same host times (ms, over ``PHASE_SECONDS``), where gridtonic's bar lines sound in the
peer's phase, what a peer's out-of-range tempo did, and gridtonic's log lines.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import trio

from gridtonic.core.sequencer import Hit, Sequencer
from gridtonic.core.session import Session, Track
from gridtonic.link.clock import QUANTUM, TEMPO_RANGE, LinkClock
from gridtonic.sound.engine import DEFAULT_LATENCY

SETUP = 'ip link set lo up multicast on && ip route add 224.0.0.0/4 dev lo && exec "$@"'
SAMPLE = 0.005  # s between readings of gridtonic's beat
WIDE = 5e-4  # s: a peer's sample read in a wider window (its process preempted) is left out
PHASE_SECONDS = 4.0
WAIT = 10.0  # s any one change may take to reach the other peer before it counts as lost
SAME_TEMPO = 1e-3  # BPM: Link sends a tempo as whole µs a beat (137 BPM arrives as 137.00006)


def namespaced(argv: Sequence[str]) -> list[str] | str:
    """``argv`` in a new network namespace with multicast on ``lo`` only, or why none can be made
    here (a plain one as root, else a user namespace mapping the caller to root)."""
    if not (shutil.which("unshare") and shutil.which("ip")):
        return "unshare or ip (util-linux, iproute2) not installed"
    tried = []
    for unshare in (["unshare", "--net"], ["unshare", "--user", "--map-root-user", "--net"]):
        probe = subprocess.run([*unshare, "sh", "-c", SETUP, "sh", "true"], capture_output=True, text=True)
        if probe.returncode == 0:
            return [*unshare, "sh", "-c", SETUP, "sh", *argv]
        tried.append(f"{' '.join(unshare)}: {probe.stderr.strip() or probe.returncode}")
    return "network namespaces not allowed here (" + "; ".join(tried) + ")"


def phase_ms(peer: np.ndarray, ours: np.ndarray, tempo: float) -> np.ndarray:
    """The peer's beat minus ours at the peer's sample times (ours interpolated), wrapped to half a
    bar either way, in ms at ``tempo``. Rows of (host time, beat)."""
    inside = (peer[:, 0] > ours[0, 0]) & (peer[:, 0] < ours[-1, 0])
    diff = peer[inside, 1] - np.interp(peer[inside, 0], ours[:, 0], ours[:, 1])
    return (np.mod(diff + QUANTUM / 2, QUANTUM) - QUANTUM / 2) * 60000.0 / tempo


def figures(ms: np.ndarray | list[float]) -> dict[str, float]:
    """Size of a set of differences: count, median, 99th percentile and largest (absolute ms)."""
    a = np.abs(np.asarray(ms, dtype=float))
    if not len(a):
        return {"n": 0}
    return {"n": int(len(a)), "p50": float(np.median(a)), "p99": float(np.percentile(a, 99)),
            "max": float(a.max())}


class Rig:
    """gridtonic's side: a LinkClock driving a sequencer whose one track plays every bar's downbeat,
    sampled on the host's clock at the time each beat *sounds* (``latency`` after it is handed out)."""

    def __init__(self, tempo: float = 120.0, latency: float = DEFAULT_LATENCY):
        track = Track(name="kick")
        track.set_pattern("x" + "-" * 15)
        self.session = Session(tracks=[track], tempo=tempo)
        self.clock = LinkClock(tempo, latency)
        self.hits: list[Hit] = []
        self.sequencer = Sequencer(self.session, self.clock, [self.hits.append])
        self.to_host = time.monotonic() - trio.current_time()  # trio time → time.monotonic (one clock)
        self.beats: list[tuple[float, float]] = []  # (host time it sounds, gridtonic's beat)
        self.peer: list[dict[str, Any]] = []  # the peer's samples
        self._peer_in: trio.abc.SendStream | None = None

    def host(self) -> float:
        return trio.current_time() + self.to_host

    async def run(self, nursery: trio.Nursery, peer_tempo: float) -> None:
        await nursery.start(self.sequencer.run)
        await nursery.start(self.clock.run, self.sequencer)
        nursery.start_soon(self._sample)
        argv = [sys.executable, "-m", "gridtonic.link.peer", str(peer_tempo)]
        proc = await nursery.start(partial(trio.run_process, argv, stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, check=False))  # cancelled: killed
        self._peer_in = proc.stdin
        nursery.start_soon(self._read_peer, proc.stdout)

    async def _sample(self) -> None:
        while True:
            now = trio.current_time()
            self.beats.append((now + self.to_host + self.clock.latency, self.clock.beat_at(now)))
            await trio.sleep(SAMPLE)

    async def _read_peer(self, stream: trio.abc.ReceiveStream) -> None:
        pending = b""
        async for data in stream:
            *lines, pending = (pending + data).split(b"\n")
            self.peer += [json.loads(line) for line in lines]

    async def tell(self, **cmd: Any) -> float:
        """Send the peer a command; returns the host time it was sent."""
        assert self._peer_in is not None
        sent = self.host()
        await self._peer_in.send_all(json.dumps(cmd).encode() + b"\n")
        return sent

    async def end_peer(self) -> None:
        assert self._peer_in is not None
        await self._peer_in.aclose()

    async def until(self, since: float, cond: Callable[[], bool]) -> float | None:
        """Seconds from host time ``since`` until ``cond`` held (polled each ``SAMPLE``); None if never
        within ``WAIT``."""
        with trio.move_on_after(WAIT):
            while not cond():
                await trio.sleep(SAMPLE)
            return self.host() - since
        return None

    def peer_shows(self, since: float, cond: Callable[[dict[str, Any]], bool]) -> Callable[[], bool]:
        """Whether a sample the peer took after ``since`` meets ``cond``."""
        return lambda: any(s["m"] >= since and cond(s) for s in self.peer[-20:])

    def peer_line(self, since: float, until: float) -> np.ndarray:
        """(host time, beat) of the peer's samples from ``since`` to ``until``, preempted ones left out."""
        rows = [(s["m"], s["beat"]) for s in self.peer if since <= s["m"] <= until and s["w"] <= WIDE]
        return np.array(rows).reshape(-1, 2)

    def phase(self, since: float) -> dict[str, float]:
        """How far the peer's beat is from ours since ``since`` (ms)."""
        peer, ours = self.peer_line(since, self.host()), np.array(self.beats)
        return figures(phase_ms(peer, ours[ours[:, 0] >= since], self.clock.tempo))

    def bar_lines_ms(self, since: float) -> list[float]:
        """Where each downbeat handed out since ``since`` sounds in the peer's phase (ms from its bar
        line; the peer's beat interpolated at the hit's time plus the latency)."""
        peer = self.peer_line(since - 1.0, self.host())
        out = []
        for h in self.hits:
            sounds = h.time + self.to_host + self.clock.latency
            if h.step % 16 == 0 and sounds >= since and peer[0, 0] < sounds < peer[-1, 0]:
                beat = float(np.interp(sounds, peer[:, 0], peer[:, 1]))
                out.append(math.remainder(beat, QUANTUM) * 60000.0 / self.clock.tempo)
        return out


async def peers(phase_seconds: float = PHASE_SECONDS, changes: int = 1) -> dict[str, Any]:
    """Two peers: joining, ``changes`` tempo changes each way (ending at 137 BPM), phase agreement,
    start/stop each way with the bar lines after each start, and a peer's tempo out of the
    session's range."""
    rig, out = Rig(120.0), {}
    async with trio.open_nursery() as n:
        await rig.run(n, 90.0)
        t = rig.host()
        out["joined_s"] = await rig.until(t, lambda: rig.clock.peers == 1 and rig.peer_shows(
            t, lambda s: s["peers"] == 1)())
        out["tempo_at_join"] = [rig.clock.tempo, rig.peer[-1]["tempo"]]

        out["tempo_to_peer_s"], out["tempo_from_peer_s"] = [], []
        for i in range(changes):
            t = rig.host()
            rig.clock.set_tempo(100.0 + i, trio.current_time())
            out["tempo_to_peer_s"].append(await rig.until(t, rig.peer_shows(
                t, lambda s, bpm=100.0 + i: abs(s["tempo"] - bpm) < SAME_TEMPO)))
            await trio.sleep(0.1)
            bpm = 137.0 + changes - 1 - i
            t = await rig.tell(tempo=bpm)
            out["tempo_from_peer_s"].append(await rig.until(
                t, lambda bpm=bpm: abs(rig.clock.tempo - bpm) < SAME_TEMPO))
            await trio.sleep(0.1)
        out["session_tempo"] = rig.session.tempo

        await trio.sleep(0.5)
        t = rig.host()
        await trio.sleep(phase_seconds)
        out["phase_ms"] = rig.phase(t)

        t = await rig.tell(playing=True)
        out["start_from_peer_s"] = await rig.until(t, lambda: rig.sequencer.playing)
        await trio.sleep(4 * QUANTUM * 60.0 / rig.clock.tempo)  # four bars
        out["bar_lines_after_peer_start_ms"] = rig.bar_lines_ms(t)
        out["phase_playing_ms"] = rig.phase(t + 1.0)
        t = await rig.tell(playing=False)
        out["stop_from_peer_s"] = await rig.until(t, lambda: not rig.sequencer.playing)

        await trio.sleep(0.3)
        t = rig.host()
        rig.sequencer.start()
        out["start_to_peer_s"] = await rig.until(t, rig.peer_shows(t, lambda s: s["playing"]))
        await trio.sleep(4 * QUANTUM * 60.0 / rig.clock.tempo)
        out["bar_lines_after_own_start_ms"] = rig.bar_lines_ms(t)
        t = rig.host()
        rig.sequencer.stop()
        out["stop_to_peer_s"] = await rig.until(t, rig.peer_shows(t, lambda s: not s["playing"]))

        t = await rig.tell(tempo=999.0)  # Link's own limit, past the session's
        out["tempo_over_range_s"] = await rig.until(t, lambda: rig.clock.tempo == TEMPO_RANGE[1])
        await trio.sleep(0.5)
        out["tempo_over_range"] = [rig.clock.tempo, rig.session.tempo]
        t = await rig.tell(tempo=120.0)
        out["tempo_back_s"] = await rig.until(t, lambda: abs(rig.clock.tempo - 120.0) < SAME_TEMPO)
        await trio.sleep(0.5)
        t = rig.host()
        await trio.sleep(1.0)
        out["phase_after_over_range_ms"] = rig.phase(t)

        await rig.end_peer()
        n.cancel_scope.cancel()
    return out


def main(phase_seconds: float = PHASE_SECONDS, changes: int = 1) -> dict[str, Any]:
    """The scenario, with gridtonic's log lines and the network namespace it ran in."""
    logs: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: logs.append(f"{record.levelname} {record.getMessage()}")  # type: ignore[method-assign]
    logging.getLogger("gridtonic").addHandler(handler)
    logging.getLogger("gridtonic").setLevel(logging.INFO)
    result = trio.run(peers, phase_seconds, changes)
    result["log"] = logs
    result["netns"] = os.readlink("/proc/self/ns/net")
    return result


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(main(float(args[0]) if args else PHASE_SECONDS, int(args[1]) if args[1:] else 1)))
