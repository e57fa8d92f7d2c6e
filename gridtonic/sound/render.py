"""Offline renders of a session: the sequencer's hits through scsynth in NRT mode.

Uses the same hit → message path as the live engine, so a render is what the performance sounds
like, sample-exact and deterministic for a given seed. ``planned`` tells the file's size from the
length alone, before any hit is computed, so a huge ``--bars`` can be refused up front.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gridtonic.core.clock import InternalClock
from gridtonic.core.playback import voice_patch
from gridtonic.core.sequencer import hits_between
from gridtonic.core.session import Session, SessionError, default_session
from gridtonic.sound import nrt, synthdefs
from gridtonic.sound.engine import Voices

LIMIT_BYTES = 2 * 10**9  # larger renders need --force
TAIL_S = 0.05  # silence after the last voice ends


def pattern_session(spec: str) -> Session:
    """The default kit with patterns from ``name:x---x---,name:----x---`` (names are track names,
    case-insensitive, or 1-based numbers); tracks not named stay silent."""
    session = default_session()
    for t in session.tracks:
        t.set_pattern("-")
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, pattern = part.rpartition(":")
        if not sep or not name:
            raise SessionError(f"pattern {part!r}: expected TRACK:PATTERN, e.g. kick:x---x---x---x---")
        track = _find(session, name.strip())
        track.set_pattern(pattern)
    return session


def _find(session: Session, name: str):
    if name.isdigit() and 1 <= int(name) <= len(session.tracks):
        return session.tracks[int(name) - 1]
    for t in session.tracks:
        if t.name.lower() == name.lower():
            return t
    names = ", ".join(t.name for t in session.tracks)
    raise SessionError(f"pattern: no track {name!r} (tracks: {names})")


def planned(session: Session, path: Path, bars: int, sample_rate: int = 48000) -> tuple[float, nrt.Output]:
    """The longest a render of ``bars`` bars can last (s: the bars and the longest voice's tail)
    and the file it makes."""
    longest = max((synthdefs.duration(t.patch() | lock) for t in session.tracks
                   for lock in ({}, *(lock for lock in t.locks if lock))), default=0.0)
    seconds = InternalClock(session.tempo).time_at(4.0 * bars) + longest + TAIL_S
    return seconds, nrt.output(path, seconds, sample_rate)


def render(session: Session, path: Path, bars: int = 2, seed: int = 1, sample_rate: int = 48000,
           progress: Callable[[float, float], None] | None = None) -> float:
    """Render ``bars`` bars of 4/4 from the start to ``path``; returns the file's duration in s.
    The file runs on past the last bar until the longest voice has ended. ``progress`` gets
    (seconds rendered, seconds in all) as scsynth goes."""
    clock = InternalClock(session.tempo)
    end_beat = 4.0 * bars
    voices = Voices(session)
    events = []
    tail = 0.0
    for hit in hits_between(session, clock, 0.0, end_beat):
        events.append((hit.time, voices.messages(hit)))
        tail = max(tail, hit.time + synthdefs.duration(voice_patch(session.tracks[hit.track], hit)))
    duration = max(clock.time_at(end_beat), tail) + TAIL_S
    nrt.render(events, path, duration, sample_rate=sample_rate, seed=seed,
               progress=progress and (lambda done: progress(done, duration)))
    return duration
