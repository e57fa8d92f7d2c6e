"""The mixer after the voices (engine/mixer.scd, sound.mixer): the limiter and master level in offline
renders, scsynth's meter replies checked as outside input, and live meters across a restart (on the
page: test_page)."""

from __future__ import annotations

import math
import os
import signal
import time

import numpy as np
import pytest
import soundfile as sf
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from gridtonic import analysis
from gridtonic.core import params
from gridtonic.core.session import Session, Track
from gridtonic.grid import udp
from gridtonic.io import osc
from gridtonic.sound import mixer, nrt, synthdefs
from gridtonic.sound.render import render
from gridtonic.sound.scsynth import Scsynth
from gridtonic.sound.voices import Voicer

CEILING = mixer.amp(mixer.CEILING_DB)


def kit(level: float, tracks: int = 8) -> Session:
    """``tracks`` tones on every beat together, each at ``level`` dB (+10: far over full scale)."""
    s = Session(tracks=[Track(name=f"t{i}") for i in range(tracks)], tempo=120.0)
    for i, t in enumerate(s.tracks):
        t.patch_a = t.patch_b = params.clean(analysis.CLICK | {"oscFreq": 100.0 + 50 * i, "oscDcy": 300.0,
                                                               "level": level})
        t.set_pattern("x---")
    return s


def peak_of(s: Session, path, **kw) -> tuple[np.ndarray, float]:
    render(s, path, bars=1, **kw)
    x = sf.read(str(path), dtype="float64")[0]
    return x, float(np.abs(x).max())


@pytest.mark.nrt
def test_a_loud_kit_stays_under_the_ceiling_and_a_quiet_one_is_untouched(tmp_path):
    loud, limited = peak_of(kit(10.0), tmp_path / "loud.wav")
    _, unlimited = peak_of(kit(10.0), tmp_path / "loud-off.wav", limit=False)
    print(f"\nloud kit: peak {20 * math.log10(unlimited):+.1f} dBFS unlimited, "
          f"{20 * math.log10(limited):+.2f} dBFS limited (ceiling {mixer.CEILING_DB:g})")
    assert unlimited > 1.5 and limited <= CEILING * (1 + 1e-6)
    assert limited > CEILING * 0.99  # limited, not silenced
    quiet, peak = peak_of(kit(0.0), tmp_path / "quiet.wav")
    plain, _ = peak_of(kit(0.0), tmp_path / "quiet-off.wav", limit=False)
    print(f"quiet kit: peak {20 * math.log10(peak):+.2f} dBFS, bit-identical: {np.array_equal(quiet, plain)}")
    assert 0.3 < peak < CEILING and np.array_equal(quiet, plain)  # under the ceiling: bit-identical


