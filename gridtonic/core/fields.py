"""Checked fields of hand-edited JSON files (session, crow.json, midi.json): a bad value is replaced by
its default, an out-of-range one clamped, an unknown field ignored — each with one warning naming
where it is, so a file written by hand or by an older version always loads."""

from __future__ import annotations

import logging
import math
from typing import Any

log = logging.getLogger("gridtonic.core.fields")


def clamp(value: Any, lo: float, hi: float, default: float, where: str) -> float:
    """``value`` as a number in [lo, hi]; ``default`` (with a warning) when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        log.warning("%s: %r is not a number; using %g", where, value, default)
        return default
    c = min(max(float(value), lo), hi)
    if c != value:
        log.warning("%s: %g out of range [%g, %g], clamped to %g", where, value, lo, hi, c)
    return c


def number(d: dict[str, Any], key: str, lo: float, hi: float, default: float, where: str) -> float:
    """Field ``key`` of ``d`` (``default`` when absent), checked by :func:`clamp`."""
    return clamp(d.get(key, default), lo, hi, default, f"{where}.{key}")


def integer(d: dict[str, Any], key: str, lo: int, hi: int, default: int, where: str) -> int:
    return int(round(number(d, key, lo, hi, default, where)))


def unknown(d: dict[str, Any], known: set[str], where: str) -> None:
    """Warn about each field of ``d`` not in ``known``."""
    for k in sorted(d.keys() - known):
        log.warning("%s: unknown field %r ignored", where, k)
