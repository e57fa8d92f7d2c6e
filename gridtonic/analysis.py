"""Onset measurement in rendered or recorded audio, and the figures benchmarks print."""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
import trio

from gridtonic.io import osc
from gridtonic.sound import scsynth, synthdefs

if TYPE_CHECKING:
    from gridtonic.app import Instrument
    from gridtonic.core.sequencer import Sequencer


def onsets(path: Path, threshold: float = 0.01, min_gap: float = 0.03) -> np.ndarray:
    """Sample indices where the signal first rises above ``threshold`` after ``min_gap`` s below it.

    Hits of one voice are identical waveforms placed sample-exactly by OffsetOut, so a fixed
    threshold crosses each at the same offset: differences between onsets are exact in samples.
    """
    x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    return onsets_in(np.abs(x).max(axis=1), sr, threshold, min_gap)


def onsets_in(x: np.ndarray, sr: int, threshold: float = 0.01, min_gap: float = 0.03) -> np.ndarray:
    """``onsets`` of one signal already in memory (a channel, say)."""
    idx = np.flatnonzero(np.abs(x) > threshold)
    if idx.size == 0:
        return idx
    gap = int(min_gap * sr)
    starts = [idx[0]] + [b for a, b in zip(idx[:-1], idx[1:], strict=True) if b - a > gap]
    return np.asarray(starts)


# A short pure-tone click: every hit is the same waveform, so onsets measure to the sample.
CLICK = {"mix": 100.0, "oscFreq": 1000.0, "oscDcy": 15.0, "nEnvDcy": 1.0, "distAmt": 0.0, "level": 0.0}


async def capture(inst: Instrument, path: Path, seconds: float,
                  during: Callable[[float], Awaitable[None]] | None = None,
                  settle: float = 1.0) -> tuple[float, float]:
    """Run ``inst`` for ``seconds`` while recording scsynth's output to ``path``, from ``settle`` s
    after it started (a fresh scsynth's time line settles in its first second: recorded sooner,
    notes read up to 11 ms off their times in a full-suite run); ``during(start)``
    (a test's MIDI device, say) runs alongside from the start of the recording.

    Returns the recording's start on the sequencer's clock (trio time), so onsets in the file can
    be compared with the hits' ideal times (recording starts on a control block: ±64 samples),
    and the audio clock's actual sample rate as scsynth measures it against the system clock
    (time tags are system time; a sound card's, or JACK dummy's, clock runs slightly off it).
    """
    async with trio.open_nursery() as n:
        await n.start(inst.run)
        start = trio.current_time() + settle
        await inst.server.record(path, at=start + inst.latency + time.time() - trio.current_time())
        if during is not None:
            n.start_soon(during, start)
        await trio.sleep_until(start + seconds)
        rate = (await inst.server.status())["actual_sr"]
        await inst.server.stop_recording()
        n.cancel_scope.cancel()
    return start, rate


def grid(found: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Onsets of a steady pulse against the straight line through them: (period in samples,
    onset errors, inter-onset interval errors). The line, not the nominal rate, is the reference
    because the audio clock (a sound card's or JACK dummy's) runs slightly off system time."""
    k = np.arange(len(found))
    period, offset = np.polyfit(k, found.astype(float), 1)
    return float(period), found - (offset + period * k), np.diff(found) - period


async def traffic(sequencer: Sequencer, count: Callable[[], float], seconds: float) -> dict[str, float]:
    """What ``count()`` grows by per second while playing at the session's tempo, then idle: how
    much a surface sends to its device (LED messages, SysEx bytes) in each state."""
    rates = {}
    for label, playing in (("playing at 120 BPM", True), ("idle", False)):
        sequencer.start() if playing else sequencer.stop()
        await trio.sleep(0.5)
        before = count()
        await trio.sleep(seconds)
        rates[label] = (count() - before) / seconds
    return rates


def latencies(ms: Sequence[float]) -> str:
    """"n=…, p50 … ms, p99 … ms, max … ms" of latencies in milliseconds: how every latency bench
    reports."""
    if len(ms) == 0:
        return "none"
    a = np.asarray(ms, dtype=float)
    return (f"n={len(a)}, p50 {np.percentile(a, 50):.2f} ms, p99 {np.percentile(a, 99):.2f} ms, "
            f"max {a.max():.2f} ms")


async def sound_back(port: int) -> float:
    """When scsynth on ``port`` plays again (after a restart, say): the trio time of the first voice
    it starts once it answers /status. Runs until then; cancel it to give up."""
    while not await scsynth.answers(port, timeout=0.05):
        pass
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        await sock.bind(("127.0.0.1", 0))
        await sock.sendto(osc.message("/notify", 1), ("127.0.0.1", port))
        while True:  # /done, then node events: /n_go node parent prev next is-group
            address, args = osc.parse(await sock.recv(65536))
            if address == "/n_go" and args[1] == synthdefs.VOICE_GROUP and args[4] == 0:
                return trio.current_time()
