"""Voice allocation: limits per track and in total, choke groups, all as scsynth messages."""

from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.osc_message_builder import OscMessageBuilder

from gridtonic.core import params
from gridtonic.io import osc
from gridtonic.sound.synthdefs import VOICE_GROUP
from gridtonic.sound.voices import Voicer

LONG = params.clean({"oscDcy": 2000, "nEnvDcy": 2000})


def decode(msgs):
    return [osc.parse(m) for m in msgs]


def test_a_hit_is_one_s_new_at_the_head_of_the_voice_group():
    v = Voicer()
    ((addr, args),) = decode(v.hit(0.0, 0, LONG, 0.5, -0.25))
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
    assert msgs[1][0] == "/s_new"
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
    assert [m for m in msgs if m[0] == "/n_set"] == [("/n_set", [1000, "gate", 0.0])]


def test_ended_and_expired_voices_are_not_released_again():
    v = Voicer(per_track=1)
    short = params.clean({"oscDcy": 10, "nEnvDcy": 10})
    v.hit(0.0, 0, short)
    assert [m[0] for m in decode(v.hit(5.0, 0, LONG))] == ["/s_new"]  # first one long gone
    v.ended(1001)
    assert [m[0] for m in decode(v.hit(5.1, 0, LONG))] == ["/s_new"]


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
