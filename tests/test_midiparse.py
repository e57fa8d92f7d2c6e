"""The MIDI byte parser: real-time bytes inside messages, running status, garbage."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gridtonic import midiparse
from gridtonic.midiclock import MidiClock
from gridtonic.midiparse import CLOCK, Parser
from gridtonic.ticksim import jitter, master


def test_real_time_bytes_inside_a_note_and_a_song_position():
    p = Parser()
    assert p.feed([0x92, 0xF8, 36, 0xFA, 100, 0xF2, 0x0A, 0xF8, 0x00]) == [
        (CLOCK,), (0xFA,), (0x92, 36, 100), (CLOCK,), (0xF2, 10, 0),
    ]


def test_running_status_and_chunking():
    p = Parser()
    out = [m for b in [0x90, 36, 100, 38, 0xF8, 90, 0xB1, 7] + [64] for m in p.feed([b])]
    assert out == [(0x90, 36, 100), (CLOCK,), (0x90, 38, 90), (0xB1, 7, 64)]


def test_sysex_with_clock_inside_and_stray_bytes():
    p = Parser()
    assert p.feed([5, 6, 0xF0, 1, 0xF8, 2, 0xF7, 0xF4, 9, 0xFC]) == [(CLOCK,), (0xF0, 1, 2, 0xF7), (0xFC,)]


@given(st.lists(st.integers(0, 255), max_size=400), st.lists(st.integers(0, 400), max_size=40))
def test_random_bytes_never_raise_and_every_clock_comes_through(noise, at):
    stream = list(noise)
    for i in sorted(at, reverse=True):
        stream.insert(min(i, len(stream)), CLOCK)
    out = Parser().feed(stream)
    assert sum(m == (CLOCK,) for m in out) == stream.count(CLOCK)
    assert all(isinstance(m, tuple) and m and all(0 <= b <= 255 for b in m) for m in out)


def test_a_clock_buried_in_garbage_stays_locked():
    """Random bytes (no real-time ones) between the ticks of a 120 BPM clock with ±1 ms jitter."""
    rng = np.random.default_rng(7)
    garbage = [b for b in range(256) if b < 0xF8]
    ticks = jitter(master(lambda t: 120, 20), 1e-3)
    p, clock = Parser(), MidiClock()
    clock.start()
    for t in ticks:
        for m in p.feed([*rng.choice(garbage, 5), CLOCK, *rng.choice(garbage, 3)]):
            if m == (CLOCK,):
                clock.tick(t)
    assert clock.locked and clock.running
    assert abs(clock.tempo - 120) < 0.05
    assert abs(clock.time_at((len(ticks) + 5) / 24) - (ticks[0] + (len(ticks) + 5) * 60 / 2880)) < 1e-3


def test_overlong_sysex_is_dropped():
    p = Parser()
    assert p.feed([0xF0, *[1] * (midiparse.MAX_SYSEX + 5), 0xF7, 0x90, 1, 2]) == [(0x90, 1, 2)]
