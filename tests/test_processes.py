"""gridtonic's child processes: they die with it (even after ``kill -9``), a jackd it started comes
back when it dies, and a scsynth that is not its own is named, not fought. Real jackd, scsynth,
``gridtonic run`` and kill.

Servers are named per test after the session's (jack2 clients crash on names over 23 characters).
jackd2 keeps at most 8 servers in /dev/shm/jack-shm-registry and frees a slot only on a clean exit
or to a new server of the same name, so every test checks it left its servers' slots free.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from gridtonic import analysis
from gridtonic.app import Instrument
from gridtonic.core.session import default_session
from gridtonic.grid import udp
from gridtonic.io import child, jack
from gridtonic.sound import scsynth

pytestmark = pytest.mark.realtime


def stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (state, ppid, …), or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return None


def argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().split("\0")[:-1]
    except FileNotFoundError:
        return []


def children(pid: int) -> dict[int, tuple[str, str]]:
    """The live children of ``pid``: {pid: (program, start time)}; the start time tells a reused PID."""
    found = {}
    for entry in map(int, filter(str.isdigit, os.listdir("/proc"))):
        fields = stat(entry)
        if fields and int(fields[1]) == pid and fields[0] != "Z" and argv(entry):
            found[entry] = (os.path.basename(argv(entry)[0]), fields[19])
    return found


def _jackds(server: str) -> list[int]:
    """This process's jackds named ``server`` (the session's is a child too)."""
    return [pid for pid, (program, _) in children(os.getpid()).items()
            if program == "jackd" and argv(pid)[1:3] == ["-n", server]]


def gone(pid: int, started: str) -> bool:
    """Reaped, zombie no more: jackd2 takes a zombie's registry slot for a live server's."""
    fields = stat(pid)
    return fields is None or fields[19] != started


def registered(server: str) -> bool:
    """Whether jackd2's shared registry holds a slot for ``server`` (jack2 shm.h: a 24-byte header,
    then 8 × {pid, name[257]} padded to 264 bytes, names "jack-<uid>:<server>:")."""
    data = Path("/dev/shm/jack-shm-registry").read_bytes()
    slots = [data[24 + 264 * i: 24 + 264 * (i + 1)] for i in range(8)]
    name = f"jack-{os.getuid()}:{server}:".encode()
    return any(struct.unpack_from("<i", s)[0] and s[4:].split(b"\0")[0] == name for s in slots)


@pytest.fixture
def run_env(tmp_path, jack_server):
    return {**os.environ, "GRIDTONIC_DATA": str(tmp_path / "data"), "JACK_DEFAULT_SERVER": jack_server}


async def test_a_child_outlives_trios_worker_threads(monkeypatch) -> None:
    """PR_SET_PDEATHSIG fires when the forking *thread* exits: forked from one of trio's worker
    threads (as trio's open_process does), the child died when that thread idled out (10 s)."""
    monkeypatch.setattr(trio._core._thread_cache, "IDLE_TIMEOUT", 0.2)
    proc = child.spawn(["sleep", "30"])
    await trio.to_thread.run_sync(lambda: None)
    await trio.sleep(1.0)  # worker threads idle out meanwhile
    try:
        assert proc.poll() is None
    finally:
        proc.kill()
        assert await proc.wait() == -signal.SIGKILL


async def test_a_killed_jackd_of_ours_is_started_again_and_the_clock_keeps_time(jack_server: str) -> None:
    name = f"{jack_server}-kill"
    inst = Instrument(default_session(), port=udp.free_port(), jack_server=name)
    async with trio.open_nursery() as n:
        await n.start(inst.run)
        (jackd,) = _jackds(name)
        origin, playing = inst.clock.time_at(0.0), inst.sequencer.playing
        killed = trio.current_time()
        os.kill(jackd, signal.SIGKILL)
        with trio.fail_after(10):  # a hang guard; the bound is below
            back = await analysis.sound_back(inst.port) - killed
        print(f"sound back {back:.2f} s after kill -9 of gridtonic's jackd")
        assert back <= 3.0  # the bound; measured 0.5-0.9 s (bench/jack_restart.py)
        assert jack.running(name)
        assert (inst.clock.time_at(0.0), inst.sequencer.playing) == (origin, playing)  # not restarted
        n.cancel_scope.cancel()
    assert not jack.running(name) and not registered(name)


async def test_a_jackd_of_ours_that_cannot_start_again_is_tried_until_it_does(
    jack_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The sound card went away with jackd: the instrument keeps running and its jackd is started
    again once it can be (it used to end the run)."""
    name, gone = f"{jack_server}-back", tmp_path / "card-gone"
    shim = tmp_path / "jackd"
    shim.write_text(f'#!/bin/sh\n[ -e "{gone}" ] && {{ echo "no card" >&2; exit 1; }}\n'
                    f'exec {shutil.which("jackd")} "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    inst = Instrument(default_session(), port=udp.free_port(), jack_server=name)
    async with trio.open_nursery() as n:
        await n.start(inst.run)
        (jackd,) = _jackds(name)
        gone.touch()
        os.kill(jackd, signal.SIGKILL)
        with trio.fail_after(20):  # hang guards
            while sum("trying again" in r.getMessage() for r in caplog.records) < 2:
                await trio.sleep(0.1)
            assert not jack.running(name)
            gone.unlink()
            await analysis.sound_back(inst.port)
        assert jack.running(name) and inst.sequencer.playing
        n.cancel_scope.cancel()
    assert not jack.running(name) and not registered(name)


@pytest.mark.parametrize("own_jackd", [False, True], ids=["external jackd", "own jackd"])
def test_kill_9_of_gridtonic_leaves_no_child_and_the_next_run_starts(run_env, jack_server, own_jackd):
    """After kill -9, scsynth (an orphan) kept the UDP port and the next run failed: "UDP port … in use"."""
    env = {**run_env, "JACK_DEFAULT_SERVER": f"{jack_server}-k9"} if own_jackd else run_env
    port = str(udp.free_port())
    proc = subprocess.Popen([sys.executable, "-m", "gridtonic", "run", "--port", port], env=env,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # wait until it plays
        if "playing" in line:
            break
    kids = children(proc.pid)
    programs = sorted(program for program, _ in kids.values())
    assert programs == (["jackd", "scsynth"] if own_jackd else ["scsynth"])
    proc.kill()
    proc.wait()
    proc.stderr.close()
    for _ in range(300):  # a hang guard (orphans are reaped by PID 1, here within seconds)
        if all(gone(pid, started) for pid, (_, started) in kids.items()):
            break
        time.sleep(0.1)
    assert all(gone(pid, started) for pid, (_, started) in kids.items())
    assert jack.running(jack_server)  # the session's jackd, not ours, is left alone
    r = subprocess.run([sys.executable, "-m", "gridtonic", "run", "--for", "1", "--port", port], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert not registered(f"{jack_server}-k9")


def test_a_scsynth_not_ours_on_the_port_is_one_line_and_left_alone(run_env, jack_server, tmp_path):
    port = udp.free_port()
    stale = subprocess.Popen(["scsynth", "-u", str(port), "-B", "127.0.0.1", "-i", "0", "-o", "2", "-R", "0",
                              "-H", f"{jack_server}:gt-stale-{os.getpid()}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):  # a hang guard
            if trio.run(scsynth.answers, port, 0.1):
                break
        r = subprocess.run([sys.executable, "-m", "gridtonic", "run", "--for", "1", "--port", str(port)],
                           env=run_env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert r.stderr.strip().splitlines()[-1] == (
            f"gridtonic: UDP port {port} is already in use by a scsynth gridtonic did not start; "
            "choose another port with --port")
        assert stale.poll() is None and trio.run(scsynth.answers, port, 2.0)  # not fought, not killed
    finally:
        stale.terminate()
        stale.wait()
        Path(f"/dev/shm/SuperColliderServer_{port}").unlink(missing_ok=True)
