"""Voice allocation: node ids, per-track and total voice limits, choke groups.

Pure bookkeeping shared by the realtime bridge and offline renders, so both steal and choke the same
way. A voice is released by ``/n_set <id> gate 0`` in the same time-stamped bundle as the new hit,
which makes the SynthDef fade it out in a few ms (no click) and free itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gridtonic.io import osc
from gridtonic.sound import mixer, synthdefs

FIRST_NODE = 1000


@dataclass
class Voice:
    node: int
    track: int
    start: float
    end: float  # when the voice frees itself, estimated from its envelopes
    choke: int | None


class Voicer:
    """Turns hits into scsynth messages while keeping the number of sounding voices bounded."""

    def __init__(self, max_voices: int = 24, per_track: int = 6, first_node: int = FIRST_NODE):
        self.max_voices = max_voices
        self.per_track = per_track
        self._next_node = first_node
        self.voices: list[Voice] = []  # in start order: the oldest is stolen first

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
        """Messages (releases first, then ``/s_new``) that play one hit at ``time``;
        ``per_track`` overrides the per-track voice limit for this hit's track."""
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
        gone = {v.node for v in doomed}
        self.voices = [v for v in self.voices if v.node not in gone]

        node = self._next_node
        self._next_node += 1
        end = time + synthdefs.duration(patch)
        self.voices.append(Voice(node, track, time, end, choke))
        msgs.append(synthdefs.voice_message(patch, node, velocity, pan, mixer.track_bus(track)))
        return msgs

    def ended(self, node: int) -> None:
        """scsynth reported ``/n_end`` for ``node``: forget it."""
        self.voices = [v for v in self.voices if v.node != node]
