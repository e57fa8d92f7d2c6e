"""CPU cost of the engine on the scores of supertonic-reference.md §2.6, against the original.

Voices: default.mtpreset's first five drums in file order. Scores, 60 s each, rendered by
``scsynth -N``:
  dense      every track on every 16th at 180 BPM (3600 hits), unlimited voices and 7 voices
             (gridtonic: its Voicer, the oldest faded out; the original: 7 round-robin slots, hard steal)
  realistic  120 BPM, 30 bars: kick 1/5/9/13, snare 5/13, hat on 8ths, open hat 16, clap 13
CPU = user+sys of the scsynth child (getrusage deltas), net of an empty render with the same defs;
median of --runs, gridtonic and the original alternating so load drifts hit both alike.
voice-s = the sum over hits of the time each voice sounds (its envelope length, synthdefs.duration,
cut where it is stolen); peak = the most voices sounding at once.

With ``--original supertonic.scsyndef`` the original SynthDef is measured in the same run and the
ratio is against it; otherwise against the recorded baseline (5 ms CPU per voice-second).
To compile the original from the norns script (schollz/supertonic, kept outside this checkout):
take the ``SynthDef("supertonic", …)`` block of lib/supertonic.scd, replace ``.add`` by
``.writeDefFile("/tmp/orig")``, install sc3-plugins-language (its SawDPW and SineShaper classes), and
run ``QT_QPA_PLATFORM=offscreen QTWEBENGINE_DISABLE_SANDBOX=1 timeout 60 sclang file.scd </dev/null``
(or hand the block, wrapped in ``[ … ]``, to engine/build.scd: ``sclang engine/build.scd file.scd
/tmp/orig``).

    python bench/engine_cpu.py [--runs 5] [--defs build/synthdefs] [--original /tmp/orig/supertonic.scsyndef]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gridtonic.io import osc
from gridtonic.sound import mixer, nrt, synthdefs
from gridtonic.sound.voices import Voicer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PARAMS = SHARED / "reference-renders" / "default" / "params.json"
ORIGINAL_MS_PER_VOICE_S = 5.0  # supertonic-reference.md §2.6
SECONDS = 60.0
TRACKS = 5
ORIGINAL_SLOTS = 7

Events = list[tuple[float, list[bytes]]]
Patch = Mapping[str, float]


@dataclass
class Score:
    events: Events
    voice_s: float
    peak: int


def patches() -> list[dict[str, float]]:
    """Drum blocks 1-5 of default.mtpreset in file order (the original's exact arguments)."""
    entries = {e["index"]: e["params"] for e in json.loads(PARAMS.read_text())}
    return [entries[i] for i in range(1, TRACKS + 1)]


def dense() -> list[tuple[float, int]]:
    """(time, track): every track on every 16th at 180 BPM."""
    step = 60 / 180 / 4
    return [(i * step, t) for i in range(round(SECONDS / step)) for t in range(TRACKS)]


def realistic() -> list[tuple[float, int]]:
    """(time, track): 120 BPM, 30 bars of kick 1/5/9/13, snare 5/13, hat 8ths, open hat 16, clap 13."""
    lanes = {0: (0, 4, 8, 12), 1: (4, 12), 2: tuple(range(0, 16, 2)), 3: (15,), 4: (12,)}
    step = 60 / 120 / 4
    return [((bar * 16 + s) * step, t) for bar in range(30) for s in range(16) for t, ss in lanes.items()
            if s in ss]


def _voices(starts: Sequence[tuple[float, float, int]]) -> tuple[float, int]:
    """voice-seconds and peak from (start, end, node) intervals, clipped to the score."""
    edges = sorted([(s, 1) for s, _, _ in starts] + [(min(e, SECONDS), -1) for _, e, _ in starts])
    peak = now = 0
    for _, d in edges:
        now += d
        peak = max(peak, now)
    return sum(min(e, SECONDS) - s for s, e, _ in starts), peak


def ours(kit: Sequence[Patch], hits: Sequence[tuple[float, int]], cap: int | None) -> Score:
    """gridtonic's messages, through the live engine's Voicer and track buses; ``cap`` None = every hit
    runs to its end."""
    voicer = Voicer(max_voices=cap or len(hits), per_track=cap or len(hits))
    events: Events = []
    spans: dict[int, list[float]] = {}
    for t, track in hits:
        msgs = voicer.hit(t, track, kit[track])
        for m in msgs:
            address, args = osc.parse(m)
            if address == "/n_set" and args[1] == "gate":  # released: it sounds until now
                spans[args[0]][1] = min(spans[args[0]][1], t)
            elif address == "/s_new":
                spans[args[1]] = [t, t + synthdefs.duration(kit[track])]
        events.append((t, msgs))
    return Score(events, *_voices([(s, e, n) for n, (s, e) in spans.items()]))


def original(kit: Sequence[Patch], hits: Sequence[tuple[float, int]], cap: int | None) -> Score:
    """The original engine's messages: "supertonic" with all its arguments; with ``cap``, its
    round-robin slots, a slot's running voice freed at once (Engine_Supertonic.sc)."""
    events: Events = []
    spans: list[list[float]] = []
    slots: list[int | None] = [None] * (cap or 0)
    for i, (t, track) in enumerate(hits):
        node = nrt.HIT_NODE + 1 + i
        msgs = []
        if cap:
            old = slots[i % cap]
            if old is not None and spans[old][1] > t:
                msgs.append(osc.message("/n_free", nrt.HIT_NODE + 1 + old))
                spans[old][1] = t
            slots[i % cap] = i
        args = [x for k, v in kit[track].items() for x in (k, float(v))]
        msgs.append(osc.message("/s_new", "supertonic", node, 0, synthdefs.VOICE_GROUP, *args))
        spans.append([t, t + synthdefs.duration(kit[track])])
        events.append((t, msgs))
    return Score(events, *_voices([(s, e, 0) for s, e in spans]))


def cpu_seconds(events: Events, defs: Path | None) -> float:
    """user+sys CPU of one scsynth -N render of ``events``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        nrt.render(events, Path(tmp) / "out.wav", SECONDS, defs_dir=defs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def original_defs(scsyndef: Path, ours_dir: Path, into: Path) -> Path:
    """A defs folder with the original def plus the seed, global-lowpass and mixer defs the render
    preamble starts (the empty render subtracts their cost from both engines)."""
    shutil.copy(scsyndef, into / "supertonic.scsyndef")
    for name in (synthdefs.SEED_DEF, synthdefs.LPF_DEF, mixer.TRACK_DEF, mixer.EQ_DEF, mixer.MONO_EQ_DEF,
                 mixer.MASTER_DEF):
        shutil.copy(ours_dir / f"{name}.scsyndef", into)
    return into


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--defs", type=Path, default=None, help="compiled SynthDefs (default: synthdef_dir())")
    ap.add_argument("--original", type=Path, default=None, help="the original's compiled supertonic.scsyndef")
    a = ap.parse_args(argv)
    kit = patches()
    mine = a.defs or synthdefs.synthdef_dir()
    with tempfile.TemporaryDirectory() as tmp:
        engines: dict[str, tuple[Callable, Path]] = {"gridtonic": (ours, mine)}
        if a.original:
            engines["original"] = (original, original_defs(a.original, mine, Path(tmp)))
        empty = {name: statistics.median(cpu_seconds([], d) for _ in range(a.runs))
                 for name, (_, d) in engines.items()}
        print("empty render CPU: " + ", ".join(f"{n} {s:.3f} s" for n, s in empty.items())
              + f" (median of {a.runs})")
        print("CPU user+sys of scsynth -N, net of the empty render, median of "
              f"{a.runs} alternating runs; 60 s of audio")
        print(f"{'case':20s} {'engine':10s} {'hits':>5s} {'voice-s':>8s} {'peak':>5s} {'net CPU s':>9s} "
              f"{'ms/voice-s':>10s} {'cheaper':>8s}")
        for label, hits, cap in (("dense, unlimited", dense(), None), ("dense, 7 voices", dense(), 7),
                                 ("realistic", realistic(), None)):
            scores = {n: make(kit, hits, cap) for n, (make, _) in engines.items()}
            runs: dict[str, list[float]] = {n: [] for n in engines}
            for _ in range(a.runs):
                for n, (_, d) in engines.items():
                    runs[n].append(cpu_seconds(scores[n].events, d) - empty[n])
            net = {n: statistics.median(r) for n, r in runs.items()}
            for n, s in scores.items():
                ms = net[n] / s.voice_s * 1000
                ratio = (net["original"] / net[n] if "original" in net
                         else ORIGINAL_MS_PER_VOICE_S / ms)
                print(f"{label:20s} {n:10s} {len(hits):5d} {s.voice_s:8.1f} {s.peak:5d} {net[n]:9.2f} "
                      f"{ms:10.2f} {ratio:7.2f}x")
        basis = "the original, measured in this run" if a.original else \
            f"the recorded baseline ({ORIGINAL_MS_PER_VOICE_S:g} ms per voice-second)"
        print(f"'cheaper' = against {basis}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
