"""What a voice looks like: its tone and noise amplitude envelopes and its pitch sweep over time.

The same formulas as ``engine/supertonic.scd`` (its ``Env``s, ``Decay``, the "decayer", the mix
weights, the clap's impulse train and the voice's life), so the page's picture of a patch is the
sound's own shape, not an illustration; ``tests/test_envelope.py`` checks it against a render.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gridtonic.core import params

QUARTER = math.pi / 2
LOG_MILLI = math.log(0.001)  # Decay's time is to -60 dB
NOISE_DECAY = 1.4  # the engine stretches nEnvDcy by this
# scsynth's Decay takes Impulse.ar(0)'s first sample twice (measured on renders: a decay sweep starts
# at 2x the depth a sine sweep reaches, at every modAmt and modVel), so modAmt is not halved there
DECAY_START = 2.0


@dataclass(frozen=True)
class Picture:
    """A patch sampled at ``times`` (s): amplitudes 0–1 scaled by the mix (the louder part peaks at
    1), the pitch in Hz (empty when the tone has none: no tone, or the noise oscillator) with its
    lowest and highest value, and the voice's length in s."""

    times: tuple[float, ...]
    tone: tuple[float, ...]
    noise: tuple[float, ...]
    pitch: tuple[float, ...]
    pitch_range: tuple[float, float]
    random_pitch: bool  # modMode Noise: the sweep is random inside pitch_range
    length: float


def decayer(dist_amt: float) -> float:
    """The engine's SelectX(d, [0.05, 0.3 d]): the osc envelope's first decay, as a share of oscDcy."""
    d = dist_amt / 100
    return 0.05 * math.cos(d * QUARTER) + 0.3 * d * math.sin(d * QUARTER)


def mix_weights(mix: float) -> tuple[float, float]:
    """(tone, noise) gains of the engine's logistic 3-way mix (mix ≤ 50: no tone, noise ×2 at 50)."""
    idx = 2 / (1 + 2.7182 ** ((50 - mix) / 8))
    c = math.cos(idx * QUARTER)
    return max(-c, 0.0), 2 * math.sin(idx * QUARTER) + 0.5 * max(c, 0.0)


def _segments(levels: Sequence[float], durations: Sequence[float], t: float, exponential: bool) -> float:
    """An ``EnvGen`` of ``Env(levels, durations, \\exp or \\lin)`` at ``t`` s (holds its last level)."""
    if t < 0:
        return levels[0]
    for a, b, d in zip(levels, levels[1:], durations, strict=False):
        if t < d:
            x = t / d
            return a * (b / a) ** x if exponential else a + (b - a) * x
        t -= d
    return levels[-1]


def _times(p: Mapping[str, float]) -> tuple[float, float, float, float]:
    """(oscAtk, oscDcy, nEnvAtk, nEnvDcy) in s, the noise decay stretched as the engine does."""
    return p["oscAtk"] / 1000, p["oscDcy"] / 1000, p["nEnvAtk"] / 1000, p["nEnvDcy"] / 1000 * NOISE_DECAY


def length(p: Mapping[str, float]) -> float:
    """When the voice frees itself (s): the longer of the osc and exp-noise envelopes, as the engine."""
    oa, od, na, nd = _times(p)
    return oa + od + od * decayer(p["distAmt"]) if oa + od > na + nd else na + nd


def tone_envelope(p: Mapping[str, float], t: float) -> float:
    """The osc envelope (0.0001 → 1 → 0.9 → 0.0001, exponential) at ``t`` s."""
    oa, od, _, _ = _times(p)
    return _segments((0.0001, 1, 0.9, 0.0001), (oa, od * decayer(p["distAmt"]), od), t, True)


