"""Offline renders of a session: the sequencer's hits through scsynth in NRT mode.

Uses the same hit → message path as the live engine, so a render is what the performance sounds
like, sample-exact and deterministic for a given seed (byte for byte: ``nrt`` zeroes the WAV PEAK
chunk's time stamp). ``planned`` tells the files' size from the length alone, before any hit is
computed, so a huge ``--bars`` can be refused up front.

A loop render (``loop=True``) is exactly ``loop_frames`` long and plays as the pattern looping: its
hits are played again every loop through the same voice allocator, for as many loops as the
longest voice rings, and the file is the last loop, so the tails of the loop before are mixed into
its start and a choke or a stolen voice at the seam happens as it would live.

Stems (``stems=True``) are one more scsynth run per track, each the mix's score with the other
tracks' voices playing to a bus nobody hears: every run starts the same voices with the same node
ids and seed, so they draw the same noise whatever way the engine shares its random generator, and
the global lowpass (a linear filter) of the stems sums to the mix's. Leaving the other tracks' voices
out, or routing each track to its own channels with a lowpass per pair, changes what draws noise.

A render goes through the live engine's mixer: the session's master level, then the limiter. The
mix is limited; the stems are not (the master level applies to them, the limiter does not), so that
they sum to the mix whenever the limiter is idle and a stem is never shaped by the other tracks' peaks.
"""

from __future__ import annotations

import contextlib
import math
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gridtonic.core.clock import InternalClock
from gridtonic.core.playback import Hit, voice_patch
from gridtonic.core.sequencer import hits_between
from gridtonic.core.session import Session, SessionError, default_session
from gridtonic.io import osc
from gridtonic.sound import nrt, synthdefs
from gridtonic.sound.engine import Voices

LIMIT_BYTES = 2 * 10**9  # larger renders need --force
TAIL_S = 0.05  # silence after the last voice ends
BEATS_PER_BAR = 4
UNHEARD_BUS = 512  # a private bus: no output channel, nothing reads it


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


def loop_frames(tempo: float, bars: int, sample_rate: int = 48000) -> int:
    """A loop's length in samples: bars × 4 beats × 60/tempo × rate, to the nearest sample (halves
    up), so a loop's length never drifts by more than half a sample from the beat."""
    return math.floor(bars * BEATS_PER_BAR * 60.0 * sample_rate / tempo + 0.5)


def stem_paths(session: Session, path: Path) -> list[Path]:
    """Each track's stem beside the mix: ``beat.wav`` → ``beat-kick.wav``, ``beat-closed-hat.wav``
    (a name two tracks share gets the track's number too)."""
    slugs = [re.sub(r"[^a-z0-9]+", "-", t.name.lower()).strip("-") or "track" for t in session.tracks]
    return [path.with_name(f"{path.stem}-{slug}{'-' + str(i + 1) if slugs.count(slug) > 1 else ''}"
                           f"{path.suffix}") for i, slug in enumerate(slugs)]


def _longest(session: Session) -> float:
    """The longest any of the session's voices can ring, locks included (s)."""
    return max((synthdefs.duration(t.patch() | lock) for t in session.tracks
                for lock in ({}, *(lock for lock in t.locks if lock))), default=0.0)


def planned(session: Session, path: Path, bars: int, sample_rate: int = 48000, loop: bool = False,
            stems: bool = False) -> tuple[float, nrt.Output, int]:
    """The longest a render of ``bars`` bars can last (s: the bars and the longest voice's tail,
    or the loop's length), the mix file it makes and the bytes of every file it writes."""
    if loop:
        seconds = loop_frames(session.tempo, bars, sample_rate) / sample_rate
    else:
        seconds = InternalClock(session.tempo).time_at(BEATS_PER_BAR * bars) + _longest(session) + TAIL_S
    out = nrt.output(path, seconds, sample_rate)
    return seconds, out, out.nbytes * (1 + len(session.tracks) * stems)