def thd(x: np.ndarray) -> float:
    """Total harmonic distortion (%) of a tone: harmonics 2-9 over the fundamental."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    f = np.fft.rfftfreq(len(x), 1 / 48000)
    f0 = f[np.argmax(spec)]
    band = lambda k: spec[(f > k * f0 * 0.95) & (f < k * f0 * 1.05)].max()  # noqa: E731
    return 100 * math.sqrt(sum(band(k) ** 2 for k in range(2, 10))) / band(1)


@pytest.mark.nrt
def test_a_low_tone_limited_by_3_db_is_not_distorted(tmp_path):
    """The limiter's gain holds between a 60 Hz tone's peaks (it would fall and rise within each
    cycle with the follower's release alone: 2.7 % THD where the tone itself has 0.9 %)."""
    patch = params.clean(analysis.CLICK | {"oscFreq": 55.0, "oscDcy": 2000.0, "level": 10.0})
    note = synthdefs.voice_message(patch, 1000, out=mixer.own_bus(0))
    tone = {}
    for limit in (False, True):
        path = nrt.render([(0.0, [note])], tmp_path / f"{limit}.wav", 0.2, level_db=12.0, limit=limit)
        tone[limit] = sf.read(str(path), dtype="float64")[0][1200:7200, 0]  # 25-150 ms
    print(f"\n60 Hz tone: THD {thd(tone[False]):.2f} % ({20 * math.log10(np.abs(tone[False]).max()):+.1f} "
          f"dBFS), limited {thd(tone[True]):.2f} %")
    assert np.abs(tone[False]).max() > 1.3 * CEILING and np.abs(tone[True]).max() <= CEILING * (1 + 1e-6)
    assert thd(tone[True]) < thd(tone[False]) + 0.5


@pytest.mark.nrt
def test_master_level_minus_6_db_halves_the_amplitude(tmp_path):
    s = kit(0.0, 2)
    full, _ = peak_of(s, tmp_path / "full.wav")
    s.master_db = 20 * math.log10(0.5)
    half, _ = peak_of(s, tmp_path / "half.wav")
    assert np.abs(full).max() > 0.05
    assert np.abs(half - full / 2).max() < 1e-6 * np.abs(full).max()


def test_each_tracks_voices_play_on_its_own_bus_and_the_mixer_sits_around_the_lowpass():
    v = Voicer()
    outs = []
    for track in (0, 3, 7):
        for at in (0.0, 0.01, 0.02):  # the first sets the track's EQ, with its own; the third shares it
            address, args = osc.parse(v.hit(at, track, params.defaults())[-1])
            outs.append(args[args.index("out") + 1])
    assert outs[2::3] == [mixer.track_bus(t) for t in (0, 3, 7)] == [520, 526, 534]
    assert outs[0::3] == [mixer.own_bus(t) for t in (0, 3, 7)] == [536, 542, 550]
    buses = [b + c for t in range(mixer.TRACKS) for b in (mixer.track_bus(t), mixer.own_bus(t))
             for c in (0, 1)]
    # apart, and clear of the outputs, the stems' unheard bus and the noise
    assert len(set(buses)) == 32 and not set(buses) & {0, 1, 512, 513, *range(1016, 1024)}
    setup = [osc.parse(m) for m in synthdefs.setup_messages(-6.0)]
    tracks = [args for address, args in setup if args[:1] == [mixer.TRACK_DEF]]
    assert [a[2:4] for a in tracks] == [[2, synthdefs.LPF_NODE]] * 8  # each added before the lowpass
    master = next(args for _, args in setup if args[:1] == [mixer.MASTER_DEF])
    assert master[2:4] == [3, synthdefs.LPF_NODE]  # after it
    assert master[master.index("level") + 1] == pytest.approx(10 ** (-6 / 20))


def test_meter_replies_are_read_per_track_and_go_stale():
    m = mixer.Meters()
    m.reply([990, 2, 0.5, 0.1, 0.25, 0.2], now=10.0)
    m.reply([989, mixer.MASTER_ID, 0.8, 0.3, 0.7, 0.3, 0.25, 0.1], now=10.0)
    t = m.tracks(10.1)
    assert t[2].peak == 0.5 and t[2].rms == pytest.approx(math.sqrt((0.01 + 0.04) / 2))
    assert t[0] == mixer.SILENT and m.master(10.1).reduction == 0.25
    assert m.tracks(10.0 + mixer.STALE + 0.01)[2] == mixer.SILENT  # scsynth stopped reporting


BAD = [[], [990], [990, 9, 0.1, 0.1, 0.1, 0.1], [990, -1, 0.1, 0.1, 0.1, 0.1], [990, 2, 0.1, 0.1, 0.1],
       [990, 2, math.nan, 0.1, 0.1, 0.1], [990, 2, math.inf, 0.1, 0.1, 0.1], [990, 2, -0.1, 0.1, 0.1, 0.1],
       [990, 2, 1e9, 0.1, 0.1, 0.1], [990, 2, "x", 0.1, 0.1, 0.1], [990, True, 0.1, 0.1, 0.1, 0.1],
       [990, mixer.MASTER_ID, 0.1, 0.1, 0.1, 0.1], [990, 2.0, 0.1, 0.1, 0.1, 0.1]]


@pytest.mark.parametrize("args", BAD, ids=range(len(BAD)))
def test_a_bad_meter_reply_is_refused_whole(args):
    m = mixer.Meters()
    with pytest.raises(osc.BadMessage):
        m.reply(args, now=0.0)
    assert not m.levels


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.one_of(st.integers(-(2**31), 2**31 - 1), st.floats(width=32), st.text(max_size=4),
                          st.binary(max_size=4), st.booleans(), st.none()), max_size=10))
def test_any_meter_reply_is_a_level_in_range_or_refused(args):
    m = mixer.Meters()
    try:
        m.reply(args, now=0.0)
    except osc.BadMessage:
        return
    for level in [*m.tracks(0.0), m.master(0.0)]:
        assert all(0.0 <= v <= mixer.MAX_LEVEL for v in (level.peak, level.rms, level.reduction))


