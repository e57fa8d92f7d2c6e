"""Microtonic presets as kits: which drum goes to which track, loading into patch A/B, the preset folder.

Drums go to tracks by their number in Microtonic (drum "1" to track 1 ...), whatever their order in
the file; ``order="file"`` is the original supertonic's assignment (the n-th block to track n), which
keeps sessions made with it sounding the same. Loading a whole kit into A also takes what belongs to
the kit: pan, choke groups, mutes, swing, tempo and the active pattern when it holds steps. Loading
into B only replaces the sound that the morph moves towards.
"""

from __future__ import annotations

import logging
from pathlib import Path

from gridtonic.core.clock import TEMPO_RANGE
from gridtonic.core.session import MAX_FILL_EVERY, MAX_STEPS, MAX_TRACKS, Session, Track
from gridtonic.io import store
from gridtonic.presets.mtpreset import Drum, Preset, PresetError, is_hit, parse

log = logging.getLogger(__name__)

ORDERS = ("key", "file")
SLOTS = ("a", "b", "both")
MAX_BYTES = 1 << 22
SUFFIXES = (".mtpreset", ".mtdrum", ".preset", ".mtdp", "")


def presets_dir() -> Path:
    """Where ``--preset NAME`` looks: ``presets/`` in the user data dir."""
    return store.data_dir() / "presets"


