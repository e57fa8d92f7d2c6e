"""Voice allocation: limits per track and in total, choke groups, all as scsynth messages."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.osc_message_builder import OscMessageBuilder

from gridtonic.core import params
from gridtonic.io import osc
from gridtonic.sound import mixer, synthdefs
from gridtonic.sound.synthdefs import VOICE_GROUP
from gridtonic.sound.voices import EQ_MARGIN_S, FADE_S, Voicer

LONG = params.clean({"oscDcy": 2000, "nEnvDcy": 2000})


def decode(msgs):
    return [osc.parse(m) for m in msgs]


def releases(decoded):
    return [m for m in decoded if m[0] == "/n_set" and m[1][1] == "gate"]


def played(decoded) -> tuple[str, int, dict]:
    """A hit's voice: its def, its bus and the track EQ set with it ({} if none)."""
    address, args = decoded[-1]
    eqs = [dict(zip(a[1:5:2], a[2:5:2], strict=True)) for m, a in decoded
           if m == "/n_set" and a[1] == "eQFreq"]
    return args[0], args[args.index("out") + 1] if "out" in args else 0, eqs[0] if eqs else {}


def life(decoded) -> float | None:
    """How long the hit runs its track's EQ (None: it does not)."""
    lives = [a[-1] for m, a in decoded if m == "/n_set" and a[1] == "eQFreq"]
    return lives[0] if lives else None


def test_voices_with_the_tracks_eq_share_it_and_the_others_keep_their_own():
    v = Voicer()
    full, no_eq = synthdefs.def_name(LONG), synthdefs.def_name(LONG, eq=False)
    assert no_eq == full + synthdefs.NO_EQ
    own, shared = mixer.own_bus(2), mixer.track_bus(2)
    # the first hit sets the track's EQ and plays its own (the EQ ramps over the block it changes in)
    assert played(decode(v.hit(0.0, 2, LONG))) == (full, own, {"eQFreq": 1000.0, "eQGain": 0.0})
    assert played(decode(v.hit(0.01, 2, LONG))) == (full, own, {})  # one alike voice: not worth the EQ synth
    third = decode(v.hit(0.02, 2, LONG))  # two: this one starts it, until the voice has ended
    assert played(third) == (no_eq, shared, {"eQFreq": 1000.0, "eQGain": 0.0})
    assert life(third) == pytest.approx(synthdefs.duration(LONG) + EQ_MARGIN_S)
    locked = LONG | {"eQGain": 12.0}  # while a shared voice rings the track's EQ stays: this one has its own
    assert played(decode(v.hit(0.1, 2, locked))) == (full, own, {})
    joins = decode(v.hit(0.15, 2, LONG))  # the EQ synth runs: any alike hit shares it
    assert played(joins)[:2] == (no_eq, shared)
    assert life(joins) == pytest.approx(synthdefs.duration(LONG) + EQ_MARGIN_S)
    later = 0.2 + synthdefs.duration(LONG) + EQ_MARGIN_S  # every shared voice has ended: the EQ changes
    assert played(decode(v.hit(later, 2, locked))) == (full, own, {"eQFreq": 1000.0, "eQGain": 12.0})
    assert played(decode(v.hit(later + 0.01, 2, locked)))[:2] == (full, own)
    assert played(decode(v.hit(later + 0.02, 2, locked)))[:2] == (no_eq, shared)
    assert played(decode(v.hit(0.0, mixer.TRACKS, LONG))) == (full, 0, {})  # past the mixer: straight out


def test_mono_voices_share_their_tracks_eq_only_at_its_level_and_pan():
    """A mono voice's def without the EQ writes one channel, panned and levelled by its track's mono
    EQ synth: a voice at another pan or level keeps its own EQ (and pans itself) while they ring."""
    v = Voicer()
    for t in (0.0, 0.01, 0.02):
        v.hit(t, 0, LONG, pan=0.5)
    no_eq = synthdefs.def_name(LONG, eq=False)
    assert played(decode(v.hit(0.03, 0, LONG, pan=0.5)))[:2] == (no_eq, mixer.track_bus(0))
    assert played(decode(v.hit(0.04, 0, LONG, pan=-0.5)))[:2] == (synthdefs.def_name(LONG), mixer.own_bus(0))
    louder = LONG | {"level": 3.0}
    own = (synthdefs.def_name(louder), mixer.own_bus(0))
    assert played(decode(v.hit(0.05, 0, louder, pan=0.5)))[:2] == own
    assert synthdefs.mixing(LONG, 0.5) == (1000.0, 0.0, 0.0, 0.5)
    assert synthdefs.mixing(LONG | {"nStereo": 1.0}, 0.5) == (1000.0, 0.0)  # stereo: its EQ alone