async def _meters_of_a_hit(server, track: int) -> tuple[list[float], float]:
    """Play one hit on ``track``'s bus; each track's and the master's highest meter reading of it."""
    patch = params.clean(analysis.CLICK | {"oscFreq": 200.0, "oscDcy": 400.0})
    message = synthdefs.voice_message(patch, -1, out=mixer.own_bus(track))
    server.send(osc.bundle(osc.unix_timetag(time.time() + 0.05), [message]))
    tracks, master = [0.0] * mixer.TRACKS, 0.0
    for _ in range(25):
        await trio.sleep(0.02)
        now = trio.current_time()
        tracks = [max(a, b.peak) for a, b in zip(tracks, server.meters.tracks(now), strict=True)]
        master = max(master, server.meters.master(now).peak)
    return tracks, master


@pytest.mark.realtime
async def test_live_meters_per_track_and_the_master_level_survive_a_restart(jack_server, tmp_path):
    """A hit on track 3's bus: only its meter moves, the master's reads it at the session's -6 dB;
    after scsynth is killed and restarted the mixer is back, meters and level alike."""
    level = [-6.0]
    server = Scsynth(port=udp.free_port(), synthdef_dir=synthdefs.synthdef_dir(), jack_server=jack_server,
                     client_name=f"gt-mx-{os.getpid()}", files=tmp_path,
                     setup=lambda: synthdefs.setup_messages(level[0]))
    async with trio.open_nursery() as n:
        await n.start(server.run)
        ratios = []  # master / track: the level, times what the global lowpass does to the peak
        for attempt in range(2):
            tracks, master = await _meters_of_a_hit(server, 3)
            assert tracks[3] > 0.05 and all(p == 0 for i, p in enumerate(tracks) if i != 3)
            ratios.append(master / tracks[3])
            assert ratios[-1] == pytest.approx(10 ** (level[0] / 20), rel=0.15)
            if attempt == 0:
                old, level[0] = server.pid, -12.0  # the session's level when scsynth comes back
                os.kill(old, signal.SIGKILL)
                with trio.fail_after(30):  # hang guard
                    while not (server.up and server.pid not in (None, old)):
                        await trio.sleep(0.02)
        assert ratios[1] / ratios[0] == pytest.approx(10 ** (-6 / 20), rel=0.01)  # -12 dB after the restart
        n.cancel_scope.cancel()


EQ_PATCH = params.clean({"mix": 70.0, "oscFreq": 180.0, "oscDcy": 400.0, "nEnvDcy": 300.0, "nFilFrq": 3000.0,
                         "eQFreq": 2500.0, "eQGain": 30.0, "level": -6.0})


def eq_render(tmp_path, name: str, events) -> np.ndarray:
    path = nrt.render(events, tmp_path / f"{name}.wav", 1.2, limit=False)
    return sf.read(str(path), dtype="float64")[0]


def own_eq(message: bytes, patch, track: int = 0, pan: float = 0.0) -> bytes:
    """The same voice (node, arguments) with the EQ in the voice, on its track's own-EQ bus."""
    node = osc.parse(message)[1][1]
    return synthdefs.voice_message(patch, node, pan=pan, out=mixer.own_bus(track))


def shared_score(*hits, pan: float = 0.0) -> list[tuple[float, list[bytes]]]:
    """(time, patch, choke[, track]) hits (on track 0 unless given) at ``pan`` through one Voicer: with
    EQ_PATCH at 0.3, 0.4 and 0.5 s the first sets track 0's EQ and the third shares it (two alike ring)."""
    v = Voicer()
    return [(t, v.hit(t, track[0] if track else 0, patch, pan=pan, choke=choke))
            for t, patch, choke, *track in hits]


