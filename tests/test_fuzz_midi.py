"""MIDI in and Launchpads fuzzed over real JACK MIDI ports (jackd dummy): random and hostile bytes
from a device, then the clock, notes and keys still work, and no handler raised on any of them.

Hypothesis draws the bytes (bounded, derandomized) in a worker thread that sends them through the
device's real port while trio runs gridtonic's side, so every byte goes through JACK, rtmidi's
queue, the poll and the parser as a device's would. The sender pauses every few events so rtmidi's
input queue (100 messages) never overflows: what is sent is what is read.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from test_grid import until
from test_launchpad import rig, shows, tap

from gridtonic.core.midiparse import Parser
from gridtonic.core.sequencer import Sequencer
from gridtonic.launchpad import models
from gridtonic.launchpad.emulator import EmulatedLaunchpad
from gridtonic.launchpad.models import MINI_MK3
from gridtonic.midi.clock import MidiClock
from gridtonic.midi.inport import MidiIn
from gridtonic.sound.render import pattern_session

EXAMPLES = 300
PAUSE = 0.004  # s after each example: a poll or so, so rtmidi's queue never fills

byte = st.integers(0, 255)
data = st.integers(0, 127)
huge = st.sampled_from([0x00, 0x7F])
hostile = st.one_of(
    st.lists(st.sampled_from([0xF8, 0xFA, 0xFB, 0xFC, 0xF2, 0xF0, 0xF7, 0xF4, 0xF9, 0xFE, 0xFF]),
             min_size=1, max_size=24),  # real-time storms, lone and undefined statuses
    st.tuples(st.just(0xF2), huge, huge).map(list),  # song position at its extremes
    st.builds(lambda s, n, v: [s, n, v], st.integers(0x80, 0xEF), data, data),  # any channel message
    st.builds(lambda n: [0xF0, *([0x55] * n)], st.integers(1, 200)),  # SysEx with no end
    st.lists(st.sampled_from([0x99, 0xB9, 36, 38, 0, 127, 0xF8]), min_size=1, max_size=16),  # running status
)
events = st.lists(st.one_of(st.binary(min_size=1, max_size=32).map(list), hostile), min_size=1, max_size=6)


def events_of(chunk: list[int]) -> list[list[int]]:
    """``chunk`` as JACK MIDI events rtmidi sends: one if it starts a SysEx, else 3 bytes at most
    each (the same bytes in the same order: the receiving parser reads one stream)."""
    if chunk[0] == 0xF0:
        return [chunk]
    return [chunk[i:i + 3] for i in range(0, len(chunk), 3)]


class Fuzz:
    """Sends hypothesis' events through ``send`` from a worker thread; counts what it tried."""

    def __init__(self, send: Callable[[list[int]], None]):
        self.send = send
        self.events = self.bytes = 0
        self.parser = Parser()  # the stream as the receiving parser reads it
        self.messages = 0

    def run(self) -> None:
        @settings(max_examples=EXAMPLES, derandomize=True, database=None)
        @given(events)
        def example(chunks: list[list[int]]) -> None:
            for chunk in chunks:
                for event in events_of(chunk):
                    self.send(event)
                    self.events += 1
                self.bytes += len(chunk)
                self.messages += len(self.parser.feed(chunk))
            time.sleep(PAUSE)

        example()


async def test_random_and_hostile_bytes_leave_clock_and_notes_working(sender):
    clock = MidiClock()
    seq = Sequencer(pattern_session("kick:x,snare:-"), clock, [])
    steps, notes = [], []
    seq.sinks.append(steps.append)
    midi_in = MidiIn(seq, notes.append, clock=clock)
    fuzz = Fuzz(sender.send_message)
    async with trio.open_nursery() as n:
        await n.start(midi_in.run, "gt-sender", "jack")
        await n.start(seq.run)
        await trio.to_thread.run_sync(fuzz.run)
        sender.send_message([0xF7])  # a SysEx left open ends (rtmidi holds back every event until then)
        sender.send_message([0xFC])
        await until(lambda: not seq.playing, "the transport stopped")
        steps.clear()
        notes.clear()
        sender.send_message([0xFA])
        for _ in range(24 * 4):  # four beats at 150 BPM
            sender.send_message([0xF8])
            await trio.sleep(60 / (24 * 150))
        sender.send_message([0x99, 38, 100])
        await until(lambda: notes and len(steps) >= 12, "a note and the clock's steps")
        n.cancel_scope.cancel()
    assert [(h.track, round(h.velocity, 2)) for h in notes] == [(1, round(100 / 127, 2))]
    first = steps[0].step
    assert [h.step for h in steps] == list(range(first, first + len(steps))) and first <= 1
    assert midi_in.failed.count == 0
    print(f"MIDI in: {fuzz.events} events, {fuzz.bytes} bytes, {fuzz.messages} messages, "
          f"{midi_in.failed.count} handler errors")
    assert fuzz.messages > EXAMPLES


async def test_random_bytes_from_a_launchpad_leave_its_keys_working():
    lp = EmulatedLaunchpad(MINI_MK3)
    async with rig(lp) as (_, surface, lps):
        await until(lambda: len(lps.order) == 1 and shows(lp, surface, lps), "the first frame")
        fuzz = Fuzz(lp.send)
        await trio.to_thread.run_sync(fuzz.run)
        lp.send([0xF7])  # a SysEx left open ends (rtmidi holds back every event until then)
        for local, _ in models.leds(lp.model):  # keys the fuzz held are let go, its edits cleared
            if local != (8, 0):  # the logo: no key
                lp.press(local, False)
        await trio.sleep(0.05)
        for t in surface.session.tracks:
            t.set_pattern("-")
        await tap(lp, 5, 1)
        await until(lambda: surface.session.tracks[0].steps[5] and shows(lp, surface, lps), "a key")
        assert len(lps.order) == 1 and lps.failed.count == 0
    print(f"Launchpad: {fuzz.events} events, {fuzz.bytes} bytes, {fuzz.messages} messages, "
          f"{lps.failed.count} handler errors")