def read(path: Path) -> Preset:
    """Parse the file at ``path``; PresetError (one line naming the file) when it cannot be used."""
    try:
        data = store.read_capped(path, MAX_BYTES)
    except store.FileError as e:
        raise PresetError(str(e)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # presets saved on Windows
    return parse(text, str(path), name=path.stem)


def scan(directory: Path | None = None) -> list[Path]:
    """Preset files in ``directory`` (default presets_dir()), by name; hidden files skipped."""
    return store.files(presets_dir() if directory is None else directory, tuple(SUFFIXES))


def find(name: str, directory: Path | None = None) -> Path:
    """A path as given, else a file in the preset folder by name, with or without its extension."""
    given = Path(name).expanduser()
    if given.is_file():
        return given
    d = presets_dir() if directory is None else directory
    found = [p for p in scan(d) if name.lower() in (p.name.lower(), p.stem.lower())]
    if not found:
        names = ", ".join(p.name for p in scan(d)) or "none"
        raise PresetError(f"no preset {name!r} (not a file; presets in {d}: {names})")
    return found[0]


def assignment(preset: Preset, tracks: int, order: str = "key") -> list[Drum | None]:
    """The drum for each of ``tracks`` tracks (None: the kit has no drum for it)."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}")
    if order == "file" or preset.single:
        drums: list[Drum | None] = list(preset.drums)
    else:
        drums = [preset.drum(k) for k in range(1, MAX_TRACKS + 1)]
    return (drums + [None] * tracks)[:tracks]


def load(session: Session, preset: Preset, slot: str = "a", track: int | None = None,
         order: str = "key") -> None:
    """Put ``preset``'s drums into patch A, B or both of every track, or of ``track`` (0-based) only.

    A single drum (.mtdrum) goes to ``track`` (or track 1). Loading a whole kit into A adds tracks
    for the kit's drums when the session has fewer (up to 8) and takes the kit's settings."""
    if slot not in SLOTS:
        raise ValueError(f"slot must be one of {SLOTS}")
    if track is not None and not 0 <= track < len(session.tracks):
        raise PresetError(f"track {track + 1}: the session has tracks 1..{len(session.tracks)}")
    into_a = slot in ("a", "both")
    whole_kit = track is None and not preset.single
    if whole_kit and into_a:  # new tracks are named after their drums
        kit = assignment(preset, MAX_TRACKS, order)
        wanted = max((i + 1 for i, d in enumerate(kit) if d), default=0)
        for d in kit[len(session.tracks):wanted]:
            session.tracks.append(Track(name=d.name[:32] if d else f"track {len(session.tracks) + 1}"))
    drums = assignment(preset, len(session.tracks), order)
    targets = [track if track is not None else 0] if not whole_kit else range(len(session.tracks))
    for i in targets:
        drum = preset.drums[0] if preset.single else drums[i]
        if drum is None:
            log.info("%s has no drum for track %d; track left as it was", preset.name, i + 1)
            continue
        t = session.tracks[i]
        if slot in ("a", "both"):
            t.patch_a = dict(drum.patch)
            t.pan, t.choke = drum.pan, drum.choke
        if slot in ("b", "both"):
            t.patch_b = dict(drum.patch)
    if whole_kit and into_a:
        _kit_settings(session, preset, drums)


def _kit_settings(session: Session, preset: Preset, drums: list[Drum | None]) -> None:
    """Tempo, swing, mutes and (when they hold steps) patterns of the kit's drums."""
    if preset.tempo is not None:
        session.tempo = min(max(preset.tempo, TEMPO_RANGE[0]), TEMPO_RANGE[1])
    swing = 50.0 + min(max(preset.swing, 0.0), 100.0) / 4  # Microtonic 0..100 % -> 50 (straight)..75 %
    steps = chain(preset)
    if any(is_hit(c) for trig, *_ in steps.values() for c in trig) and preset.step_rate != "1/16":
        log.info("%s: step rate %s played as 16ths", preset.name, preset.step_rate)
    has_steps = any(is_hit(c) for trig, _, fill in steps.values() for c in trig + fill)
    for t, drum in zip(session.tracks, drums, strict=True):
        t.swing = swing
        if drum is None:
            continue
        if drum.key <= len(preset.mutes):
            t.mute = preset.mutes[drum.key - 1]
        if has_steps:
            trig, acc, fill = steps.get(drum.key, ("-", "-", "-"))  # all three as long as the chain
            at = [i % len(trig) for i in range(MAX_STEPS)]
            t.steps = [is_hit(trig[i]) or is_hit(fill[i]) for i in at]  # a fill step: a FILL condition
            t.condition = [None if is_hit(trig[i]) or not is_hit(fill[i]) else "FILL" for i in at]
            t.accent = [is_hit(acc[i]) for i in at]
            t.velocity, t.probability = [1.0] * MAX_STEPS, [1.0] * MAX_STEPS
            t.length = len(trig)
    if has_steps:
        session.fill_every = min(round(preset.fill_rate), MAX_FILL_EVERY) if preset.fill_rate >= 1 else 0


def chain(preset: Preset) -> dict[int, tuple[str, str, str]]:
    """Per drum key, (triggers, accents, fills) of the active pattern, followed by the patterns it is
    chained to, up to 64 steps; each pattern cut or padded to its Length."""
    out: dict[int, tuple[str, str, str]] = {}
    name = preset.active
    total = 0
    seen = set()
    while name in preset.patterns and name not in seen and total < MAX_STEPS:
        seen.add(name)
        p = preset.patterns[name]
        for key in set(p.triggers) | set(out):
            parts = out.get(key, ("-" * total,) * 3)
            new = (p.triggers.get(key, ""), p.accents.get(key, ""), p.fills.get(key, ""))
            out[key] = tuple(o + n[: p.length].ljust(p.length, "-") for o, n in zip(parts, new, strict=True))
        total += p.length
        if not p.chained:
            break
        name = chr(ord(name) + 1)
    return {k: (t[:MAX_STEPS], a[:MAX_STEPS], f[:MAX_STEPS]) for k, (t, a, f) in out.items()}


def session_with(session: Session, name: str, slot: str = "a", order: str = "key") -> Preset:
    """Load the preset called ``name`` (a file or a name in the preset folder) into ``session``."""
    preset = read(find(name))
    load(session, preset, slot, order=order)
    log.info("preset %s loaded into patch %s", preset.name, slot.upper())
    return preset
