"""MIDI out timing over real JACK MIDI ports: clock ticks and notes against their ideal times.

gridtonic (the internal clock as master, ``MidiOut`` with clock and notes out on gridtonic:out)
plays a pattern; a listener on JACK (``midiin.listen``: JACK's own time stamps) records what
arrives. Each tick's ideal time is its beat's time plus the latency, each note's its hit's. Two
stages are shown: *sent* is when ``MidiOut`` handed the message to rtmidi (trio's wake-up, Python),
*arrived* adds rtmidi's JACK backend, which writes every event at the start of the next JACK cycle
(0 to 1 period late: uniform, σ = period/√12 and max = one period, 1.54 / 5.33 ms at 256 / 48 kHz).
Arrival errors are about their mean (the mean is the transfer delay: a fixed offset, not jitter).
Starts its own JACK server (dummy backend) when none runs.

    python bench/midi_out.py [--seconds 30] [--bpm 120]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import trio

from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import Hit, Sequencer
from gridtonic.io import jack
from gridtonic.midi.inport import recorded
from gridtonic.midi.outport import MidiOut, NoteOut
from gridtonic.sound.render import pattern_session

SERVER = "gt-bench-midiout"
LATENCY = 0.08
NOTES = {0: NoteOut(note=36), 1: NoteOut(note=38), 2: NoteOut(note=42)}
MS = 1e-3
PATTERN = "kick:x---x---x-x---,snare:----x-------x--x,closed hat:xxxxxxxxxxxxxxxx"


def row(label: str, errors: np.ndarray, about_mean: bool) -> str:
    e = errors - errors.mean() if about_mean else errors
    return (f"  {label:<22} n={len(e):5d}  mean {errors.mean() / MS:6.2f}  σ {e.std() / MS:5.2f}  "
            f"max |e| {np.abs(e).max() / MS:5.2f}  span {np.ptp(e) / MS:5.2f} ms")


async def bench(seconds: float, bpm: float) -> None:
    os.environ.setdefault("JACK_DEFAULT_SERVER", SERVER)
    sent: list[tuple[float, list[int]]] = []
    hits: list[Hit] = []
    async with jack.ensure_jack(os.environ["JACK_DEFAULT_SERVER"]):
        seq = Sequencer(pattern_session(PATTERN), InternalClock(bpm), [hits.append])
        out = MidiOut(seq, LATENCY, NOTES, clock=True)
        send = out._send

        def instrumented(data: list[int]) -> None:  # when each message left MidiOut
            sent.append((trio.current_time(), data))
            send(data)

        out._send = instrumented  # type: ignore[method-assign]
        received, start = await recorded(seq, out, seconds, settle=0.5)

    tick = 60 / (24 * bpm)
    print(f"MIDI out over JACK (256 frames / 48 kHz), {bpm:g} BPM, {seconds:g} s; error vs ideal, ms")
    for label, stream, about_mean in (("sent", sent, False), ("arrived", received, True)):
        kinds = [m for _, m in stream]
        first = kinds.index([0xFA])
        ticks = np.array([t for t, m in stream[first:] if m == [0xF8]])
        print(row(f"clock ticks, {label}", ticks - (start + LATENCY + np.arange(len(ticks)) * tick),
                  about_mean))
        errors = []
        for track, note in NOTES.items():
            due = np.array([h.time + LATENCY for h in hits if h.track == track])
            on = np.array([t for t, m in stream if m[:2] == [0x99, note.note] and m[2] > 0])
            errors.append(on[:len(due)] - due[:len(on)])
        print(row(f"notes, {label}", np.concatenate(errors), about_mean))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--bpm", type=float, default=120.0)
    args = p.parse_args()
    trio.run(bench, args.seconds, args.bpm)


if __name__ == "__main__":
    main()
