"""Ableton Link: how closely gridtonic's beat follows a plain aalink peer's, and how fast a change
goes from one to the other.

Both peers run inside a private network namespace (``gridtonic.link.rig``: only ``lo``, multicast
on, so nothing leaves the machine); gridtonic's beat line is compared with the peer's at the same
host times, taking the time each beat *sounds* (the line leads Link by the output latency). The
times to a change are polled each 5 ms on the measuring side (and gridtonic reads Link once a
10 ms tick), so they are upper bounds to that resolution. Link itself sends a tempo change at most
once every 50 ms, which is most of what a tempo change takes.

    python bench/link_phase.py [SECONDS] [CHANGES]    (default 30 s of phase, 10 tempo changes)
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from gridtonic.link import rig


def spread(seconds: list[float | None]) -> str:
    got = [s * 1e3 for s in seconds if s is not None]
    lost = len(seconds) - len(got)
    if not got:
        return f"none of {len(seconds)} arrived"
    a = np.array(got)
    return (f"p50 {np.median(a):6.1f}  p99 {np.percentile(a, 99):6.1f}  max {a.max():6.1f} ms"
            f"  ({len(got)} of {len(seconds)}{f', {lost} lost' if lost else ''})")


def main(seconds: float = 30.0, changes: int = 10) -> int:
    argv = rig.namespaced([sys.executable, "-m", "gridtonic.link.rig", str(seconds), str(changes)])
    if isinstance(argv, str):
        print(f"skipped: {argv}")
        return 0
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120 + 2 * seconds)
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)
        return 1
    out = json.loads(done.stdout)
    print(f"two Link peers in a network namespace; joined in {out['joined_s']:.2f} s")
    print("beat phase, gridtonic minus the peer at the same host time (|ms|):")
    for name, what in (("phase_ms", f"stopped, {seconds:g} s"), ("phase_playing_ms", "playing"),
                       ("phase_after_over_range_ms", "after a 999 BPM excursion")):
        f = out[name]
        print(f"  {what:<26} p50 {f['p50']:.4f}  p99 {f['p99']:.4f}  max {f['max']:.4f} ms  (n {f['n']})")
    for name, what in (("bar_lines_after_peer_start_ms", "the peer's start"),
                       ("bar_lines_after_own_start_ms", "gridtonic's start")):
        bars = np.abs(out[name])
        print(f"  bar lines after {what:<18} max {bars.max():.4f} ms over {len(bars)} bars")
    print("time for a change to reach the other peer:")
    print(f"  tempo, gridtonic → peer   {spread(out['tempo_to_peer_s'])}")
    print(f"  tempo, peer → gridtonic   {spread(out['tempo_from_peer_s'])}")
    for name in ("start_from_peer_s", "stop_from_peer_s", "start_to_peer_s", "stop_to_peer_s"):
        print(f"  {name.removesuffix('_s').replace('_', ' '):<25} {spread([out[name]])}")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(float(args[0]) if args else 30.0, int(args[1]) if args[1:] else 10))
