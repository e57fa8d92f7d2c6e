"""The supertonic voice's parameters: one table with ranges, units and defaults (norns' params idea).

Names are the engine's SynthDef argument names (the original supertonic's), so a patch is a plain
``dict[str, float]`` that goes to scsynth as it is. Units are Microtonic's: ms for times, Hz for
frequencies, semitones for ModAmt, dB for levels, % for mix and velocity sensitivities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from gridtonic.core import fields


@dataclass(frozen=True)
class Param:
    name: str
    minimum: float
    maximum: float
    default: float
    unit: str = ""
    choices: tuple[str, ...] = ()  # non-empty for discrete parameters (value = index)
    exponential: bool = False  # edited on a log scale (frequencies, Q)

    @property
    def discrete(self) -> bool:
        return bool(self.choices)

    def clamp(self, value: float) -> float:
        """Value limited to the range (discrete ones rounded to an index); NaN gives the default."""
        v = float(value)
        if math.isnan(v):
            return self.default
        v = min(max(v, self.minimum), self.maximum)
        return float(round(v)) if self.discrete else v

    def at(self, x: float) -> float:
        """The value at position ``x`` (0–1) of a knob or fader: linear over the range, on a log
        scale for exponential ones (the middle of 20 Hz–20 kHz is 632 Hz)."""
        x = min(max(x, 0.0), 1.0)
        if self.exponential and self.minimum > 0:
            return self.clamp(self.minimum * (self.maximum / self.minimum) ** x)
        return self.clamp(self.minimum + (self.maximum - self.minimum) * x)

    def position(self, value: float) -> float:
        """Where ``value`` sits on a knob or fader (0–1): ``at``'s inverse."""
        v = self.clamp(value)
        if self.exponential and self.minimum > 0:
            return math.log(v / self.minimum) / math.log(self.maximum / self.minimum)
        return (v - self.minimum) / (self.maximum - self.minimum)


PARAMS: tuple[Param, ...] = (
    Param("oscWave", 0, 2, 0, choices=("Sine", "Triangle", "Saw")),
    Param("oscFreq", 20, 20000, 54, "Hz", exponential=True),
    Param("oscAtk", 0, 10000, 0, "ms"),
    Param("oscDcy", 0, 10000, 500, "ms"),
    Param("modMode", 0, 2, 0, choices=("Decay", "Sine", "Noise")),
    Param("modRate", 0.1, 20000, 17, "Hz", exponential=True),
    Param("modAmt", -96, 96, 0, "sm"),
    Param("nFilMod", 0, 2, 0, choices=("LP", "BP", "HP")),
    Param("nFilFrq", 20, 20000, 1000, "Hz", exponential=True),
    Param("nFilQ", 0.1, 10000, 0.7, exponential=True),
    Param("nStereo", 0, 1, 0, choices=("Off", "On")),
    Param("nEnvMod", 0, 2, 0, choices=("Exp", "Linear", "Mod")),
    Param("nEnvAtk", 0, 10000, 0, "ms"),
    Param("nEnvDcy", 0, 10000, 320, "ms"),
    Param("mix", 0, 100, 50, "%"),
    Param("distAmt", 0, 100, 0),
    Param("eQFreq", 20, 20000, 1000, "Hz", exponential=True),
    Param("eQGain", -40, 40, 0, "dB"),
    Param("level", -100, 10, 0, "dB"),
    Param("oscVel", 0, 200, 100, "%"),
    Param("nVel", 0, 200, 100, "%"),
    Param("modVel", 0, 200, 100, "%"),
)

BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}
DISCRETE: frozenset[str] = frozenset(p.name for p in PARAMS if p.discrete)


def defaults() -> dict[str, float]:
    return {p.name: float(p.default) for p in PARAMS}


def clean(values: Mapping[str, float], where: str = "patch") -> dict[str, float]:
    """A complete, in-range patch from ``values``: unknown names dropped, out-of-range values
    clamped, missing and non-numbers defaulted (checked by ``fields``, whatever a file holds);
    each change logged once with ``where`` so the user can find it. A value a unit conversion left a
    rounding error past a bound (1000 / 0.05 ms = 20000.00000000002 Hz) is that bound, unremarked:
    a warning "clamped to 20000" would name no change anyone could hear."""
    out = defaults()
    fields.unknown(values, BY_NAME.keys(), where)
    for name, value in values.items():
        if (param := BY_NAME.get(name)) is not None:
            value = _snapped(value, param)
            v = fields.clamp(value, param.minimum, param.maximum, param.default, f"{where}.{name}")
            out[name] = param.clamp(v)
    return out


ROUNDING = 1e-9  # relative: a float conversion's error, far below any audible step


def _snapped(value: object, param: Param) -> object:
    """``value``, or the bound it passes by no more than rounding (anything else left for ``fields``)."""
    if isinstance(value, float) and math.isfinite(value):
        for bound in (param.minimum, param.maximum):
            if abs(value - bound) <= ROUNDING * max(1.0, abs(bound)):
                return float(bound)
    return value
