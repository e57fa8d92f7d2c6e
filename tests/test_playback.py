"""Issue 15's sequencer features at the level of hits: ratchets, nudges, conditions (Elektron's
semantics), per-track length and speed, accents, locks, fills and chains — and that live play in
small spans decides exactly what a render decides in one go."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridtonic.core import actions as a
from gridtonic.core.clock import InternalClock
from gridtonic.core.playback import ACCENT_DB, Playback, output_velocity, voice_patch
from gridtonic.core.sequencer import hits_between
from gridtonic.core.session import (
    CONDITIONS,
    MAX_NUDGE,
    MAX_STEPS,
    SPEEDS,
    Session,
    Steps,
    Track,
    default_session,
)


def session(*patterns: str) -> Session:
    s = Session(tracks=[Track(name=f"t{i}") for i in range(len(patterns))])
    for t, p in zip(s.tracks, patterns, strict=True):
        t.set_pattern(p)
    return s


def beats(s: Session, b1: float, track: int = 0, b0: float = 0.0) -> list[float]:
    return [h.beat for h in hits_between(s, InternalClock(120.0), b0, b1) if h.track == track]


def test_a_ratchet_plays_evenly_inside_its_step_with_a_velocity_ramp():
    s = session("x---")
    t = s.tracks[0]
    t.ratchet[0], t.ramp[0], t.velocity[0] = 4, 1.0, 0.8
    hits = [h for h in hits_between(s, InternalClock(120.0), 0.0, 1.0)]
    assert [h.beat for h in hits] == [0.0, 0.0625, 0.125, 0.1875]
    assert [h.velocity for h in hits] == pytest.approx([0.0, 0.8 / 3, 1.6 / 3, 0.8])
    t.ramp[0] = -0.5
    assert [h.velocity for h in hits_between(s, InternalClock(120.0), 0.0, 1.0)] == pytest.approx(
        [0.8, 0.8 * (1 - 0.5 / 3), 0.8 * (1 - 1 / 3), 0.4])


def test_a_nudge_moves_one_step_by_1_384th_notes_and_early_ones_play_before_their_step():
    s = session("x---x---" + "-" * 24)
    t = s.tracks[0]
    t.nudge[4] = MAX_NUDGE  # step 5 half a step late
    assert beats(s, 2.0) == [0.0, 1.0 + 0.125]
    t.nudge[4] = -1
    assert beats(s, 2.0) == [0.0, 1.0 - 0.25 / 24]  # one 1/384 note (a 16th is 24 of them)
    t.nudge[0] = -MAX_NUDGE  # the very first step cannot be earlier than the start: it is at it
    assert beats(s, 8.0) == [0.0, 1.0 - 0.25 / 24, 8.0 - 0.125]  # the next cycle's first: early


@pytest.mark.parametrize(("condition", "cycles"), [
    ("1:2", [0, 2, 4, 6]), ("2:2", [1, 3, 5, 7]), ("3:4", [2, 6]), ("1:8", [0]), ("8:8", [7]),
    ("1ST", [0]), ("!1ST", [1, 2, 3, 4, 5, 6, 7]),
])
def test_cycle_conditions_over_8_cycles(condition, cycles):
    s = session("x" + "-" * 15)
    s.tracks[0].length = 16
    s.tracks[0].condition[0] = condition
    assert beats(s, 32.0) == [4.0 * c for c in cycles]


def test_fill_plays_on_fill_bars_and_while_the_key_is_held():
    s = session("x---" * 4)
    s.tracks[0].length = 16
    s.tracks[0].condition[4] = "FILL"
    s.tracks[0].condition[8] = "!FILL"
    s.fill_every = 4  # Microtonic's FillRate: every 4th bar is a fill
    got = beats(s, 32.0)
    fill_bars = {3, 7}
    for bar in range(8):
        assert (4.0 * bar + 1.0 in got) == (bar in fill_bars)
        assert (4.0 * bar + 2.0 in got) == (bar not in fill_bars)
    s.fill_every = 0
    p = Playback(s, fill=True)
    assert 1.0 in [h.beat for h in p.hits(0.0, 4.0)]


def test_pre_follows_the_last_condition_of_its_track_and_nei_the_track_before():
    s = session("x-x-" * 4, "x" + "-" * 15)
    for t in s.tracks:
        t.length = 16
    s.tracks[0].condition[0] = "1:2"
    s.tracks[0].condition[2] = "PRE"
    s.tracks[0].condition[4] = "!PRE"
    s.tracks[1].condition[0] = "NEI"  # track 1's step 1 at the same beat: track 0's 1:2 decided first
    got = beats(s, 8.0)
    first_bar = [b for b in got if b < 4.0]
    second_bar = [b - 4.0 for b in got if b >= 4.0]
    assert 0.0 in first_bar and 0.5 in first_bar and 1.0 not in first_bar  # 1:2 true, PRE true, !PRE false
    assert 0.0 not in second_bar and 0.5 not in second_bar and 1.0 in second_bar
    assert beats(s, 8.0, track=1) == [0.0]  # NEI: true in cycle 1 only
    s.tracks[0].condition[0] = None
    s.tracks[0].probability[0] = 0.5  # a probability is a condition too: PRE copies its draw
    hits = hits_between(s, InternalClock(120.0), 0.0, 64.0)
    played = {round(h.beat // 4) for h in hits if h.track == 0 and h.beat % 4 == 0.0}
    pre = {round(h.beat // 4) for h in hits if h.track == 0 and h.beat % 4 == 0.5}
    assert played == pre and 0 < len(played) < 16


def test_tracks_of_lengths_3_and_5_realign_after_15_steps():
    s = session("x--", "x----")
    s.tracks[0].length, s.tracks[1].length = 3, 5
    both = lambda b0, b1: [(h.track, h.beat - b0) for h in hits_between(s, InternalClock(), b0, b1)]  # noqa: E731
    lcm = math.lcm(3, 5) * 0.25
    assert both(0.0, lcm) == both(lcm, 2 * lcm) == both(2 * lcm, 3 * lcm)
    assert both(0.0, lcm) != both(0.25 * 3, 0.25 * 3 + lcm)  # and not sooner
    assert beats(s, lcm, track=0) == [0.0, 0.75, 1.5, 2.25, 3.0]


@pytest.mark.parametrize("speed", SPEEDS)
def test_speed_sets_the_track_step_against_the_16th(speed):
    s = session("x")
    s.tracks[0].length = 4
    got = beats(s, 8.0)
    s.tracks[0].speed = speed
    assert beats(s, 8.0) == pytest.approx([n * 0.25 / speed for n in range(math.ceil(8.0 * speed / 0.25))])
    assert len(got) == 32


def test_locks_and_accents_travel_with_the_hit_and_change_only_their_step():
    s = session("xx")
    t = s.tracks[0]
    t.locks[1] = {"oscFreq": 880.0}
    t.accent[0] = True
    h0, h1 = hits_between(s, InternalClock(), 0.0, 0.5)
    assert voice_patch(t, h1)["oscFreq"] == 880.0 and voice_patch(t, h0)["oscFreq"] == t.patch()["oscFreq"]
    assert voice_patch(t, h0)["level"] == t.patch()["level"] + ACCENT_DB and h0.accent
    assert output_velocity(h0) == 1.0 and output_velocity(h1) == h1.velocity
    assert a.apply(s, a.SetLock(0, 1, "oscFreq", 1e12)) and t.locks[1]["oscFreq"] == 20000.0
    assert a.apply(s, a.SetLock(0, 1, "oscFreq", None)) and t.locks[1] == {}
    assert not a.apply(s, a.SetLock(0, 1, "nonsense", 1.0))


def test_a_chain_plays_its_slots_in_turn_at_bar_lines():
    s = session("x" + "-" * 15)
    for t in s.tracks:
        t.length = 16
    first = tuple(Steps.of(t) for t in s.tracks)
    s.tracks[0].set_pattern("--x-" * 4)
    s.tracks[0].length = 16
    second = tuple(Steps.of(t) for t in s.tracks)
    s.slots = [first, second, None]
    s.chain = [0, 0, 2, 1]  # an empty slot is skipped
    got = beats(s, 16.0)
    assert got == [0.0, 4.0, 8.5, 9.5, 10.5, 11.5, 12.0]
    assert s.tracks[0].pattern() == "--x-" * 4  # hits_between plays a copy: the session is left be


def test_a_song_position_inside_a_chain_plays_what_the_whole_song_plays_there():
    s = session("x" + "-" * 15)
    s.tracks[0].length = 16
    first = tuple(Steps.of(t) for t in s.tracks)
    s.tracks[0].set_pattern("--x-" * 4)
    s.tracks[0].length = 32  # two bars
    second = tuple(Steps.of(t) for t in s.tracks)
    s.slots = [first, second]
    s.chain = [0, 1, 1, 0]  # bars 0, 1-2, 3-4, 5; then again from bar 6
    whole = beats(s, 40.0)
    for start in (6.0, 13.0, 20.0, 22.25, 30.0):
        p = Playback(s)
        p.skip_to(start)
        got = [h.beat for h in p.hits(start, 40.0) if h.track == 0]
        assert got == [b for b in whole if b >= start], start


def changed_session(data) -> Session:
    s = default_session()
    for t in s.tracks:
        for i in range(MAX_STEPS):
            t.steps[i] = data.draw(st.booleans())
            if t.steps[i]:
                t.ratchet[i] = data.draw(st.integers(1, 8))
                t.ramp[i] = data.draw(st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]))
                t.nudge[i] = data.draw(st.integers(-MAX_NUDGE, MAX_NUDGE))
                t.condition[i] = data.draw(st.sampled_from([None, *CONDITIONS]))
                if t.condition[i] is None:
                    t.probability[i] = data.draw(st.sampled_from([1.0, 0.5]))
                t.accent[i] = data.draw(st.booleans())
        t.length = data.draw(st.integers(1, MAX_STEPS))
        t.speed = data.draw(st.sampled_from(SPEEDS))
        t.swing = data.draw(st.sampled_from([50.0, 66.0]))
    s.fill_every = data.draw(st.sampled_from([0, 2, 3]))
    return s


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_live_spans_decide_what_a_render_decides(data):
    s = changed_session(data)
    edges = sorted({0.0, 16.0, *data.draw(st.lists(st.floats(0.0, 16.0), max_size=40))})
    clock = InternalClock(120.0)
    whole = hits_between(s, clock, 0.0, 16.0)
    p = Playback(s)
    pieces = [h for b0, b1 in zip(edges, edges[1:], strict=False) for h in p.hits(b0, b1)]
    assert [(h.beat, h.track, h.velocity) for h in whole] == [(h.beat, h.track, h.velocity) for h in pieces]
    assert all(0.0 <= h.beat < 16.0 for h in whole)
    assert [h.beat for h in whole] == sorted(h.beat for h in whole)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_a_session_with_every_feature_round_trips(data):
    s = changed_session(data)
    s.tracks[0].locks[3] = {"oscFreq": 440.0, "nFilQ": 3.0}
    s.slots = [tuple(Steps.of(t) for t in s.tracks), None]
    s.chain = [0, 0, 1]
    d = s.to_dict()
    back = Session.from_dict(d)
    assert back.to_dict() == d
    for t, u in zip(s.tracks, back.tracks, strict=True):
        assert Steps.of(t) == Steps.of(u)


def test_a_version_1_session_loads_unchanged():
    v1 = {"format": "gridtonic-session", "version": 1, "tempo": 100.0, "seed": 3, "slots": [], "tracks": [
        {"name": "kick", "pattern": "x---" * 8, "velocity": [0.5] * 32, "probability": [1.0] * 31 + [0.25],
         "swing": 60.0, "mute": False, "pan": 0.0, "choke": None, "max_voices": 4, "morph": 0.0,
         "patch_a": {}, "patch_b": {}}]}
    s = Session.from_dict(v1)
    t = s.tracks[0]
    assert t.pattern() == "x---" * 8 and t.length == 32 and t.speed == 1.0
    assert t.velocity[:32] == [0.5] * 32 and t.probability[31] == 0.25
    assert t.ratchet == [1] * MAX_STEPS and t.condition == [None] * MAX_STEPS and t.locks[0] == {}
    out = s.to_dict()
    assert out["version"] == 2 and out["tracks"][0]["pattern"] == "x---" * 8
    assert hits_between(s, InternalClock(100.0), 0.0, 8.0) == hits_between(
        Session.from_dict(out), InternalClock(100.0), 0.0, 8.0)


def test_bad_per_step_values_warn_and_fall_back(caplog):
    d = session("x").to_dict()
    d["tracks"][0] |= {"ratchet": [9, "x", 2.4], "nudge": [float("inf"), -40],
                       "condition": ["5:4", "FILL", 3], "length": 1e300, "speed": 1.4, "accent": 5,
                       "locks": [{"oscFreq": float("nan"), "bogus": 1}, "no"]}
    d["chain"] = [0, -1, "a", 99, True]
    d["fill_every"] = float("inf")
    s = Session.from_dict(d)
    t = s.tracks[0]
    assert t.ratchet[:3] == [8, 1, 2] and t.nudge[:2] == [0, -MAX_NUDGE]
    assert t.condition[:3] == [None, "FILL", None] and "bogus" not in t.locks[0] and t.locks[1] == {}
    assert t.length == MAX_STEPS and t.speed == 1.5 and not any(t.accent)
    assert s.chain == [0] and s.fill_every == 0
    for word in ("ratchet[0]", "nudge[0]", "condition[0]", "bogus", "length", "speed", "chain[1]",
                 "fill_every"):
        assert word in caplog.text
