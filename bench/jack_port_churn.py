"""JACK port churn: open and close connected MIDI ports in one process, as gridtonic and its test
doubles do when devices come and go, with and without ``midiports.change``'s spacing.

Each round opens three emulated devices (a virtual out and in each) and gridtonic-side ports
connected to them, then closes all twelve back to back. libjack's notification thread walks a
client's port list without a lock when JACK reports a graph change (jack2 issue #216): a port
closed during that walk crashes the process (SIGSEGV). Every round runs in a child process so a
crash is counted rather than ending the bench. Starts its own JACK server (dummy backend) when none
runs.

    python bench/jack_port_churn.py [--rounds 600] [--spaced-rounds 30]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import trio

from gridtonic.io import jack, midiports

SERVER = "gt-bench-churn"
DEVICES = 3


def churn(rounds: int) -> None:
    """The child: ``rounds`` rounds, printing each one done."""
    for r in range(rounds):
        ports = []
        for i in range(DEVICES):
            ports.append(midiports.open_output(midiports.VIRTUAL, "jack", f"gt-dev{i}o", "Out"))
            ports.append(midiports.open_input(midiports.VIRTUAL, "jack", f"gt-dev{i}i", "In"))
        for i in range(DEVICES):
            ins, outs = midiports.names("input", "jack"), midiports.names("output", "jack")
            ports.append(midiports.open_input(midiports.find(f"gt-dev{i}o:Out", ins), "jack"))
            ports.append(midiports.open_output(midiports.find(f"gt-dev{i}i:In", outs), "jack"))
        for port in reversed(ports):
            midiports.close(port)
        print(r + 1, flush=True)


def run(rounds: int, settle: float) -> str:
    env = {**os.environ, "GT_CHURN_SETTLE": str(settle)}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, __file__, "--child", str(rounds)], env=env,
                          capture_output=True, text=True, check=False)
    done = int((proc.stdout.split() or ["0"])[-1])
    changes = done * DEVICES * 4 * 4  # 4 ports a device, 4 changes a port (client and port, open and close)
    if proc.returncode == -signal.SIGSEGV:
        verdict = f"crashed (SIGSEGV) in round {done + 1}"
    elif proc.returncode:
        verdict = f"failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}"
    else:
        verdict = "no crash"
    return (f"  settle {settle * 1e3:5.1f} ms: {verdict:<32} {done:4d} rounds, {changes:6d} changes, "
            f"{time.monotonic() - start:6.1f} s")


async def main(rounds: int, spaced_rounds: int) -> None:
    os.environ.setdefault("JACK_DEFAULT_SERVER", SERVER)
    async with jack.ensure_jack(os.environ["JACK_DEFAULT_SERVER"]):
        print(f"JACK port churn, {DEVICES} devices and their gridtonic-side ports a round")
        print(await trio.to_thread.run_sync(run, rounds, 0.0))
        print(await trio.to_thread.run_sync(run, spaced_rounds, midiports.SETTLE))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=600, help="rounds without spacing")
    parser.add_argument("--spaced-rounds", type=int, default=30, help="rounds with midiports.SETTLE")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        midiports.SETTLE = float(os.environ["GT_CHURN_SETTLE"])
        churn(args.child)
    else:
        trio.run(main, args.rounds, args.spaced_rounds)
