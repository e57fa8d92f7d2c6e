"""MIDI out: clock (the internal clock as master) and per-track notes, lined up with the audio.

MIDI bytes cannot carry a time tag, so each one waits in a queue until its time: the hit's or
tick's ideal time plus the engine's latency, the moment its sound leaves scsynth. Clock runs all
the time (slaves lock their tempo before Start), Start or SPP + Continue go out just before the
first tick of playback, Stop when the transport stops.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from dataclasses import dataclass

import trio

from gridtonic.core.midiparse import CLOCK, CONTINUE, NOTE_ON, SONG_POSITION, START, STOP
from gridtonic.core.playback import output_velocity
from gridtonic.core.sequencer import Hit, Sequencer
from gridtonic.io import midiports
from gridtonic.midi.clock import PPQN, SPP_TICKS

log = logging.getLogger(__name__)

EARLY = 1e-4  # s: a transport message goes out this much before the tick it belongs to


@dataclass(frozen=True)
class NoteOut:
    """One track's note: channel 0-15, note, velocity (None: the step's), gate in beats."""

    channel: int = 9
    note: int = 36
    velocity: int | None = None
    gate: float = 0.125


class MidiOut:
    """A time-ordered queue of MIDI messages in front of an output port (kept open by name)."""

    def __init__(self, sequencer: Sequencer, latency: float, notes: dict[int, NoteOut] | None = None,
                 clock: bool = False):
        self.sequencer = sequencer
        self.latency = latency
        self.notes = notes or {}
        self.clock = clock
        self.port: midiports.Port | None = None
        self._queue: list[tuple[float, int, list[int]]] = []
        self._order = itertools.count()
        self._wake = trio.Event()
        self._tick: int | None = None  # next clock tick to send, on the sequencer clock's beat grid
        sequencer.listeners.append(self.transport)

    def at(self, t: float, data: list[int]) -> None:
        """Send ``data`` at trio time ``t``."""
        heapq.heappush(self._queue, (t, next(self._order), data))
        self._wake.set()

    def play(self, hit: Hit) -> None:
        """Sequencer sink: the track's note on at the hit's sound time, note off a gate later (cut to
        the hit's span, so a ratchet's notes never overlap: an off at the next on goes first)."""
        n = self.notes.get(hit.track)
        if n is None:
            return
        velocity = n.velocity if n.velocity is not None else max(1, round(127 * output_velocity(hit)))
        on = hit.time + self.latency
        off = self.sequencer.clock.time_at(hit.beat + min(n.gate, hit.span)) + self.latency
        self.at(on, [NOTE_ON | n.channel, n.note, velocity])
        self.at(max(off, on), [NOTE_ON | n.channel, n.note, 0])

    def transport(self, beat: float | None) -> None:
        """Sequencer listener: Start (or SPP + Continue mid-song) before the first tick, or Stop."""
        if not self.clock:
            return
        if beat is None:
            self.at(trio.current_time() + self.latency, [STOP])
            return
        self._tick = math.ceil(beat * PPQN - 1e-9)
        t = self.sequencer.clock.time_at(self._tick / PPQN) + self.latency - EARLY
        if self._tick == 0:
            self.at(t, [START])
        else:
            position = self._tick // SPP_TICKS
            self.at(t, [SONG_POSITION, position & 0x7F, position >> 7 & 0x7F])
            self.at(t, [CONTINUE])

    def _next_tick(self, now: float) -> float:
        """Queue the clock ticks due within the latency; returns when to look again."""
        clock = self.sequencer.clock
        if self._tick is None:
            self._tick = math.ceil(clock.beat_at(now) * PPQN)
        while (t := clock.time_at(self._tick / PPQN)) <= now + 0.01:
            if t >= now - 0.01:  # a tempo jump or restart skips ticks rather than bunching them
                self.at(t + self.latency, [CLOCK])
            self._tick += 1
        return t - 0.01

    async def run(self, pattern: str, api: str = "jack",
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the port matching ``pattern`` open and send everything at its time, until cancelled."""
        def found(port: midiports.Port | None) -> None:
            self.port = port

        def opener(name: str) -> midiports.Port:
            return midiports.open_output(name, api)

        async with trio.open_nursery() as n:
            await n.start(midiports.keep_open, "output", pattern, api, opener, found)
            task_status.started()
            while True:
                now = trio.current_time()
                look = self._next_tick(now) if self.clock else math.inf
                while self._queue and self._queue[0][0] <= now:
                    self._send(heapq.heappop(self._queue)[2])
                due = min(look, self._queue[0][0] if self._queue else math.inf)
                self._wake = trio.Event()
                with trio.move_on_at(due):
                    await self._wake.wait()

    def _send(self, data: list[int]) -> None:
        if self.port is None:
            return
        try:
            self.port.send_message(data)
        except (OSError, ValueError) as e:
            log.warning("MIDI out: %s", e)
