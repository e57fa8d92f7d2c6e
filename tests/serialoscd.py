"""The real serialoscd (monome/serialosc 1.4.7 built from ../shared/peers/serialosc) with pty grids,
for the grid tests: what monome users run, where gridtonic's own emulator could be wrong.

``make test`` builds it into build/serialosc; run alone, the first test builds it (seconds). The
daemon always listens on 127.0.0.1:12002, so one runs at a time, started in its own process group
(its detector and device processes are its children) and killed with it even if pytest is.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from gridtonic.core import layout
from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import Sequencer
from gridtonic.core.session import default_session
from gridtonic.core.surface import Surface
from gridtonic.grid.emulator import EmulatedGrid
from gridtonic.grid.host import Grid, GridConfig
from gridtonic.io import osc

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT.parent / "shared" / "peers" / "serialosc"
PREFIX = ROOT / "build" / "serialosc"
PORT = 12002  # serialoscd's, fixed in its source

if (KIT / "rig").is_dir():
    sys.path.insert(0, str(KIT / "rig"))
    from fakegrid import FakeGrid  # noqa: E402,F401  (the kit's pty grid speaking mext)


def built() -> Path:
    """The daemon's install prefix, built now if ``make test`` has not; skips without the kit."""
    if not KIT.is_dir():
        pytest.skip("../shared/peers/serialosc (the real serialosc kit) is not beside this checkout")
    if not (PREFIX / "bin" / "serialoscd").is_file():
        r = subprocess.run(["bash", str(KIT / "build.sh"), str(PREFIX)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail(f"building serialosc failed (apt: liblo-dev libuv1-dev):\n{r.stderr[-2000:]}")
    return PREFIX


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test process dies, however it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Daemon:
    """serialoscd with the kit's stand-ins: ``present`` is what is plugged, ``config`` its ``-c``."""

    def __init__(self, run: Path):
        self.prefix = built()
        self.run = run
        self.present, self.config, self.serials = run / "present", run / "config", run / "serials"
        for d in (self.present, self.config, self.serials):
            d.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.log = run / "serialoscd.log"

    def start(self) -> None:
        """Start it and wait until it answers on its port; skip when another serialoscd has it."""
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind(("127.0.0.1", PORT))
        except OSError:
            pytest.skip(f"UDP port {PORT} is taken (a serialoscd of this machine's user?)")
        finally:
            probe.close()
        for f in self.present.iterdir():  # the detector announces what is here at its start
            f.unlink()
        env = {**os.environ, "LD_PRELOAD": str(self.prefix / "lib" / "fakeudev.so"),
               "SOSC_PRESENT": str(self.present), "FAKEUDEV_DIR": str(self.serials)}
        self.proc = subprocess.Popen([str(self.prefix / "bin" / "serialoscd"), "-c", str(self.config)],
                                     env=env, stdout=self.log.open("a"), stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.1)
            ask = osc.message("/serialosc/version", "127.0.0.1", s.getsockname()[1])
            for _ in range(50):
                s.sendto(ask, ("127.0.0.1", PORT))
                try:
                    s.recv(1024)
                    return
                except TimeoutError:
                    continue
        raise AssertionError(f"serialoscd did not answer: {self.log.read_text()[-1000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the daemon and its detector and device processes, as systemd stops the service
        (SIGTERM to the group: the devices save nothing and tell nobody; serialosc-device writes
        its settings only when its grid goes away)."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _members(proc.pid):
            time.sleep(0.02)
        for pid in _members(proc.pid):
            os.kill(pid, signal.SIGKILL)

    def grid(self, serial: str = "m1000001", width: int = 16, height: int = 8) -> FakeGrid:
        """A pty grid whose USB serial (what serialosc calls its id) is ``serial``; not plugged."""
        return Serialled(self, serial, width, height)


class Serialled(FakeGrid if "FakeGrid" in globals() else object):
    """The kit's FakeGrid with its USB serial given to the udev shim (by the pty's minor) at plug."""

    def __init__(self, daemon: Daemon, serial: str, width: int, height: int):
        super().__init__(id=serial, width=width, height=height, present_dir=str(daemon.present), name=serial)
        self.daemon = daemon

    def open(self) -> str:
        dev = super().open()
        (self.daemon.serials / str(os.minor(os.stat(dev).st_rdev))).write_text(self.id + "\n")
        return dev


def _members(pgid: int) -> list[int]:
    """The processes of group ``pgid`` still running (zombies waiting for a reaper do not count)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(stat.parent.name))
    return found


async def until(condition, what: str, guard: float = 10) -> float:
    """Wait for ``condition()`` (a hang guard, not a timing assertion); the seconds it took."""
    start = trio.current_time()
    with trio.move_on_after(guard):
        while not condition():
            await trio.sleep(0.005)
        return trio.current_time() - start
    raise AssertionError(f"gave up waiting for {what}")


def shows(g, surface: Surface, rotation: int = 0) -> bool:
    """The pty grid's LEDs are the surface's frame (turned as libmonome turns it)."""
    turn = EmulatedGrid(width=g.width, height=g.height, rotation=rotation)  # its coordinate maps
    lay, (w, h) = surface.gestures.layout, turn.size
    if lay.width > w or lay.height > h:
        return False
    with g.cond:
        view = [g.level(*turn.physical(x, y)) for y in range(lay.height) for x in range(lay.width)]
    return tuple(view) == surface.frame(trio.current_time()) and any(view)


@asynccontextmanager
async def rig(tmp_path, **config):
    daemon = Daemon(tmp_path / "serialosc")
    daemon.start()
    session = default_session()
    for t in session.tracks:
        t.set_pattern("-")
    surface = Surface(layout.builtin(16, 8), session, Sequencer(session, InternalClock(120)))
    heard: list[str] = []
    try:
        async with trio.open_nursery() as n:
            await n.start(surface.run)
            grid = Grid(surface, GridConfig(serialosc_port=PORT, **config))
            handle = grid.client.handle
            grid.client.handle = lambda data, sender: (heard.append(osc.parse(data)[0]), handle(data, sender))
            await n.start(grid.run)
            yield daemon, surface, grid, heard
            n.cancel_scope.cancel()
    finally:
        daemon.stop(signal.SIGKILL)