@pytest.mark.parametrize("stereo,pan", [(0, 0.6), (1, -0.4)], ids=["mono", "stereo"])
def test_a_shared_eq_sounds_as_the_voices_own(tmp_path, stereo, pan):
    """The third hit plays without its EQ through its track's: the same hit with the EQ in the voice
    (on its own bus) sounds the same to a few 1e-6 of its peak (float rounding) while it sounds; at
    its end the two free on silence blocks apart (the no-EQ def judges it before the EQ: its
    threshold lowered by the EQ's peak gain), both under -70 dBFS by then. A mono voice writes one
    channel, its track's mono EQ applies its level and pan; a stereo one pans itself."""
    patch = EQ_PATCH | {"nStereo": float(stereo)}
    score = shared_score((0.3, patch, None), (0.4, patch, None), (0.5, patch, None), pan=pan)
    assert osc.parse(score[2][1][-1])[1][0] == synthdefs.def_name(patch, eq=False)
    assert osc.parse(score[2][1][0])[1][0] == (mixer.FIRST_EQ_NODE if stereo else mixer.FIRST_MONO_EQ_NODE)
    own = [*score[:2], (0.5, [*score[2][1][:-1], own_eq(score[2][1][-1], patch, pan=pan)])]
    a, b = eq_render(tmp_path, "shared", score), eq_render(tmp_path, "own", own)
    peak = np.abs(b[24000:]).max()
    loud = 24000 + int(np.flatnonzero(np.abs(b[24000:]).max(axis=1) > 10 ** (-50 / 20))[-1])
    sounding = np.abs(a[:loud] - b[:loud]).max() / peak
    tail = np.abs(a - b).max()
    print(f"\nshared vs in-voice EQ: {sounding:.1e} of the peak down to -50 dBFS, "
          f"{20 * math.log10(tail):.1f} dBFS at most where they free")
    assert peak > 0.05 and sounding < 1e-5 and tail < 10 ** (-66 / 20)


def test_a_choked_shared_voice_fades_nearly_as_its_own_eq_would(tmp_path):
    """A choke's 5 ms fade multiplies the voice before its track's EQ instead of after the voice's
    own: not the same (a time-varying gain does not commute with a filter), by this much."""
    score = shared_score((0.3, EQ_PATCH, None), (0.4, EQ_PATCH, None), (0.5, EQ_PATCH, 1),
                         (0.6, EQ_PATCH, 1, 1))  # track 1 chokes the shared voice
    assert osc.parse(score[2][1][-1])[1][0] == synthdefs.def_name(EQ_PATCH, eq=False)
    own = [*score[:2], (0.5, [*score[2][1][:-1], own_eq(score[2][1][-1], EQ_PATCH)]), score[3]]
    a, b = eq_render(tmp_path, "shared", score), eq_render(tmp_path, "own", own)
    choke = int(0.6 * 48000)
    before = np.abs(a[:choke] - b[:choke]).max() / np.abs(b[24000:choke]).max()
    level = np.abs(b[choke - 480:choke]).max()  # the voice in the 10 ms before its fade
    fade = np.abs(a[choke:] - b[choke:]).max()
    print(f"\nchoked: {before:.1e} of the peak before the fade, in it {fade:.1e} = "
          f"{20 * math.log10(fade / level):+.1f} dB re the voice's level then")
    assert level > 0.01 and before < 1e-5 and 0 < fade < 0.1 * level


def test_an_eq_change_while_a_voice_rings_leaves_that_voice_alone(tmp_path):
    """A later hit with another EQ (a lock, a morph moved) while a shared voice rings plays its own EQ:
    the mix is the ringing voice as it is without the later hit plus the later hit alone (to float
    rounding); setting the track's EQ then instead would change the ringing voice."""
    later = EQ_PATCH | {"eQGain": -20.0, "oscFreq": 400.0}
    hits = (0.3, EQ_PATCH, None), (0.4, EQ_PATCH, None), (0.5, EQ_PATCH, None)
    alone, both = shared_score(*hits), shared_score(*hits, (0.6, later, None))
    assert osc.parse(both[2][1][-1])[1][0] == synthdefs.def_name(EQ_PATCH, eq=False)
    (address, args), = [osc.parse(m) for m in both[3][1]]  # no EQ for the track: only the voice
    assert args[0] == synthdefs.def_name(later) and args[args.index("out") + 1] == mixer.own_bus(0)
    a, b = eq_render(tmp_path, "alone", alone), eq_render(tmp_path, "both", both)
    c = eq_render(tmp_path, "later", [(0.6, both[3][1])])  # the same node: the same noise
    peak = np.abs(a[24000:]).max()
    assert peak > 0.05 and np.abs(c).max() > 0.05 and np.abs(b - (a + c)).max() < 1e-6 * peak
    change = mixer.eq_messages(0, 1.0, synthdefs.mixing(later))
    changed = eq_render(tmp_path, "changed", [*alone, (0.6, change)])
    assert np.abs(changed[28800:] - a[28800:]).max() > 0.01 * peak  # what the test guards against
