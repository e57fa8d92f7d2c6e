"""Offline rendering through ``scsynth -N``: the same SynthDefs and messages as live, into a WAV.

A score gets a fixed preamble at t = 0 (load the defs, create the voice group 1 and the mixer, seed
the RNG so the noise is repeatable), the caller's time-stamped messages, and ``/c_set 0 0`` at the
end time.

scsynth writes the file itself, so the header is chosen up front (``output``): float WAV, RF64 when a
WAV's 32-bit sizes cannot hold it (over 4 GB), W64/RF64/FLAC (24-bit) by the file's suffix. It
writes to a hidden name beside the target, renamed at the end, so a failed or interrupted render
leaves no half file (and an older file of that name intact).
"""

from __future__ import annotations

import math
import os
import re
import select
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from gridtonic.io import osc
from gridtonic.sound import synthdefs

SEED_NODE = 999
HIT_NODE = 1000
RENDER_TIMEOUT_S = 600.0  # beyond the audio's own length: NRT runs faster than realtime
BLOCK = 64  # scsynth's block size: NRT writes whole blocks, one past the end time
WAV_MAX_DATA = 2**32 - 4096  # RIFF sizes are 32-bit; room for the header
SUFFIX_FORMATS = {".w64": ("W64", "float", 4), ".rf64": ("RF64", "float", 4), ".flac": ("FLAC", "int24", 3)}
SUBTYPES = {"float": "FLOAT", "int24": "PCM_24"}  # our sample formats as libsndfile names them
COPY_FRAMES = 1 << 16  # extract copies this many frames at a time, whatever the file's length
_PACKET = re.compile(rb"nextOSCPacket ([0-9.eE+-]+)$")


class RenderError(RuntimeError):
    """scsynth could not render the score."""


@dataclass(frozen=True)
class Output:
    """How scsynth will write a render: header and sample format, and the audio's size in bytes
    (the header adds under 4 KB; FLAC compresses it)."""

    header: str
    sample: str
    nbytes: int


def output(path: Path | str, duration: float, sample_rate: int = 48000, channels: int = 2) -> Output:
    """The file a render of ``duration`` seconds to ``path`` makes: W64, RF64 or FLAC by suffix,
    else WAV, or RF64 when the audio is too big for WAV's 4 GB."""
    header, sample, width = SUFFIX_FORMATS.get(Path(path).suffix.lower(), ("WAV", "float", 4))
    frames = (math.floor(duration * sample_rate / BLOCK) + 1) * BLOCK
    data = frames * channels * width
    if header == "WAV" and data > WAV_MAX_DATA:
        header = "RF64"
    return Output(header, sample, data)


def preamble(seed: int = 1, defs_dir: Path | None = None, level_db: float = 0.0, limit: bool = True
             ) -> list[bytes]:
    """Messages at t = 0: load the defs, the engine's setup (voice group 1, the mixer with the master
    level ``level_db`` and the limiter unless not ``limit``, the global lowpass) and a synth seeding
    the shared RNG at the head of group 0."""
    d = Path(defs_dir) if defs_dir is not None else synthdefs.synthdef_dir()
    if not any(d.glob("*.scsyndef")):
        raise RenderError(f"no SynthDefs in {d}: run `python -m gridtonic.sound.synthdefs {d}` first")
    return [
        osc.message("/d_loadDir", str(d.resolve())),
        *synthdefs.setup_messages(level_db, limit),
        osc.message("/s_new", synthdefs.SEED_DEF, SEED_NODE, 0, 0, "seed", int(seed)),
    ]


