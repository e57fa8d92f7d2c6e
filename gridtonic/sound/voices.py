"""Voice allocation: node ids, per-track and total voice limits, choke groups, the tracks' shared EQ.

Pure bookkeeping shared by the realtime bridge and offline renders, so both steal and choke the same
way. A voice is released by ``/n_set <id> gate 0`` in the same time-stamped bundle as the new hit,
which makes the SynthDef fade it out in a few ms (no click) and free itself.

A voice's final EQ is linear, so the voices of a track that share it run it once, in the track's
``gridtonic_eq`` synth: a hit whose EQ is the one set there plays the def without it on the track's
shared-EQ bus, and runs that synth (``mixer.eq_messages``) until the track's last such voice ends
(it pauses itself then), once ``SHARE_FROM`` voices with that EQ ring on the track or while it runs.
A mono voice shares it only with the same level and pan too (``synthdefs.mixing``): its def without
the EQ writes one channel, and the track's mono EQ synth applies them, once for all.
The track's EQ is changed only while none of those voices sounds, so a
voice's EQ never changes under it; the hit that changes it, and any hit whose EQ differs while they
sound, play the full def on the track's own-EQ bus (BPeakEQ ramps its coefficients over the block of
a change: the changing hit's first block would get the ramp). Every shared hit sends the EQ again:
after a scsynth restart the EQ synths start at their defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from gridtonic.io import osc
from gridtonic.sound import mixer, synthdefs

FIRST_NODE = 1000
FADE_S = 0.005  # a released voice's fade out (the voice defs' Env.cutoff)
SHARE_FROM = 2  # voices of a track with one EQ already sounding before a hit starts its track's EQ
# synth (stereo, and a node: about 2.5 mono voices' EQs); a running one is joined by any hit
EQ_MARGIN_S = 0.01  # a voice sounds on past its estimated end: scsynth frees it at a block boundary,
# and OffsetOut delays its last block; an EQ change settles after its block's coefficient ramp


@dataclass
class Voice:
    node: int
    track: int
    start: float
    end: float  # when the voice frees itself, estimated from its envelopes
    choke: int | None
    shared: bool = False  # plays without its EQ, through its track's shared one
    eq: tuple[float, ...] | None = None  # what its track's EQ synth would apply (synthdefs.mixing)


class Voicer:
    """Turns hits into scsynth messages while keeping the number of sounding voices bounded."""

    def __init__(self, max_voices: int = 24, per_track: int = 6, first_node: int = FIRST_NODE):
        self.max_voices = max_voices
        self.per_track = per_track
        self._next_node = first_node
        self.voices: list[Voice] = []  # in start order: the oldest is stolen first
        self.eqs: dict[int, tuple[tuple[float, ...], float]] = {}  # track -> its EQ synth's setting
        # (synthdefs.mixing) as last set, and the time from which it has settled
        self.fading: dict[int, float] = {}  # track -> until when its released shared voices fade
        self.running: dict[int, float] = {}  # track -> until when its EQ synth runs

    def hit(
        self,
        time: float,
        track: int,
        patch: Mapping[str, float],
        velocity: float = 1.0,
        pan: float = 0.0,
        choke: int | None = None,
        per_track: int | None = None,
    ) -> list[bytes]:
        """Messages (releases first, then the track's EQ if it runs or changes, then ``/s_new``) that
        play one hit at ``time``; ``per_track`` overrides the per-track voice limit for this hit's track."""
        eq_busy = self.fading.get(track, -math.inf) > time or any(
            v.shared and v.track == track and v.end + EQ_MARGIN_S > time for v in self.voices)
        self.voices = [v for v in self.voices if v.end > time]
        doomed = []
        if choke is not None:
            doomed += [v for v in self.voices if v.choke == choke]
        gone = {v.node for v in doomed}  # by node: Voice equality compared every field, voice by voice
        mine = [v for v in self.voices if v.track == track and v.node not in gone]
        limit = per_track or self.per_track
        doomed += mine[: max(0, len(mine) - limit + 1)]
        gone = {v.node for v in doomed}
        rest = [v for v in self.voices if v.node not in gone]
        doomed += rest[: max(0, len(rest) - self.max_voices + 1)]
        msgs = [osc.message("/n_set", v.node, "gate", 0.0) for v in doomed]
        for v in doomed:  # it fades out, or ends sooner
            if v.shared:
                fade = min(v.end, time + FADE_S) + EQ_MARGIN_S
                self.fading[v.track] = max(self.fading.get(v.track, -math.inf), fade)
        gone = {v.node for v in doomed}
        self.voices = [v for v in self.voices if v.node not in gone]

        shared = False
        eq = synthdefs.mixing(patch, pan)
        end = time + synthdefs.duration(patch)
        if 0 <= track < mixer.TRACKS:
            setting, settled = self.eqs.get(track, (None, math.inf))
            alike = sum(v.track == track and v.eq == eq for v in self.voices)
            running = self.running.get(track, -math.inf) > time
            shared = setting == eq and settled <= time and (running or alike >= SHARE_FROM)
            if shared:  # the EQ runs until this track's last shared voice has ended
                last = max([end, *(v.end for v in self.voices if v.shared and v.track == track)])
                until = max(last + EQ_MARGIN_S, self.fading.get(track, -math.inf))
                msgs += mixer.eq_messages(track, until - time, eq)
                self.running[track] = until
            elif not eq_busy and setting != eq:  # change it, the EQ running (on silence) while it ramps
                msgs += mixer.eq_messages(track, EQ_MARGIN_S, eq)
                self.eqs[track] = (eq, time + EQ_MARGIN_S)
                self.running[track] = time + EQ_MARGIN_S
        node = self._next_node
        self._next_node += 1
        self.voices.append(Voice(node, track, time, end, choke, shared, eq))
        out = mixer.track_bus(track) if shared else mixer.own_bus(track)
        msgs.append(synthdefs.voice_message(patch, node, velocity, pan, out, eq=not shared))
        return msgs

    def ended(self, node: int) -> None:
        """scsynth reported ``/n_end`` for ``node``: forget it."""
        self.voices = [v for v in self.voices if v.node != node]
