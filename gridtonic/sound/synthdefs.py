"""The engine's SynthDefs seen from Python: where they live, how to build them, how to play one.

engine/supertonic.scd holds one SynthDef per combination of the discrete parameters (so scsynth
computes only the chosen branches); this module picks the def for a patch, flattens the continuous
parameters into /s_new arguments and predicts when a voice frees itself, mirroring the .scd's
formulas. Build: ``python -m gridtonic.sound.synthdefs OUTDIR``.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from gridtonic.core.params import BY_NAME, DISCRETE, PARAMS, defaults
from gridtonic.core.resources import in_checkout, resource_dir
from gridtonic.io import osc
from gridtonic.io.store import data_dir
from gridtonic.sound import mixer

ENGINE_DIR = resource_dir("engine", "supertonic.scd")
SOURCE = ENGINE_DIR / "supertonic.scd"
MIXER = ENGINE_DIR / "mixer.scd"  # per-track meters, master level and limiter (sound.mixer)
BUILDER = ENGINE_DIR / "build.scd"
STAMP = ".source"  # in a defs folder: source_hash() of what it was built from
ENV_VAR = "GRIDTONIC_SYNTHDEFS"
BUILD_TIMEOUT_S = 180.0

SEED_DEF = "supertonic_seed"  # RandSeed once, for deterministic offline renders
LPF_DEF = "supertonic_lpf"  # the global lowpass and 20 Hz HPF, one per engine (not per voice)
VOICE_GROUP = 1
LPF_NODE = 998

# Sent to every voice; the discrete parameters are encoded in the def name instead.
CONTINUOUS: tuple[str, ...] = tuple(p.name for p in PARAMS if p.name not in DISCRETE)

WAVE_NOISE = 3  # modMode "Noise" with oscDcy >= 100 ms: lowpassed noise replaces the oscillator
RAW_RANDOM = 3  # modMode "Random" whose noise changes every sample: the def without its Lag ...
RAW_RANDOM_RATE = 48000 / 4  # ... from this modRate (its noise runs at 4 modRate; 48 kHz and below)
WAVE_NONE = 4  # mix <= 50: the tone's weight in the mix is exactly 0
SINE_Q = math.exp(-0.0343 / 0.1092)  # nFilQ above this gives the special Q's sine a weight (~0.73) ...
SINE_FILTER = 3  # ... and adds this to the filter digit: the def with the sine (the others leave it out)
NO_EQ = "n"  # name suffix of a def without the final EQ: its track's mixer synth runs it (sound.voices)


def synthdef_dir() -> Path:
    """Directory of the compiled defs: $GRIDTONIC_SYNTHDEFS, else <checkout>/build/synthdefs, or for an
    installed wheel the user data dir's synthdefs/ (built there on first run)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return ENGINE_DIR.parent / "build" / "synthdefs" if in_checkout() else data_dir() / "synthdefs"


class BuildError(RuntimeError):
    """sclang could not compile the SynthDefs."""


def build(outdir: Path | str | None = None, source: Path | str | None = None) -> Path:
    """Compile ``source`` (default: the voices and the mixer, then stamped: ``current``) headless
    with sclang into ``outdir`` (default synthdef_dir()); returns it."""
    out = Path(outdir) if outdir is not None else synthdef_dir()
    for src in (SOURCE, MIXER) if source is None else (source,):
        _compile(Path(src), out)
    if source is None:
        (out / STAMP).write_text(source_hash() + "\n")
    return out


def source_hash() -> str:
    """The engine's sources as built: the voices, the mixer and the build script."""
    digest = hashlib.sha256()
    for path in (SOURCE, MIXER, BUILDER):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def current(folder: Path | None = None) -> bool:
    """The defs in ``folder`` (default synthdef_dir()) were built from these sources: an engine
    updated since (a new def, a changed one) is built again, not played with the old defs."""
    try:
        return (folder or synthdef_dir()).joinpath(STAMP).read_text().strip() == source_hash()
    except OSError:
        return False


def _compile(source: Path, out: Path) -> None:
    sclang = shutil.which("sclang")
    if sclang is None:
        raise BuildError(
            "sclang not found: install SuperCollider's language, e.g. "
            "`apt-get install --no-install-recommends supercollider-language supercollider-server`"
        )
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QTWEBENGINE_DISABLE_SANDBOX="1")
    cmd = [sclang, str(BUILDER), str(Path(source).resolve()), str(out.resolve())]
    try:
        r = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=BUILD_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as e:
        raise BuildError(f"sclang timed out after {BUILD_TIMEOUT_S:.0f} s building {source}") from e
    if r.returncode != 0 or "BUILD OK" not in r.stdout:
        raise BuildError(f"sclang failed (rc {r.returncode}) building {source}:\n{r.stdout}{r.stderr}")


