"""Drum instrument classes, the 16-step pattern encoding, and which class a gridtonic track plays.

A 16-step pattern is an integer ``pid`` as in the original's DB: step j (0-based) adds 2**j, so
``x---x---x---x---`` is 4369. Classes are the prior's instruments; clap has its own class (the
original generated its clap track from ride data).
"""

from __future__ import annotations

from itertools import compress

HALF = 16  # steps in one bar of 16ths, one pid

CLASSES: tuple[str, ...] = ("kick", "snare", "closed hat", "open hat", "ride", "clap", "tom", "crash")
CLASS_ID: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}

# General MIDI (and the Roland TD-11 map of the Groove MIDI Dataset) note -> class name.
GM_NOTES: dict[int, str] = {
    35: "kick", 36: "kick",
    37: "snare", 38: "snare", 40: "snare",
    22: "closed hat", 42: "closed hat", 44: "closed hat",
    26: "open hat", 46: "open hat",
    51: "ride", 53: "ride", 59: "ride",
    39: "clap",
    41: "tom", 43: "tom", 45: "tom", 47: "tom", 48: "tom", 50: "tom", 58: "tom",
    49: "crash", 52: "crash", 55: "crash", 57: "crash",
}

# Track-name keywords, first match wins ("open hat" before "hat").
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("kick", "kick"), ("bd", "kick"), ("bass", "kick"),
    ("snare", "snare"), ("sd", "snare"), ("rim", "snare"),
    ("clap", "clap"), ("cp", "clap"),
    ("open", "open hat"), ("oh", "open hat"),
    ("hat", "closed hat"), ("hh", "closed hat"), ("ch", "closed hat"),
    ("ride", "ride"), ("tom", "tom"), ("crash", "crash"), ("cymbal", "crash"),
)
FALLBACK_CLASS = "closed hat"


def encode(steps: str | list[bool]) -> int:
    """pid of the first 16 steps (a string: any character but ``-``, ``.`` or space is a hit)."""
    if isinstance(steps, str):
        steps = [c not in "-. " for c in steps]
    return sum(compress(_POWERS, steps))  # a key press encodes a dozen halves: kept cheap


_POWERS = [1 << j for j in range(HALF)]


def decode(pid: int) -> str:
    return "".join("x" if pid >> j & 1 else "-" for j in range(HALF))


def class_of(track_name: str) -> str | None:
    """The class a track named like this plays, or None when the name says nothing."""
    name = track_name.lower()
    if name in CLASS_ID:
        return name
    words = name.replace("-", " ").replace("_", " ").split()
    for key, cls in _KEYWORDS:
        if any(w.startswith(key) for w in words):
            return cls
    return None
