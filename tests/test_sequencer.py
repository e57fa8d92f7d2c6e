"""The sequencer schedules every hit at its ideal clock time, ahead of need, under a mock clock."""

import pytest
import trio

from gridtonic.clock import InternalClock
from gridtonic.sequencer import LOOKAHEAD, STEP_BEATS, Sequencer, hits_between, step_beat
from gridtonic.session import Session, Track


def session_with(*patterns: str, tempo: float = 120.0) -> Session:
    tracks = []
    for i, p in enumerate(patterns):
        t = Track(name=f"t{i}")
        t.set_pattern(p)
        tracks.append(t)
    return Session(tracks=tracks, tempo=tempo)


def test_four_on_the_floor_times_are_exact():
    s = session_with("x---")
    clock = InternalClock(120.0, start=10.0)
    hits = hits_between(s, clock, 0.0, 4.0)
    assert [h.time for h in hits] == [10.0, 10.5, 11.0, 11.5]
    assert [h.step for h in hits] == [0, 4, 8, 12]


def test_swing_moves_only_odd_sixteenths():
    assert step_beat(2, 66.0) == 0.5
    assert step_beat(3, 66.0) == pytest.approx(0.5 + 0.5 * 0.66)
    assert step_beat(3, 50.0) == pytest.approx(3 * STEP_BEATS)


def test_windows_partition_hits_without_gaps_or_doubles():
    s = session_with("x-xx-x--x--xxx-x", "-x-x-x-x-x-x-x-x")
    s.tracks[1].swing = 62.0
    clock = InternalClock(133.0)
    whole = hits_between(s, clock, 0.0, 16.0)
    edges = [0.0, 0.3, 0.31, 1.7, 5.0, 5.0, 9.9, 16.0]
    pieces = [h for a, b in zip(edges, edges[1:], strict=False) for h in hits_between(s, clock, a, b)]
    assert pieces == whole


def test_mute_and_velocity():
    s = session_with("x---", "x---")
    s.tracks[0].mute = True
    s.tracks[1].velocity[4] = 0.25
    hits = hits_between(s, InternalClock(), 0.0, 2.0)
    assert {h.track for h in hits} == {1}
    assert [h.velocity for h in hits] == [1.0, 0.25]


def test_tempo_change_keeps_past_beats():
    clock = InternalClock(120.0)
    clock.set_tempo(60.0, now=2.0)  # beat 4 at t=2
    assert clock.beat_at(2.0) == pytest.approx(4.0)
    assert clock.time_at(5.0) == pytest.approx(3.0)


def test_tap_tempo():
    clock = InternalClock(120.0)
    for t in (0.0, 0.4, 0.8, 1.2):
        clock.tap(t)
    assert clock.tempo == pytest.approx(150.0)


async def test_hits_are_handed_out_ahead_of_their_time(autojump_clock):
    s = session_with("xxxx")
    clock = InternalClock(120.0)
    got = []

    def sink(hit):
        got.append((trio.current_time(), hit))

    seq = Sequencer(s, clock, [sink])
    async with trio.open_nursery() as n:
        await n.start(seq.run)
        seq.start()
        await trio.sleep(2.0)
        seq.stop()
        await trio.sleep(0.5)
        n.cancel_scope.cancel()
    times = [h.time for _, h in got]
    start = times[0]
    # 16ths at 120 BPM: exactly 0.125 s apart, computed, not slept
    assert times == [pytest.approx(start + 0.125 * i, abs=1e-9) for i in range(len(times))]
    assert 15 <= len(times) <= 17
    for handed, hit in got:
        assert hit.time - LOOKAHEAD - 0.011 <= handed <= hit.time  # ahead, never late

