"""The sequencer schedules every hit at its ideal clock time, ahead of need, under a mock clock."""

import pytest
import trio

from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import LOOKAHEAD, STEP_BEATS, Sequencer, chance, hits_between, step_beat
from gridtonic.core.session import Session, Track
from gridtonic.sound.render import pattern_session


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


def played(s, bars=64):
    """Absolute steps of track 0 that play in ``bars`` bars."""
    return [h.step for h in hits_between(s, InternalClock(), 0.0, 4.0 * bars) if h.track == 0]


def test_probability_zero_never_plays_and_one_always_does():
    s = session_with("x", "x")
    s.tracks[0].probability = [0.0] * 32
    assert played(s) == []
    assert len([h for h in hits_between(s, InternalClock(), 0.0, 256.0) if h.track == 1]) == 64 * 16


def test_probability_half_plays_about_half_the_same_way_for_the_same_seed():
    s = session_with("x", "x")
    for t in s.tracks:
        t.probability = [0.5] * 32
    first = played(s)
    assert 0.45 < len(first) / (64 * 16) < 0.55
    assert played(s) == first  # no hidden random state: the same session plays the same
    again = session_with("x", "x")
    again.tracks[0].probability = [0.5] * 32
    assert played(again) == first
    s.seed = 7
    assert played(s) != first
    both = hits_between(s, InternalClock(), 0.0, 256.0)
    assert {h.step for h in both if h.track == 0} != {h.step for h in both if h.track == 1}


def test_probability_draws_agree_across_windows():
    s = session_with("x-xx-x--x--xxx-x", "-x-x-x-x-x-x-x-x")
    s.tracks[0].probability = [0.3] * 32
    s.tracks[1].probability = [0.8] * 32
    clock = InternalClock(133.0)
    whole = hits_between(s, clock, 0.0, 64.0)
    edges = [0.0, 0.3, 0.31, 1.7, 5.0, 33.3, 64.0]
    pieces = [h for a, b in zip(edges, edges[1:], strict=False) for h in hits_between(s, clock, a, b)]
    assert pieces == whole


def test_chance_is_uniform_and_keyed():
    draws = [chance(3, t, n) for t in range(4) for n in range(5000)]
    assert all(0.0 <= d < 1.0 for d in draws)
    assert abs(sum(draws) / len(draws) - 0.5) < 0.01
    assert sum(d < 0.25 for d in draws) / len(draws) == pytest.approx(0.25, abs=0.01)
    assert len({chance(0, 0, 0), chance(1, 0, 0), chance(0, 1, 0), chance(0, 0, 1)}) == 4


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


async def test_the_running_sequencer_plays_what_a_render_plays(autojump_clock):
    s = session_with("xxxx", "x-x-")
    s.seed = 42
    for t in s.tracks:
        t.probability = [0.5] * 32
    clock = InternalClock(120.0)
    got = []
    seq = Sequencer(s, clock, [got.append])
    async with trio.open_nursery() as n:
        await n.start(seq.run)
        seq.start()
        await trio.sleep(4.0 - 0.1)  # two bars
        n.cancel_scope.cancel()
    render = hits_between(s, InternalClock(120.0), 0.0, 8.0)  # what gridtonic.sound.render schedules
    assert [(h.track, h.step) for h in got] == [(h.track, h.step) for h in render]
    assert 0 < len(render) < 48



def test_a_failing_output_or_step_logs_and_the_others_play_on(caplog):
    s = pattern_session("kick:x")
    clock = InternalClock(120.0)
    got = []

    def broken(hit):
        raise RuntimeError("crow unplugged mid-write")

    seq = Sequencer(s, clock, sinks=[broken, got.append])
    seq.playing = True
    for k in range(1, 9):
        seq.schedule(k * 0.125)
    assert len(got) == seq.failures == 9  # 16ths up to 1 s + the look-ahead
    assert caplog.text.count("an output") == 4  # the 1st, 2nd, 4th and 8th
    s.tracks[0].locks = []  # a session broken by a bug: deciding its steps raises
    seq.schedule(10 * 0.125)
    assert seq.failures == 10 and "deciding the steps" in caplog.text and len(got) == 9
    s.tracks[0].locks = [{} for _ in range(64)]
    seq.schedule(12 * 0.125)
    assert len(got) > 9  # and it plays on once the bug is gone