@dataclass
class Score:
    """A render's voices: each hit's time, track and scsynth messages."""

    voices: list[tuple[float, int, list[bytes]]] = field(default_factory=list)

    def events(self, solo: int | None = None) -> list[tuple[float, list[bytes]]]:
        """The score of the mix, or of track ``solo``'s stem: every voice still plays, the other
        tracks' on a bus nobody hears."""
        return [(at, msgs if solo is None or track == solo else [routed(m, UNHEARD_BUS) for m in msgs])
                for at, track, msgs in self.voices]


def score(session: Session, hits: Sequence[Hit], loops: int = 1, period: float = 0.0) -> Score:
    """``hits`` played ``loops`` times ``period`` s apart through one voice allocator."""
    voices = Voices(session)
    return Score([(hit.time + n * period, hit.track, voices.messages(hit, hit.time + n * period))
                  for n in range(loops) for hit in hits])


def last_end(session: Session, hits: Sequence[Hit]) -> float:
    """When the last of ``hits``' voices ends (s)."""
    return max((hit.time + synthdefs.duration(voice_patch(session.tracks[hit.track], hit)) for hit in hits),
               default=0.0)


def routed(message: bytes, bus: int) -> bytes:
    """A voice's ``/s_new`` with ``out bus`` added (other messages unchanged), appended to the packed
    message's type tags and data: 4 µs, where parsing it back and packing it again takes 64."""
    if not message.startswith(b"/s_new\0"):
        return message
    head = 8  # "/s_new" and its NULs, a 4-byte multiple
    end = message.index(b"\0", head)
    tags = message[head:end] + b"si"
    extra = osc.message("", "out", bus)[8:]  # after an empty address and ",si": the two arguments
    return message[:head] + tags + bytes(4 - len(tags) % 4) + message[(end // 4 + 1) * 4:] + extra


def render(session: Session, path: Path, bars: int = 2, seed: int = 1, sample_rate: int = 48000,
           progress: Callable[[float, float], None] | None = None, loop: bool = False,
           stems: bool = False, limit: bool = True) -> float:
    """Render ``bars`` bars of 4/4 from the start to ``path``; returns the file's duration in s.
    The file runs on past the last bar until the longest voice has ended, or with ``loop`` is
    exactly the bars long (``loop_frames``) with the tails wrapped onto its start. ``stems`` also
    writes each track alone (``stem_paths``), as long as the mix, not limited; ``limit=False`` leaves
    the mix unlimited too. ``progress`` gets (seconds rendered, seconds in all) as scsynth goes."""
    path = Path(path)
    clock = InternalClock(session.tempo)
    hits = hits_between(session, clock, 0.0, BEATS_PER_BAR * bars)
    end = last_end(session, hits)
    if loop:
        frames = loop_frames(session.tempo, bars, sample_rate)
        period = frames / sample_rate  # hits repeat on the file's own sample grid
        loops = 1 + math.ceil(end / period)  # every loop still ringing into the last one
        start, duration = (loops - 1) * frames, loops * period
    else:
        frames, period, loops, start = None, 0.0, 1, 0
        duration = max(clock.time_at(BEATS_PER_BAR * bars), end) + TAIL_S
    sc = score(session, hits, loops, period)
    runs = [(None, path), *enumerate(stem_paths(session, path) if stems else [])]
    total = duration * len(runs)
    with tempfile.TemporaryDirectory(prefix=".gridtonic-render-", dir=path.parent) if loop \
            else contextlib.nullcontext("") as tmp:
        for i, (solo, target) in enumerate(runs):
            report = progress and (lambda done, i=i: progress(i * duration + done, total))
            whole = Path(tmp) / "loops.w64" if loop else target  # float, any length: the loop cut after
            nrt.render(sc.events(solo), whole, duration, sample_rate=sample_rate, seed=seed, progress=report,
                       level_db=session.master_db, limit=solo is None and limit)
            if loop:
                nrt.extract(whole, target, start, frames, sample_rate)
    return frames / sample_rate if loop else duration
