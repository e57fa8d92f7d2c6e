"""Corpus readers: drum MIDI files and drummy's JSON-lines 2-bar patterns → runs of bars.

A bar is one pid per instrument class (``drums.CLASSES`` order); a run is a list of consecutive
bars, so neighbours in a run give the bar 1 → bar 2 relation. Nothing here raises on a bad file:
unusable files, lines and notes are skipped and counted in ``Stats`` (and logged once per file),
so one broken file never stops a build.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import mido

from gridtonic.prior.drums import CLASS_ID, CLASSES, GM_NOTES, HALF, encode

log = logging.getLogger(__name__)

Bar = tuple[int, ...]
Run = list[Bar]

DRUM_CHANNEL = 9  # General MIDI channel 10
# Hits softer than this are ghost notes, left out of the patterns. GMD kicks are mostly played at
# velocity 20-50, so kicks keep everything (prior-data.md §2.2). The evaluation also scores against
# ``EVERY_HIT`` (no ghost notes removed), so a model is not only good at its own cleaning.
GHOST_VELOCITY: dict[str, int] = {**dict.fromkeys(CLASSES, 30), "kick": 0, "snare": 50}
EVERY_HIT: dict[str, int] = dict.fromkeys(CLASSES, 0)
DRUMMY_KEYS: dict[str, str] = {
    "kick": "kick", "sd": "snare", "ch": "closed hat", "oh": "open hat", "rc": "ride",
    "cc": "crash", "lt": "tom", "mt": "tom", "ht": "tom",
}
_KICK, _SNARE = CLASS_ID["kick"], CLASS_ID["snare"]
MIDI_SUFFIXES = (".mid", ".midi")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")


@dataclass
class Stats:
    """What a corpus gave and what was left out, and why (stored as the prior's provenance)."""

    files: int = 0
    bars: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count (files, lines, bars)
    unknown_notes: Counter[int] = field(default_factory=Counter)
    hits: Counter[str] = field(default_factory=Counter)  # class -> hits kept

    def to_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "bars": self.bars,
            "skipped": dict(sorted(self.skipped.items())),
            "unknown_notes": {str(k): v for k, v in sorted(self.unknown_notes.items())},
            "hits": {c: self.hits[c] for c in CLASSES if self.hits[c]},
        }


def _keep(bar: Bar) -> bool:
    """Bars with neither kick nor snare (count-ins, silence, cymbal swells) say little."""
    return bool(bar[_KICK] or bar[_SNARE])


def _runs(bars: list[Bar], stats: Stats) -> Iterator[Run]:
    """Split at dropped bars, so only truly consecutive bars become neighbours."""
    run: Run = []
    for bar in bars:
        if _keep(bar):
            run.append(bar)
            continue
        stats.skipped["bars without kick or snare"] += 1
        if run:
            yield run
        run = []
    if run:
        yield run


def _count_hits(bars: list[Bar], stats: Stats) -> None:
    for bar in bars:
        for i, pid in enumerate(bar):
            if pid:
                stats.hits[CLASSES[i]] += pid.bit_count()
    stats.bars += len(bars)


def drummy_runs(line: str) -> list[Bar] | None:
    """The two bars of one drummy JSON line, or None when the line is not a 2-bar pattern."""
    try:
        sample = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(sample, dict):
        return None
    halves = [[0] * len(CLASSES), [0] * len(CLASSES)]
    for key, steps in sample.items():
        cls = DRUMMY_KEYS.get(key)
        if cls is None:
            continue
        if not isinstance(steps, str) or len(steps) != 2 * HALF:
            return None
        for h in (0, 1):
            halves[h][CLASS_ID[cls]] |= encode(steps[h * HALF:(h + 1) * HALF])
    return [tuple(halves[0]), tuple(halves[1])]


def read_drummy(path: Path, stats: Stats) -> Iterator[Run]:
    """Runs of a drummy ``patterns.jsonl(.gz)`` file: one 2-bar run per line."""
    opener = gzip.open if path.name.endswith(".gz") else open
    bad = 0
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                bars = drummy_runs(line)
                if bars is None:
                    bad += 1
                    continue
                _count_hits(bars, stats)
                yield from _runs(bars, stats)
    except (OSError, EOFError, UnicodeDecodeError) as e:
        stats.skipped["unreadable pattern files"] += 1
        log.warning("%s: cannot read (%s); rest of the file skipped", path, e)
        return
    stats.files += 1
    if bad:
        stats.skipped["bad pattern lines"] += bad
        log.warning("%s: %d lines are not 2-bar patterns; skipped", path, bad)


@dataclass(frozen=True)
class Hit:
    """One kept drum note on the 16th grid: where it is quantised to, how far off the grid it was
    played (in steps, -0.5..0.5) and how hard (MIDI velocity)."""

    step: int  # from the start of the file
    cls: int
    offset: float
    velocity: int


