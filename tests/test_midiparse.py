"""The MIDI byte parser: real-time bytes inside messages, running status, garbage (also through
MidiIn.feed onto a following clock and a sequencer)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gridtonic.core import midiparse
from gridtonic.core.midiparse import CLOCK, CONTINUE, SONG_POSITION, Parser
from gridtonic.core.sequencer import Sequencer
from gridtonic.midi.clock import PPQN, SPP_TICKS, MidiClock
from gridtonic.midi.inport import MidiIn
from gridtonic.midi.ticksim import jitter, master
from gridtonic.sound.render import pattern_session

# any byte, with Song Position Pointers' status common enough to start (and cut short) many
BYTES = st.one_of(st.integers(0, 255), st.just(SONG_POSITION))


def following() -> tuple[MidiIn, list[float | None]]:
    """MidiIn following a MidiClock, and the beats the sequencer was told to play from (None: stop)."""
    clock = MidiClock()
    seq = Sequencer(pattern_session("kick:x,snare:-x"), clock)
    starts: list[float | None] = []
    seq.listeners.append(starts.append)
    return MidiIn(seq, lambda hit: None, clock=clock), starts


def feed_chunked(midi_in: MidiIn, data: list[int], cuts: list[int], t: float = 1.0) -> float:
    """``data`` in chunks split at ``cuts``, a tick's time apart; returns the time after the last."""
    for chunk in np.split(np.asarray(data, dtype=int), sorted(c % (len(data) + 1) for c in cuts)):
        midi_in.feed(t, [int(b) for b in chunk])
        t += 60 / (PPQN * 120)
    return t


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


@given(st.lists(BYTES, max_size=600), st.lists(st.integers(0, 600), max_size=20))
def test_random_bytes_through_midi_in_never_raise(data, cuts):
    """Clock, transport, SPPs (whole and cut short), notes, CCs and junk, in any order and chunking,
    onto the follower and the sequencer: nothing raises, and a Start and a tick after it still
    play from the downbeat (no state left broken)."""
    midi_in, starts = following()
    t = feed_chunked(midi_in, data, cuts)
    midi_in.feed(t, [0xFA, CLOCK])
    assert starts[-1] == 0.0


@given(st.lists(BYTES, max_size=300), st.integers(0, 0x3FFF),
       st.lists(st.one_of(st.integers(0, 0x7F), st.sampled_from([CLOCK, 0xFE])), max_size=50),
       st.lists(st.integers(0, 400), max_size=10))
def test_a_song_position_inside_garbage_moves_the_song_as_midi_says(before, sixteenths, after, cuts):
    """Not a bug, the protocol: 0xF2 and two data bytes are a Song Position Pointer wherever they
    appear, whatever came before (a status byte ends any message it cut short). Continue then plays
    from that 16th. Clock and Active Sensing may sit inside it (real-time bytes go anywhere); the
    data bytes after it are strays (no running status for system common), not another SPP."""
    midi_in, starts = following()
    spp = [SONG_POSITION, sixteenths & 0x7F, sixteenths >> 7]
    t = feed_chunked(midi_in, [*before, spp[0], spp[1], CLOCK, spp[2], *after, CONTINUE], cuts)
    midi_in.feed(t, [CLOCK])
    assert starts[-1] == sixteenths * SPP_TICKS / PPQN
