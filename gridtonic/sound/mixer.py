"""The mixer after the voices (engine/mixer.scd): two stereo buses per track, EQ'd and metered, then
master level and a zero-latency limiter, live and offline alike.

Each track's voices write to that track's buses: voices whose EQ is the track's current one without
it to the shared-EQ bus (``track_bus``, sound.voices), which one ``gridtonic_eq`` synth per track EQs
into the own-EQ bus (``own_bus``), where the voices that brought their own EQ play; mono voices
write one channel there, and ``gridtonic_eqm`` EQs it and applies their level and pan. One persistent
``gridtonic_track`` synth per track reads that, reports its peak and RMS (SendPeakRMS, ``RATE`` a
second) and adds it into bus 0, where the global lowpass filters the sum and ``gridtonic_master``
applies the level and the limiter last. Nothing here runs per voice, and a track's EQ runs only while
voices sound through it. scsynth's ``/meter`` replies are outside input: ``Meters.reply`` takes only
finite levels of a known track.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gridtonic.core.session import MAX_TRACKS
from gridtonic.io import osc

TRACK_DEF = "gridtonic_track"
EQ_DEF = "gridtonic_eq"
MONO_EQ_DEF = "gridtonic_eqm"  # mono voices' (one channel in): their EQ, then their level and pan
MASTER_DEF = "gridtonic_master"
TRACKS = MAX_TRACKS  # one metered bus pair each
TRACK_BUS = 520  # track t's shared-EQ bus is 520 + 2t (and 521 + 2t), its own-EQ bus 536 + 2t: all
# clear of the stems' unheard bus (512) and the shared noise (1016-1023), under scsynth's 1024
FIRST_TRACK_NODE = 990  # 990..997, before the lowpass (998); the master after it
FIRST_EQ_NODE = 980  # 980..987, each before its track's synth
FIRST_MONO_EQ_NODE = 970  # 970..977, each before its track's stereo EQ
MASTER_NODE = 989
MASTER_ID = TRACKS  # the master's reply id (tracks are 0..7)
METER = "/meter"
RATE = 15.0  # meter replies a second, per synth
CEILING_DB = -1.0  # the limiter's ceiling
OFF = 1e6  # a ceiling that never limits (+120 dB)
STALE = 0.5  # s without a reply before a meter reads silent (scsynth down or hung)
MAX_LEVEL = 1e3  # a meter reading above this (+60 dBFS) is no level of ours


def track_bus(track: int) -> int:
    """The first channel of track ``track``'s shared-EQ bus (its voices without the EQ); bus 0
    (straight to the master) past the mixer's tracks."""
    return TRACK_BUS + 2 * track if 0 <= track < TRACKS else 0


def own_bus(track: int) -> int:
    """The first channel of track ``track``'s own-EQ bus (voices with the EQ in the voice, added
    unfiltered); bus 0 past the mixer's tracks."""
    return TRACK_BUS + 2 * (TRACKS + track) if 0 <= track < TRACKS else 0


def eq_messages(track: int, life: float, mixing: tuple[float, ...]) -> list[bytes]:
    """Run track ``track``'s shared EQ for ``life`` s from now (then it pauses itself), at ``mixing``
    (synthdefs.mixing: the voices' eQFreq Hz and eQGain dB, and for mono voices their level dB and
    pan, played by the mono EQ; sound.voices changes it only while no voice sounds through it)."""
    freq, gain, *mono = mixing
    node = (FIRST_MONO_EQ_NODE if mono else FIRST_EQ_NODE) + track
    gains = ["level", float(mono[0]), "pan", float(mono[1])] if mono else []
    return [osc.message("/n_set", node, "eQFreq", float(freq), "eQGain", float(gain), *gains, "hit", 1,
                        "life", float(life)), osc.message("/n_run", node, 1)]


def amp(db: float) -> float:
    return 10.0 ** (db / 20.0)


def setup_messages(level_db: float, limit: bool, after: int) -> list[bytes]:
    """The track synths (each added before node ``after``, the global lowpass, in track order), each
    track's EQs (stereo and mono) before its synth (paused until a hit runs them) and the master after
    the lowpass, created with its level and ceiling (a /n_set would glide there from 0 dB)."""
    tracks = [osc.message("/s_new", TRACK_DEF, FIRST_TRACK_NODE + t, 2, after, "in", own_bus(t), "track", t,
                          "rate", RATE) for t in range(TRACKS)]
    kinds = (EQ_DEF, FIRST_EQ_NODE), (MONO_EQ_DEF, FIRST_MONO_EQ_NODE)
    eqs = [osc.message("/s_new", name, first + t, 2, FIRST_TRACK_NODE + t, "in", track_bus(t),
                       "out", own_bus(t)) for t in range(TRACKS) for name, first in kinds]
    master = osc.message("/s_new", MASTER_DEF, MASTER_NODE, 3, after, *master_args(level_db, limit))
    return [*tracks, *eqs, master]


def master_args(level_db: float, limit: bool = True) -> list:
    ceiling = amp(CEILING_DB) if limit else OFF
    return ["level", amp(level_db), "ceiling", ceiling, "id", MASTER_ID, "rate", RATE]


def level_message(level_db: float) -> bytes:
    """Set the master level (glides over 50 ms: no zipper noise from a slider)."""
    return osc.message("/n_set", MASTER_NODE, "level", amp(level_db))


@dataclass(frozen=True)
class Level:
    peak: float = 0.0  # the highest |sample| in the reply's window, either channel
    rms: float = 0.0  # of both channels over the window
    reduction: float = 0.0  # the master's deepest gain reduction in the window (1 - gain); 0 for a track


SILENT = Level()


class Meters:
    """The latest level of each track and of the master, from scsynth's ``/meter`` replies. Output
    only: nothing in the session; a level older than ``STALE`` reads as silence."""

    def __init__(self) -> None:
        self.levels: dict[int, tuple[float, Level]] = {}  # reply id -> (trio time, level)
        self.replies = 0

    def reply(self, args: list, now: float) -> None:
        """One ``/meter`` message's arguments (node, id, then peak/RMS pairs); osc.BadMessage unless
        every value is a finite level of a known track (or the master)."""
        rid = osc.check(args, int, int)[1]
        if not 0 <= rid <= MASTER_ID:
            raise osc.BadMessage(f"{METER} from an unknown track {rid}")
        channels = 3 if rid == MASTER_ID else 2
        values = osc.check(args, int, int, *[float] * (2 * channels))[2:]  # finite numbers
        if not all(0.0 <= v <= MAX_LEVEL for v in values):
            raise osc.BadMessage(f"{METER} levels out of range: {values!r:.120}")
        peaks, rmss = values[0::2], values[1::2]
        level = Level(max(peaks[:2]), math.sqrt((rmss[0] ** 2 + rmss[1] ** 2) / 2),
                      min(peaks[2], 1.0) if channels == 3 else 0.0)
        self.levels[rid] = (now, level)
        self.replies += 1

    def level(self, rid: int, now: float) -> Level:
        at, level = self.levels.get(rid, (-math.inf, SILENT))
        return level if now - at <= STALE else SILENT

    def tracks(self, now: float) -> list[Level]:
        return [self.level(t, now) for t in range(TRACKS)]

    def master(self, now: float) -> Level:
        return self.level(MASTER_ID, now)

    def clear(self) -> None:
        """scsynth went down: no level until it reports again."""
        self.levels.clear()