def setup_messages(level_db: float = 0.0, limit: bool = True) -> list[bytes]:
    """Engine setup once the defs are loaded, live and offline alike: the voice group 1 and, after it,
    the global lowpass (the original's fx_lowpass_freq/rq) with every voice's 20 Hz HPF. It must run:
    at its defaults (20 kHz, rq 1) it still shapes the top octave of the original's tone. Around it
    the mixer (``mixer.setup_messages``): the track meters before it, the master level ``level_db``
    and the limiter (unless not ``limit``) after it."""
    return [osc.message("/g_new", VOICE_GROUP, 0, 0), osc.message("/s_new", LPF_DEF, LPF_NODE, 1, 0),
            *mixer.setup_messages(level_db, limit, LPF_NODE)]


def lpf_message(freq: float = 20000.0, rq: float = 1.0) -> bytes:
    """Set the global lowpass (20..20000 Hz, rq 0.05..1; the defaults are the original's tone)."""
    return osc.message("/n_set", LPF_NODE, "freq", float(freq), "rq", float(rq))


def _full(patch: Mapping[str, float]) -> dict[str, float]:
    """The patch's engine parameters with missing ones defaulted (other keys ignored)."""
    p = defaults()
    p.update({k: float(v) for k, v in patch.items() if k in BY_NAME})
    return p


def def_name(patch: Mapping[str, float], eq: bool = True) -> str:
    """Name of the SynthDef that plays ``patch`` (see the naming scheme in engine/supertonic.scd); not
    ``eq``: its variant without the final EQ, for a track bus whose mixer synth applies it."""
    p = _full(patch)
    mod = int(round(p["modMode"]))
    if p["mix"] <= 50:
        mod, wave = 0, WAVE_NONE
    elif mod == 2 and p["oscDcy"] >= 100:
        wave = WAVE_NOISE
    else:
        wave = int(round(p["oscWave"]))
        if mod == 2 and p["modRate"] >= RAW_RANDOM_RATE:
            mod = RAW_RANDOM
    filt = round(p["nFilMod"]) + (SINE_FILTER if p["nFilQ"] > SINE_Q else 0)
    digits = (mod, wave, filt, round(p["nEnvMod"]), round(p["nStereo"]))
    return "supertonic_" + "".join(str(int(d)) for d in digits) + ("" if eq else NO_EQ)


def mixing(patch: Mapping[str, float], pan: float = 0.0) -> tuple[float, ...]:
    """What a track's EQ synth applies to a voice of ``patch`` at ``pan`` played without its EQ
    (sound.voices: voices alike in it share one synth): its final EQ (eQFreq, eQGain) and, for a mono
    voice (nStereo off; its "n" def writes one channel), its level and pan too."""
    p = _full(patch)
    if round(p["nStereo"]):
        return p["eQFreq"], p["eQGain"]
    return p["eQFreq"], p["eQGain"], p["level"], float(pan)


def synth_args(patch: Mapping[str, float], velocity: float = 1.0, pan: float = 0.0) -> list:
    """Flat name/value list for /s_new: the continuous parameters, ``vel`` (0..1) and ``pan`` (-1..1)."""
    p = _full(patch)
    args: list = []
    for name in CONTINUOUS:
        args += [name, p[name]]
    return args + ["vel", float(velocity), "pan", float(pan)]


def voice_message(patch: Mapping[str, float], node: int, velocity: float = 1.0, pan: float = 0.0,
                  out: int = 0, eq: bool = True) -> bytes:
    """``/s_new`` that starts one voice at the head of the voice group, live and offline alike, on
    bus ``out`` (a track's mixer bus; 0: straight to the master); not ``eq``: without its final EQ
    (only for a track's shared-EQ bus, ``mixer.track_bus``, whose synth applies it, and, for a mono
    voice, its level and pan: ``mixing``)."""
    args = synth_args(patch, velocity, pan) + (["out", int(out)] if out else [])
    return osc.message("/s_new", def_name(patch, eq), node, 0, VOICE_GROUP, *args)


def _decayer(dist_amt: float) -> float:
    """The original's SelectX(distAmt/100, [0.05, 0.3 distAmt/100]) (equal-power crossfade)."""
    d = dist_amt / 100
    return 0.05 * math.cos(d * math.pi / 2) + 0.3 * d * math.sin(d * math.pi / 2)


def duration(patch: Mapping[str, float]) -> float:
    """Seconds from the hit until the voice frees itself at the latest (the original's rule, kept: the
    oscillator envelope's end if oscAtk+oscDcy is longer than the noise envelope, else the noise
    envelope's end). It goes sooner once its output has stayed under -70 dBFS for 20 ms."""
    p = _full(patch)
    osc_len = (p["oscAtk"] + p["oscDcy"]) / 1000
    noise_len = (p["nEnvAtk"] + p["nEnvDcy"] * 1.4) / 1000
    if osc_len > noise_len:
        return osc_len + p["oscDcy"] / 1000 * _decayer(p["distAmt"])
    return noise_len


def main(argv: list[str] | None = None) -> int:
    """CLI: build the SynthDefs into OUTDIR (default: synthdef_dir())."""
    args = sys.argv[1:] if argv is None else argv
    try:
        out = build(args[0] if args else None)
    except BuildError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"SynthDefs built in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
