"""Per-track MIDI mapping: ``midi.json`` beside the session (like ``crow.json``), checked field by
field (a bad one is one warning and its default, never a crash).

    {"input": "port part", "output": "port part",
     "tracks": [{"out": {"channel": 10, "note": 36, "velocity": null, "gate": 0.125},
                 "in": {"channel": null, "notes": [36, 35]}}, ...]}

Channels are 1-16 as printed on devices (null in ``in``: any); ``velocity`` null sends the step's;
``gate`` is in beats. A track without an entry keeps the General MIDI default (channel 10).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridtonic.core.fields import integer, number, unknown
from gridtonic.io import store
from gridtonic.midi.outport import NoteOut

log = logging.getLogger(__name__)

GM_NOTES = (36, 38, 42, 46, 39, 45, 48, 49)  # General MIDI drums: kick, snare, hats, clap, toms, crash
GM_CHANNEL = 9  # channel 10


@dataclass(frozen=True)
class NoteIn:
    """The notes that play one track, on ``channel`` (0-15) or any (None)."""

    notes: tuple[int, ...]
    channel: int | None = GM_CHANNEL


@dataclass(frozen=True)
class MidiMap:
    out: tuple[NoteOut, ...] = tuple(NoteOut(GM_CHANNEL, n) for n in GM_NOTES)  # by track
    into: tuple[NoteIn, ...] = tuple(NoteIn((n,), None) for n in GM_NOTES)
    input: str | None = None  # port name parts; the command line's win
    output: str | None = None
    where: str = field(default="default", compare=False)

    def track_for(self, channel: int, note: int) -> int | None:
        """The track a received note plays, if any."""
        return next((i for i, m in enumerate(self.into)
                     if note in m.notes and m.channel in (None, channel)), None)

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "output": self.output, "tracks": [
            {"out": {"channel": o.channel + 1, "note": o.note, "velocity": o.velocity, "gate": o.gate},
             "in": {"channel": None if i.channel is None else i.channel + 1, "notes": list(i.notes)}}
            for o, i in zip(self.out, self.into, strict=True)]}


def default_path() -> Path:
    return store.data_dir() / "midi.json"


def _track(d: Any, k: int, where: str) -> tuple[NoteOut, NoteIn]:
    default = MidiMap()
    dout = default.out[k] if k < len(default.out) else NoteOut(GM_CHANNEL, 36)
    din = default.into[k] if k < len(default.into) else NoteIn(())
    if not isinstance(d, dict):
        log.warning("%s: must be an object; the default", where)
        return dout, din
    unknown(d, {"out", "in"}, where)
    o, i = d.get("out", {}), d.get("in", {})
    if not isinstance(o, dict) or not isinstance(i, dict):
        log.warning("%s: out and in must be objects; the default", where)
        return dout, din
    unknown(o, {"channel", "note", "velocity", "gate"}, f"{where}.out")
    unknown(i, {"channel", "notes"}, f"{where}.in")
    velocity = None if o.get("velocity") is None else integer(o, "velocity", 1, 127, 100, f"{where}.out")
    out = NoteOut(integer(o, "channel", 1, 16, dout.channel + 1, f"{where}.out") - 1,
                  integer(o, "note", 0, 127, dout.note, f"{where}.out"), velocity,
                  number(o, "gate", 1 / 96, 16.0, dout.gate, f"{where}.out"))
    channel = None if i.get("channel", din.channel) is None else integer(
        i, "channel", 1, 16, (din.channel or 0) + 1, f"{where}.in") - 1
    notes = i.get("notes", list(din.notes))
    if not isinstance(notes, list) or not all(type(n) is int and 0 <= n <= 127 for n in notes):
        log.warning("%s.in.notes: %r is not a list of notes 0-127; using %s", where, notes, list(din.notes))
        notes = list(din.notes)
    return out, NoteIn(tuple(notes), channel)


def from_dict(d: Any, where: str = "midi") -> MidiMap:
    """A checked mapping; bad fields fall back to their defaults with a warning naming them."""
    if not isinstance(d, dict):
        log.warning("%s: must be a JSON object; the default mapping", where)
        return MidiMap(where=where)
    unknown(d, {"input", "output", "tracks"}, where)
    ports = {}
    for key in ("input", "output"):
        ports[key] = d.get(key)
        if ports[key] is not None and not isinstance(ports[key], str):
            log.warning("%s.%s: %r is not a port name; none", where, key, ports[key])
            ports[key] = None
    tracks = d.get("tracks", [])
    if not isinstance(tracks, list):
        log.warning("%s.tracks: must be a list; the default for every track", where)
        tracks = []
    default = MidiMap()
    pairs = [_track(t, k, f"{where}.tracks[{k}]") for k, t in enumerate(tracks)]
    pairs += list(zip(default.out, default.into, strict=True))[len(pairs):]
    return MidiMap(tuple(o for o, _ in pairs), tuple(i for _, i in pairs), where=where, **ports)


def load(path: Path | None = None) -> MidiMap:
    """The mapping in ``path`` (default ``midi.json`` beside the session); the default when there
    is none, or (one error line) when it cannot be read."""
    path = path or default_path()
    if not path.exists():
        return MidiMap()
    try:
        return from_dict(store.read_json(path, store.MAX_CONFIG_BYTES), where=str(path))
    except Exception as e:  # noqa: BLE001 - a broken file means the default mapping, not no music
        log.error("%s; the default MIDI mapping", store.unusable(path, e))
    return MidiMap()
