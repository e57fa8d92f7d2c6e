"""Offline rendering through ``scsynth -N``: the same SynthDefs and messages as live, into a WAV.

A score gets a fixed preamble at t = 0 (load the defs, create the voice group 1, seed the RNG so the
noise is repeatable), the caller's time-stamped messages, and ``/c_set 0 0`` at the end time.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from gridtonic.io import osc
from gridtonic.sound import synthdefs

SEED_NODE = 999
HIT_NODE = 1000
RENDER_TIMEOUT_S = 600.0


class RenderError(RuntimeError):
    """scsynth could not render the score."""


def preamble(seed: int = 1, defs_dir: Path | None = None) -> list[bytes]:
    """Messages at t = 0: load the defs, the engine's setup (voice group 1, the global lowpass after
    it) and a synth seeding the shared RNG at the head of group 0."""
    d = Path(defs_dir) if defs_dir is not None else synthdefs.synthdef_dir()
    if not any(d.glob("*.scsyndef")):
        raise RenderError(f"no SynthDefs in {d}: run `python -m gridtonic.sound.synthdefs {d}` first")
    return [
        osc.message("/d_loadDir", str(d.resolve())),
        *synthdefs.setup_messages(),
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
) -> Path:
    """Render ``events`` ((seconds, [OSC messages])) for ``duration`` seconds into a float WAV."""
    scsynth = shutil.which("scsynth")
    if scsynth is None:
        raise RenderError("scsynth not found: install supercollider-server")
    out = Path(path).resolve()
    score = [(0.0, preamble(seed, defs_dir)), *events, (float(duration), [osc.message("/c_set", 0, 0)])]
    with tempfile.TemporaryDirectory(prefix="gridtonic-nrt-") as tmp:
        score_path = Path(tmp) / "score.osc"
        score_path.write_bytes(osc.nrt_score(score))
        cmd = [scsynth, "-N", str(score_path), "_", str(out), str(int(sample_rate)), "WAV", "float",
               "-o", str(int(channels))]
        try:
            r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=RENDER_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            raise RenderError(f"scsynth -N timed out after {RENDER_TIMEOUT_S:.0f} s") from e
    if r.returncode != 0 or not out.exists():
        raise RenderError(f"scsynth -N failed (rc {r.returncode}):\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    return out


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