def midi_hits(midi: mido.MidiFile, stats: Stats, ghost: dict[str, int] = GHOST_VELOCITY) -> list[Hit] | str:
    """The drum notes of a MIDI file on the 16th grid, or the reason it cannot be used."""
    notes: list[tuple[int, int, int, int]] = []  # tick, channel, note, velocity
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "time_signature" and (msg.numerator, msg.denominator) != (4, 4):
                return f"not 4/4 ({msg.numerator}/{msg.denominator})"
            if msg.type == "note_on" and msg.velocity > 0:
                notes.append((tick, msg.channel, msg.note, msg.velocity))
    if any(ch == DRUM_CHANNEL for _, ch, _, _ in notes):  # drums with other parts: channel 10 only
        notes = [n for n in notes if n[1] == DRUM_CHANNEL]
    if not notes:
        return "no notes"
    step_ticks = midi.ticks_per_beat / 4
    hits = []
    for tick, _, note, velocity in notes:
        cls = GM_NOTES.get(note)
        if cls is None:
            stats.unknown_notes[note] += 1
            continue
        if velocity < ghost[cls]:
            stats.skipped["ghost notes"] += 1
            continue
        step = round(tick / step_ticks)
        hits.append(Hit(step, CLASS_ID[cls], tick / step_ticks - step, velocity))
    return hits or "no known drum notes"


def bars_of(hits: list[Hit]) -> list[Bar]:
    """One pid per class for every bar the hits span."""
    bars = [[0] * len(CLASSES) for _ in range(max(h.step for h in hits) // HALF + 1)]
    for h in hits:
        bars[h.step // HALF][h.cls] |= 1 << (h.step % HALF)
    return [tuple(b) for b in bars]


def midi_bars(midi: mido.MidiFile, stats: Stats, ghost: dict[str, int] = GHOST_VELOCITY) -> list[Bar] | str:
    """Bars of 16 quantised steps from a drum MIDI file, or the reason it cannot be used."""
    hits = midi_hits(midi, stats, ghost)
    return hits if isinstance(hits, str) else bars_of(hits)


def read_midi(path: Path, stats: Stats, ghost: dict[str, int] = GHOST_VELOCITY,
              performances: list[list[Hit]] | None = None) -> Iterator[Run]:
    """Runs of one drum MIDI file (4/4 only), quantised to the nearest 16th; the file's hits are
    appended to ``performances`` when given (the groove learns from them)."""
    try:
        midi = mido.MidiFile(path, clip=True)
        hits = midi_hits(midi, stats, ghost)
    except Exception as e:  # noqa: BLE001 - mido raises many types on bad bytes; a bad file is skipped
        hits = f"unreadable MIDI ({type(e).__name__}: {e})"
    if isinstance(hits, str):
        stats.skipped[hits.split(" (")[0] + " files"] += 1
        log.info("%s: %s; skipped", path, hits)
        return
    stats.files += 1
    if performances is not None:
        performances.append(hits)
    bars = bars_of(hits)
    _count_hits(bars, stats)
    yield from _runs(bars, stats)


def _gmd_index(root: Path) -> dict[Path, dict[str, str]]:
    """``info.csv`` rows by MIDI file, when the folder is laid out like the Groove MIDI Dataset."""
    info = root / "info.csv"
    if not info.is_file():
        return {}
    try:
        with info.open(newline="", encoding="utf-8") as f:
            return {root / row["midi_filename"]: row for row in csv.DictReader(f) if row.get("midi_filename")}
    except (OSError, UnicodeDecodeError, csv.Error, KeyError) as e:
        log.warning("%s: unusable (%s); all MIDI files used as beats", info, e)
        return {}


def is_fill(path: Path, row: dict[str, str] | None) -> bool:
    """Fills are kept apart from beats: ``beat_type`` in info.csv, else a ``fill`` word in the name."""
    if row is not None and row.get("beat_type"):
        return row["beat_type"] == "fill"
    return "fill" in path.stem.lower().replace("-", "_").split("_")


def corpus_files(root: Path, split: str | None, stats: Stats) -> list[Path]:
    """The pattern and MIDI files of a corpus (a file or a folder, sorted), fills and other
    splits left out (counted)."""
    if root.is_file():
        return [root]
    index = _gmd_index(root)
    files = []
    for p in sorted(root.rglob("*")):
        name = p.name.lower()
        if name.endswith(JSONL_SUFFIXES):
            files.append(p)
        elif name.endswith(MIDI_SUFFIXES):
            row = index.get(p)
            if split and index and (row is None or row.get("split") != split):
                stats.skipped[f"files not in split {split!r}"] += 1
            elif is_fill(p, row):
                stats.skipped["fill files"] += 1
            else:
                files.append(p)
    return files


def read_file(path: Path, stats: Stats, ghost: dict[str, int] = GHOST_VELOCITY,
              performances: list[list[Hit]] | None = None) -> Iterator[Run]:
    if path.name.lower().endswith(MIDI_SUFFIXES):
        return read_midi(path, stats, ghost, performances)
    return read_drummy(path, stats)