def test_a_released_shared_voice_keeps_the_eq_for_its_fade():
    v = Voicer()
    v.hit(0.0, 0, LONG)
    v.hit(0.05, 0, LONG)
    assert played(decode(v.hit(0.1, 0, LONG, choke=1)))[1] == mixer.track_bus(0)  # shared
    other = LONG | {"eQFreq": 300.0}
    msgs = decode(v.hit(0.2, 0, other, choke=1))  # chokes it
    assert releases(msgs) == [("/n_set", [1002, "gate", 0.0])] and played(msgs)[2] == {}
    assert played(decode(v.hit(0.2 + FADE_S, 0, other)))[2] == {}  # still fading (and ringing on a block)
    faded = played(decode(v.hit(0.2 + FADE_S + EQ_MARGIN_S, 0, other)))  # only own-EQ voices ring now
    assert faded[2] == {"eQFreq": 300.0, "eQGain": 0.0}


def test_a_hit_is_its_tracks_eq_and_one_s_new_at_the_head_of_the_voice_group():
    v = Voicer()
    (eq, run, (addr, args)) = decode(v.hit(0.0, 0, LONG, 0.5, -0.25))  # mono: the mono EQ, level and pan
    assert eq == ("/n_set", [mixer.FIRST_MONO_EQ_NODE, "eQFreq", 1000.0, "eQGain", 0.0, "level", 0.0,
                             "pan", -0.25, "hit", 1, "life", pytest.approx(EQ_MARGIN_S)])
    assert run == ("/n_run", [mixer.FIRST_MONO_EQ_NODE, 1])
    stereo = decode(v.hit(0.0, 1, LONG | {"nStereo": 1.0}))[:2]  # the stereo EQ: the voice pans itself
    assert stereo == [("/n_set", [mixer.FIRST_EQ_NODE + 1, "eQFreq", 1000.0, "eQGain", 0.0, "hit", 1, "life",
                                  pytest.approx(EQ_MARGIN_S)]), ("/n_run", [mixer.FIRST_EQ_NODE + 1, 1])]
    assert addr == "/s_new"
    assert args[1:4] == [1000, 0, VOICE_GROUP]
    named = dict(zip(args[4::2], args[5::2], strict=True))
    assert named["vel"] == 0.5 and named["pan"] == -0.25


def test_per_track_limit_releases_the_oldest_voice_of_that_track():
    v = Voicer(per_track=2)
    v.hit(0.0, 0, LONG)
    v.hit(0.1, 1, LONG)
    v.hit(0.2, 0, LONG)
    msgs = decode(v.hit(0.3, 0, LONG))
    assert msgs[0] == ("/n_set", [1000, "gate", 0.0])
    assert msgs[-1][0] == "/s_new"
    assert sorted(x.node for x in v.voices) == [1001, 1002, 1003]


def test_total_limit_steals_the_oldest_of_all():
    v = Voicer(max_voices=3, per_track=8)
    for i in range(3):
        v.hit(i * 0.1, i, LONG)
    msgs = decode(v.hit(0.5, 2, LONG))
    assert msgs[0] == ("/n_set", [1000, "gate", 0.0])
    assert len(v.voices) == 3


def test_choke_group_cuts_the_other_hat():
    v = Voicer()
    v.hit(0.0, 3, LONG, choke=1)  # open hat
    v.hit(0.1, 0, LONG)  # kick, no group
    msgs = decode(v.hit(0.2, 2, LONG, choke=1))  # closed hat chokes the open one
    assert releases(msgs) == [("/n_set", [1000, "gate", 0.0])]


def test_ended_and_expired_voices_are_not_released_again():
    v = Voicer(per_track=1)
    short = params.clean({"oscDcy": 10, "nEnvDcy": 10})
    v.hit(0.0, 0, short)
    assert releases(decode(v.hit(5.0, 0, LONG))) == []  # first one long gone
    v.ended(1001)
    assert releases(decode(v.hit(5.1, 0, LONG))) == []


_osc_args = st.lists(st.one_of(
    st.integers(-(2**31), 2**31 - 1), st.booleans(), st.floats(width=32, allow_nan=False),
    st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=9),
    st.binary(min_size=1, max_size=9)), max_size=8)  # python-osc refuses empty blobs


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="/abcdefgh_", min_size=1, max_size=12), _osc_args)
def test_messages_are_the_bytes_python_osc_builds(address, args):
    b = OscMessageBuilder(address)
    for a in args:
        kind = {bool: "i", int: "i", float: "f", str: "s", bytes: "b"}[type(a)]
        b.add_arg(int(a) if isinstance(a, bool) else a, kind)
    assert osc.message(address, *args) == b.build().dgram