def noise_envelope(p: Mapping[str, float], t: float) -> float:
    """The noise envelope of the patch's nEnvMod (Exp, Linear, Mod = clap) at ``t`` s."""
    _, _, na, nd = _times(p)
    mode = round(p["nEnvMod"])
    if mode == 0:
        return _segments((0.001, 1, 0.0001), (na, nd), t, True)
    if mode == 1:
        k = decayer(p["distAmt"])
        return _segments((0.0001, 1, 0.9, 0.0001), (na, nd * k, nd * (1 - k)), t, False)
    rate = 4311 / (na * 1000 + 28.4) + 11.44  # the clap: a decaying impulse train during the attack
    period = 1 / rate
    claps = 0.0
    if 0 <= t < na + 0.001:
        claps = 0.85 * math.exp(LOG_MILLI * (t % period) / period) + 0.15
    return claps + _segments((0.001, 0.001, 1, 0.0001), (na, 0.001, nd), t, True)


def _velocity_factor(sens: float, velocity: float) -> float:
    return 1 - sens / 200 * (1 - velocity)


def pitch_function(p: Mapping[str, float], velocity: float = 1.0) -> tuple[Callable[[float], float], float]:
    """(Hz at t, depth in semitones) of the osc: oscFreq + 5 Hz moved by the modulation, whose
    depth is modAmt/2 with the modVel trim and velocity (the Decay sweep starts at twice that)."""
    depth = p["modAmt"] / 2 * (2 - p["modVel"] / 100) * _velocity_factor(p["modVel"], velocity)
    base = 69 + 12 * math.log2((p["oscFreq"] + 5) / 440)
    rate = p["modRate"]
    mode = round(p["modMode"])

    def shape(t: float) -> float:
        if mode == 0:  # Decay.ar(Impulse.ar(0), 1 / (2 modRate)), which starts at 2, not 1
            return DECAY_START * math.exp(LOG_MILLI * t * 2 * rate)
        if mode == 1:  # SinOsc.ar(-modRate)
            return math.sin(-2 * math.pi * rate * t)
        return 0.0  # random: drawn as its range

    return (lambda t: 440 * 2 ** ((base + depth * shape(t) - 69) / 12)), depth


def picture(patch: Mapping[str, float], points: int = 256, duration: float | None = None,
            velocity: float = 1.0) -> Picture:
    """``patch`` (clamped like any patch) sampled at ``points`` times over ``duration`` s (default
    its length, at least 10 ms)."""
    p = params.defaults() | {k: params.BY_NAME[k].clamp(v) for k, v in patch.items() if k in params.BY_NAME}
    life = length(p)
    span = max(duration if duration is not None else life, 0.01)
    n = max(2, min(int(points), 100_000))
    times = tuple(span * i / (n - 1) for i in range(n))
    tone_w, noise_w = mix_weights(p["mix"])
    has_tone = p["mix"] > 50
    noise_osc = round(p["modMode"]) == 2 and p["oscDcy"] >= 100
    tone_gain = 1 - p["oscVel"] / 200
    noise_gain = 0.5 ** 0.5 * (1 - p["nVel"] / 200)
    gain_t = tone_w * tone_gain * (0.5 if round(p["oscWave"]) else 1) if has_tone else 0.0
    gain_n = noise_w * noise_gain
    top = max(gain_t, gain_n) or 1.0

    def alive(t: float) -> float:
        return 1.0 if t <= life else 0.0

    def scaled(env: Callable[[Mapping[str, float], float], float], gain: float) -> tuple[float, ...]:
        values = [env(p, t) * alive(t) for t in times]
        peak = max(1.0, *values)  # the clap's impulses ride on its envelope
        return tuple(v / peak * gain / top for v in values)

    tone, noise = scaled(tone_envelope, gain_t), scaled(noise_envelope, gain_n)
    if not has_tone or noise_osc:
        return Picture(times, tone, noise, (), (0.0, 0.0), False, life)
    hz, depth = pitch_function(p, velocity)
    pitch = tuple(hz(t) for t in times)
    random = round(p["modMode"]) == 2
    lo, hi = sorted((hz(0) * 2 ** (-abs(depth) / 12), hz(0) * 2 ** (abs(depth) / 12))) if random else \
        (min(pitch), max(pitch))
    return Picture(times, tone, noise, pitch, (lo, hi), random, life)