def render(
    events: Sequence[tuple[float, Sequence[bytes]]],
    path: Path | str,
    duration: float,
    sample_rate: int = 48000,
    seed: int = 1,
    channels: int = 2,
    defs_dir: Path | None = None,
    progress: Callable[[float], None] | None = None,
    level_db: float = 0.0,
    limit: bool = True,
) -> Path:
    """Render ``events`` ((seconds, [OSC messages])) for ``duration`` seconds into ``path``, in the
    format ``output`` names, at master level ``level_db`` and limited (unless not ``limit``);
    ``progress`` gets the score time scsynth has reached, as it goes."""
    scsynth = shutil.which("scsynth")
    if scsynth is None:
        raise RenderError("scsynth not found: install supercollider-server")
    out = Path(path).resolve()
    fmt = output(out, duration, sample_rate, channels)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    score = [(0.0, preamble(seed, defs_dir, level_db, limit)), *events,
             (float(duration), [osc.message("/c_set", 0, 0)])]
    try:
        with tempfile.TemporaryDirectory(prefix="gridtonic-nrt-") as tmp:
            score_path = Path(tmp) / "score.osc"
            score_path.write_bytes(osc.nrt_score(score))
            cmd = [scsynth, "-N", str(score_path), "_", str(partial), str(int(sample_rate)), fmt.header,
                   fmt.sample, "-o", str(int(channels))]
            rc, log = _run(cmd, tmp, RENDER_TIMEOUT_S + duration, progress or (lambda t: None))
        if rc != 0 or not partial.exists():
            raise RenderError(f"scsynth -N failed (rc {rc}):\n{log[-3000:]}")
        unstamp(partial)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def unstamp(path: Path | str) -> None:
    """Zero the time stamp in a WAV's PEAK chunk (version, then seconds since 1970), in place; the
    peaks themselves stay. Other files (W64, RF64, FLAC carry no PEAK chunk) are left as they are."""
    with open(path, "r+b") as f:
        riff = f.read(12)
        if riff[:4] != b"RIFF" or riff[8:] != b"WAVE":
            return
        at = 12
        while len(head := f.read(8)) == 8 and head[:4] != b"data":
            size = struct.unpack("<I", head[4:])[0]
            if head[:4] == b"PEAK":
                f.seek(at + 12)
                f.write(bytes(4))
                return
            at += 8 + size + size % 2
            f.seek(at)


def extract(source: Path | str, target: Path, start: int, frames: int, sample_rate: int = 48000) -> Path:
    """Write ``frames`` frames of the render ``source`` from frame ``start`` to ``target``, in the
    format ``output`` names for it, under a hidden name renamed at the end (as ``render`` does)."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    fmt = output(target, frames / sample_rate, sample_rate)
    try:
        with sf.SoundFile(str(source)) as src:
            if start + frames > src.frames:
                raise RenderError(f"{source}: {src.frames} frames, not {start} + {frames}")
            src.seek(start)
            with sf.SoundFile(str(partial), "w", sample_rate, src.channels, SUBTYPES[fmt.sample],
                              format=fmt.header) as out:
                for done in range(0, frames, COPY_FRAMES):
                    out.write(src.read(min(COPY_FRAMES, frames - done), dtype="float32", always_2d=True))
        unstamp(partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _run(cmd: list[str], cwd: str, timeout: float, progress: Callable[[float], None]) -> tuple[int, str]:
    """Run scsynth -N, reporting each ``nextOSCPacket`` time it prints; its exit status and output.
    It is killed if it overruns ``timeout`` or the caller is interrupted (KeyboardInterrupt)."""
    deadline = time.monotonic() + timeout
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    log = line = b""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RenderError(f"scsynth -N timed out after {timeout:.0f} s")
            if not select.select([proc.stdout], [], [], left)[0]:
                continue
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            if not chunk:
                break
            *lines, line = (line + chunk).split(b"\n")
            for m in filter(None, map(_PACKET.match, lines)):
                progress(float(m.group(1)))
            log = (log + chunk)[-6000:]
        return proc.wait(), log.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def render_hit(
    patch: Mapping[str, float],
    path: Path | str,
    duration: float,
    velocity: float = 1.0,
    pan: float = 0.0,
    seed: int = 1,
    defs_dir: Path | None = None,
) -> Path:
    """Render a single hit at sample 0."""
    note = synthdefs.voice_message(patch, HIT_NODE, velocity, pan)
    return render([(0.0, [note])], path, duration, seed=seed, defs_dir=defs_dir)
