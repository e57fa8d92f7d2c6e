"""The engine bridge: sequencer hits become time-stamped scsynth bundles.

Each hit is sent as one bundle stamped at its ideal time plus a fixed ``latency``: scsynth then
starts the voice on the exact sample (``OffsetOut``), whatever the network or the Python loop did
in between. The same :class:`Voices` turns hits into messages for offline renders. The session's
master level rides in the bundle of the first hit after it changed, as a parameter edit does.
"""

from __future__ import annotations

import time
from typing import Protocol

import trio

from gridtonic.core.playback import voice_patch
from gridtonic.core.sequencer import Hit
from gridtonic.core.session import Session
from gridtonic.io import osc
from gridtonic.sound import mixer
from gridtonic.sound.voices import Voicer

DEFAULT_LATENCY = 0.08  # s between a hit's ideal time and its bundle's time tag


class Sender(Protocol):
    def send(self, packet: bytes) -> None: ...


class Voices:
    """A session's hits → scsynth messages, with its tracks' pan, choke and voice limits; a hit's
    parameter locks and accent travel in its own ``/s_new`` (no extra voices, no ``/n_set``)."""

    def __init__(self, session: Session, max_voices: int = 24):
        self.session = session
        self.voicer = Voicer(max_voices=max_voices)

    def messages(self, hit: Hit, at: float | None = None) -> list[bytes]:
        track = self.session.tracks[hit.track]
        return self.voicer.hit(
            hit.time if at is None else at, hit.track, voice_patch(track, hit), hit.velocity, track.pan,
            track.choke, track.max_voices,
        )


class Engine:
    """Sends hits to a running scsynth (anything with ``send``)."""

    def __init__(self, session: Session, server: Sender, latency: float = DEFAULT_LATENCY):
        self.voices = Voices(session)
        self.server = server
        self.latency = latency
        self.level: float | None = None  # the master level (dB) last sent; None: send it with the next hit

    def play(self, hit: Hit) -> None:
        unix = hit.time + (time.time() - trio.current_time()) + self.latency
        messages = self.voices.messages(hit)
        if self.voices.session.master_db != self.level:
            self.level = self.voices.session.master_db
            messages.insert(0, mixer.level_message(self.level))
        self.server.send(osc.bundle(osc.unix_timetag(unix), messages))

    def ended(self, node: int) -> None:
        self.voices.voicer.ended(node)
