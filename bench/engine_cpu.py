"""CPU cost of the engine per voice-second, on the dense benchmark of supertonic-reference.md §2.6.

60 s, 5 tracks (default.mtpreset's first five drums in file order) hitting every 16th at 180 BPM,
rendered by ``scsynth -N``: once with 7 voices (round-robin, the oldest stolen, like the original)
and once unlimited. CPU = user+sys of the scsynth child (getrusage deltas) minus an empty render of
the same length; voice-seconds = the sum over hits of the time each voice sounds (its envelope
length from synthdefs.duration, cut where it is stolen). Median of a few runs.

    python bench/engine_cpu.py [--runs 3] [--defs build/synthdefs]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gridtonic.io import osc
from gridtonic.sound import nrt, synthdefs
from gridtonic.sound.voices import Voicer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PARAMS = SHARED / "reference-renders" / "default" / "params.json"
ORIGINAL_MS_PER_VOICE_S = 5.0  # supertonic-reference.md §2.6
SECONDS = 60.0
BPM = 180
TRACKS = 5

Events = list[tuple[float, list[bytes]]]


def patches() -> list[dict[str, float]]:
    """Drum blocks 1-5 of default.mtpreset in file order."""
    entries = {e["index"]: e["params"] for e in json.loads(PARAMS.read_text())}
    return [entries[i] for i in range(1, TRACKS + 1)]


def score(kit: Sequence[dict[str, float]], max_voices: int | None) -> tuple[Events, float]:
    """The dense score and its voice-seconds; ``max_voices`` None = every hit runs to its end."""
    step = 60 / BPM / 4
    voicer = Voicer(max_voices=max_voices, per_track=max_voices) if max_voices else None
    events: Events = []
    sounding: dict[int, tuple[float, float]] = {}  # node -> (start, natural end)
    voice_s = 0.0
    node = nrt.HIT_NODE
    for i in range(round(SECONDS / step)):
        t = i * step
        for track, patch in enumerate(kit):
            if voicer:
                msgs = voicer.hit(t, track, patch)
            else:
                node += 1
                msgs = [synthdefs.voice_message(patch, node)]
            for m in msgs:
                address, args = osc.parse(m)
                if address == "/n_set":  # stolen: it sounds until now
                    start, end = sounding.pop(args[0])
                    voice_s += min(end, t) - start
                elif address == "/s_new":
                    sounding[args[1]] = (t, t + synthdefs.duration(patch))
            events.append((t, msgs))
    voice_s += sum(min(end, SECONDS) - start for start, end in sounding.values())
    return events, voice_s


def cpu_seconds(events: Events, defs: Path | None) -> float:
    """user+sys CPU of one scsynth -N render of ``events``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        nrt.render(events, Path(tmp) / "out.wav", SECONDS, defs_dir=defs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--defs", type=Path, default=None, help="compiled SynthDefs (default: synthdef_dir())")
    a = ap.parse_args(argv)
    kit = patches()
    empty = statistics.median(cpu_seconds([], a.defs) for _ in range(a.runs))
    print(f"empty render: {empty:.3f} s CPU (median of {a.runs})")
    print("case          hits  voice-s   CPU s   net s ms/voice-s  vs 5 ms")
    for label, cap in (("cap 7", 7), ("unlimited", None)):
        events, voice_s = score(kit, cap)
        cpu = statistics.median(cpu_seconds(events, a.defs) for _ in range(a.runs))
        ms = (cpu - empty) / voice_s * 1000
        print(f"{label:12s} {len(events):5d} "
              f"{voice_s:8.1f} {cpu:7.2f} {cpu - empty:7.2f} {ms:10.2f} {ms / ORIGINAL_MS_PER_VOICE_S:7.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
