"""MIDI in: the master's clock and transport, notes that play (and record) drums, CCs on parameters.

Bytes wait in rtmidi's queue until trio polls it (every few milliseconds), are stamped with the trio
time of their arrival (:class:`midiports.Stamps`), parsed, and become actions on the clock, the sequencer and
the session.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from gridtonic.core.clock import TEMPO_RANGE
from gridtonic.core.midiparse import (
    CLOCK,
    CONTINUE,
    CONTROL_CHANGE,
    NOTE_ON,
    SONG_POSITION,
    START,
    STOP,
    Parser,
)
from gridtonic.core.sequencer import STEP_BEATS, Hit, Sequencer
from gridtonic.core.session import STEPS
from gridtonic.io import midiports
from gridtonic.io.tasks import Dropped
from gridtonic.midi.cc import CcMap, cc_value
from gridtonic.midi.clock import MidiClock
from gridtonic.midi.mapping import MidiMap

if TYPE_CHECKING:
    from gridtonic.midi.outport import MidiOut

log = logging.getLogger(__name__)

TEMPO_STEP = 0.15  # BPM: the followed tempo goes to the session (rounded to 0.1) once it moved further
# than this: more than the settled estimate wobbles, so a steady master is written once


class MidiIn:
    """Turns received messages into actions. ``clock`` is the MIDI clock to follow (None: the
    internal clock runs and clock bytes are ignored); ``play`` sounds a hit at once."""

    def __init__(
        self, sequencer: Sequencer, play: Callable[[Hit], None], clock: MidiClock | None = None,
        mapping: MidiMap | None = None, channel: int | None = None, record: bool = False,
        latency: float = 0.0, cc: CcMap | None = None,
    ):
        self.sequencer = sequencer
        self.play = play
        self.clock = clock
        self.mapping = mapping or MidiMap()  # which notes play which track
        self.channel = channel  # 0-15, None for all
        self.record = record
        self.latency = latency  # what the player hears lags the clock by this much
        self.cc = cc if cc is not None else CcMap()
        self._parser = Parser()
        self.failed = Dropped(log, "MIDI in")  # messages a handler raised on (a bug: never seen)

    def feed(self, t: float, data: list[int]) -> None:
        """Bytes that arrived at trio time ``t``; a message a handler fails on costs only itself."""
        for message in self._parser.feed(data):
            try:
                self.handle(t, message)
            except Exception as e:
                self.failed.raised(bytes(message[:8]).hex(" "), e)

    def handle(self, t: float, message: tuple[int, ...]) -> None:
        status = message[0]
        if status >= 0xF0:
            self._system(t, message)
            return
        kind, channel = status & 0xF0, status & 0x0F
        if self.channel is not None and channel != self.channel:
            return
        if kind == NOTE_ON and message[2] > 0:
            self._note(t, channel, message[1], message[2] / 127.0)
        elif kind == CONTROL_CHANGE:
            target = self.cc.target(channel, message[1])
            if target is not None and target[0] < len(self.sequencer.session.tracks):
                track, name = target
                self.sequencer.session.tracks[track].patch_a[name] = cc_value(name, message[2])

    def _system(self, t: float, message: tuple[int, ...]) -> None:
        clock = self.clock
        if clock is None:
            return
        status = message[0]
        if status == CLOCK:
            beat = clock.tick(t)
            if beat is not None:
                self.sequencer.play_from(beat)
            self._write_tempo(clock)
        elif status == START:
            clock.start()
        elif status == CONTINUE:
            clock.resume()
        elif status == STOP:
            clock.stop()
            self.sequencer.stop()
        elif status == SONG_POSITION:
            clock.song_position(message[1] | message[2] << 7)

    def _write_tempo(self, clock: MidiClock) -> None:
        """The followed tempo into ``session.tempo`` for the UI and autosave: once the loop has
        settled, and only when it moved by more than ``TEMPO_STEP`` (the hysteresis keeps a steady
        master from rewriting it as the estimate wobbles in its last digit)."""
        session = self.sequencer.session
        tempo = min(max(clock.tempo, TEMPO_RANGE[0]), TEMPO_RANGE[1])
        if clock.settled and abs(tempo - session.tempo) > TEMPO_STEP:
            session.tempo = round(float(tempo), 1)

    def _note(self, t: float, channel: int, note: int, velocity: float) -> None:
        track = self.mapping.track_for(channel, note)
        if track is None or track >= len(self.sequencer.session.tracks):
            log.debug("note %d on channel %d is not mapped to a track; ignored", note, channel + 1)
            return
        beat = self.sequencer.clock.beat_at(t)
        self.play(Hit(t, beat, math.floor(beat / STEP_BEATS), track, velocity))
        if self.record and self.sequencer.playing:
            heard = self.sequencer.clock.beat_at(t - self.latency)
            step = round(heard / STEP_BEATS) % STEPS
            tr = self.sequencer.session.tracks[track]
            tr.steps[step], tr.velocity[step] = True, velocity

    async def run(self, pattern: str, api: str = "jack",
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Read the port matching ``pattern`` (reopened when it returns) until cancelled.

        The port is polled, not given a callback: rtmidi calls a callback on JACK's process thread,
        which then waits for Python's GIL, and while any Python thread holds it the whole JACK
        cycle waits, scsynth's too (its sounds moved by 3 ms at such a stall)."""
        port: Any = None
        stamps = midiports.Stamps()

        def found(new: Any) -> None:
            nonlocal port, stamps
            port, stamps = new, midiports.Stamps()

        async with trio.open_nursery() as n:
            await n.start(midiports.keep_open, "input", pattern, api,
                          lambda name: midiports.open_input(name, api), found)
            task_status.started()
            while True:
                if port is not None:
                    for t, data in midiports.drain(port, stamps):
                        self.feed(t, data)
                await trio.sleep(midiports.POLL if port is not None else midiports.WATCH)



async def listen(port: str, received: list[tuple[float, list[int]]], client: str = "gt-listener",
                 api: str = "jack", task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """A device's input connected to ``port``, appending (arrival time, bytes) to ``received`` until
    cancelled: what tests and benches use to see what left a port, stamped with the MIDI system's
    own times (:class:`midiports.Stamps`), polled as every input here is."""
    listener = await trio.to_thread.run_sync(midiports.open_input, port, api, client)
    stamps = midiports.Stamps()
    try:
        task_status.started()
        while True:
            received += midiports.drain(listener, stamps)
            await trio.sleep(midiports.POLL)
    finally:
        await midiports.release(listener)


async def recorded(seq: Sequencer, out: MidiOut, seconds: float,
                   settle: float = 0.2) -> tuple[list[tuple[float, list[int]]], float]:
    """MIDI out ``out`` on a virtual port (gridtonic:out) playing ``seq``'s hits, a listener
    connected to it; after ``settle`` s ``seq`` plays from beat 0 for ``seconds``. What arrived
    (JACK's times) and when beat 0 was due: what the MIDI-out test and bench measure."""
    received: list[tuple[float, list[int]]] = []
    seq.sinks.append(out.play)
    async with trio.open_nursery() as n:
        await n.start(out.run, midiports.VIRTUAL, "jack")
        await n.start(listen, f"{midiports.CLIENT}:out", received)
        await trio.sleep(settle)
        seq.start()
        start = seq.clock.time_at(0)
        await n.start(seq.run)
        await trio.sleep(seconds)
        n.cancel_scope.cancel()
    return received, start
