"""Checked fields of hand-edited JSON files (session, crow.json, midi.json): a bad value is replaced by
its default, an out-of-range one clamped, an unknown field ignored — each with one warning naming
where it is, so a file written by hand or by an older version always loads.

Total over anything ``json.loads`` returns: JSON integers have no size limit (a 401-digit seed is
an ``int`` no float can hold) and ``1e400`` reads as ``inf``, so values are compared as they are,
never converted to float before they are known to be in range."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Set
from typing import Any

log = logging.getLogger("gridtonic.core.fields")

SHOWN = 5  # unknown fields named in the one warning about them


def clamp(value: Any, lo: float, hi: float, default: float, where: str) -> float:
    """``value`` as a number in [lo, hi]; ``default`` (with a warning) when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            isinstance(value, float) and not math.isfinite(value)):
        log.warning("%s: %s is not a number; using %g", where, shown(value), default)
        return default
    c = float(min(max(value, lo), hi))  # int vs float comparisons are exact at any size
    if c != value:
        log.warning("%s: %s out of range [%g, %g], clamped to %g", where, shown(value), lo, hi, c)
    return c


def number(d: dict[str, Any], key: str, lo: float, hi: float, default: float, where: str) -> float:
    """Field ``key`` of ``d`` (``default`` when absent), checked by :func:`clamp`."""
    return clamp(d.get(key, default), lo, hi, default, f"{where}.{key}")


def integer(d: dict[str, Any], key: str, lo: int, hi: int, default: int, where: str) -> int:
    return int(round(number(d, key, lo, hi, default, where)))


def unknown(d: Mapping[str, Any], known: Set[str], where: str) -> None:
    """One warning naming the fields of ``d`` not in ``known`` (the first few, and how many)."""
    extra = sorted(d.keys() - known)
    if extra:
        more = f" and {len(extra) - SHOWN} more" if len(extra) > SHOWN else ""
        log.warning("%s: unknown field%s %s%s ignored", where, "s" * (len(extra) > 1),
                    ", ".join(shown(k) for k in extra[:SHOWN]), more)


def shown(value: Any) -> str:
    """``value`` for a warning, short: a huge integer by its size (its digits could fill the log
    and cannot even be formatted as a float), anything else as a repr cut at 40 characters."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"a {value.bit_length()}-bit integer"
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def flag(d: dict[str, Any], key: str, default: bool, where: str) -> bool:
    """Field ``key`` of ``d`` as a JSON true/false; ``default`` (with a warning) for anything else."""
    value = d.get(key, default)
    if not isinstance(value, bool):
        log.warning("%s.%s: %s is not true or false; using %s", where, key, shown(value), default)
        return default
    return value


def text(d: dict[str, Any], key: str, default: str, limit: int, where: str) -> str:
    """Field ``key`` of ``d`` as a string of at most ``limit`` characters (longer ones cut);
    ``default`` (with a warning) when it is not a string."""
    value = d.get(key, default)
    if not isinstance(value, str):
        log.warning("%s.%s: %s is not a string; using %r", where, key, shown(value), default)
        return default
    return value[:limit]
