"""A crow on a pty: reads lines, answers ``^^i``/``^^v``, records every line with its arrival time.

Real serial I/O for the host (pyserial opens the pty's slave through a stable symlink, as a udev
rule would name crow), so unplugging is closing the master and plugging back is a new pty behind
the same name. A trio task in the caller's nursery serves it: one ``trio.to_thread`` call runs the
blocking read loop, so each line is stamped as it is read, not when the trio loop (busy with the
host under test) gets round to it. Times are ``time.perf_counter()`` (CLOCK_MONOTONIC, the clock
trio's default clock runs on, up to a constant offset). Every Lua line also runs through :class:`II`,
crow's own Just Friends addressing, so a test can assert which unit each command reaches on real
crow. As a process for the bench: ``python tests/crowemu.py LINK RECORD.tsv`` records until SIGTERM.
"""

from __future__ import annotations

import os
import re
import select
import signal
import sys
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path

import trio

IDENTITY = b"^^identity('0x002f00433438510b32383439')\n\r"  # crow: '0x%08x%08x%08x' of the STM32's 96-bit UID
POLL = 0.05  # s the read loop waits before looking whether crow was unplugged
JF_ADDRESSES = (0x70, 0x75)  # crow lua/ii/jf.lua: unit 1, unit 2
_JF_CALL = re.compile(r"ii\.jf((?:\[\d+\])*)\.(\w+)\(([^()]*)\)")


@dataclass
class II:
    """What crow puts on the ii bus for ``ii.jf`` calls, as ``lib/l_ii_mod.c`` does it: the one
    ``ii.jf`` table holds a current address (unit 1's at power-on); ``ii.jf[n]`` sets it to unit
    n's and returns the same table, so it stays set for every later ``ii.jf.cmd()`` until another
    ``ii.jf[m]``; ``crow.reset()`` leaves it alone, and crow (powered by the case) keeps it across
    USB unplugs. Each call is sent to the current address. Indices other than 1 and 2 are not
    modelled (gridtonic never sends them)."""

    address: int = JF_ADDRESSES[0]
    sent: list[tuple[int, str, tuple[float, ...]]] = field(default_factory=list)  # (address, cmd, args)

    def run(self, line: str) -> None:
        for m in _JF_CALL.finditer(line):
            for index in re.findall(r"\[(\d+)\]", m[1]):
                assert int(index) in (1, 2), f"ii.jf[{index}] is not modelled"
                self.address = JF_ADDRESSES[int(index) - 1]
            args = tuple(float(a) for a in m[3].split(",") if a.strip())
            self.sent.append((self.address, m[2], args))

    def to(self, address: int) -> list[tuple[str, tuple[float, ...]]]:
        """The commands that reached the unit at ``address``, in order."""
        return [(cmd, args) for a, cmd, args in self.sent if a == address]


@dataclass(eq=False)
class _Pty:
    """One plugging-in: the pty's two ends (compared by identity)."""

    master: int
    slave: int


@dataclass
class CrowEmulator:
    link: Path
    nursery: trio.Nursery  # where the serving task runs
    lines: list[tuple[float, str]] = field(default_factory=list)  # (perf_counter, line) as received
    version: str = "v4.0.4"  # what ^^v answers
    ii: II = field(default_factory=II)  # crow's ii state: outlives unplugging, like crow's
    _pty: _Pty | None = None  # the plugged pty; None: unplugged

    def plug(self) -> None:
        """A new pty behind ``link``, served by a task in ``nursery``."""
        pty = _Pty(*os.openpty())
        tty.setraw(pty.slave)
        tty.setraw(pty.master)
        self._pty = pty
        tmp = self.link.with_name(self.link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(pty.slave))
        os.replace(tmp, self.link)
        self.nursery.start_soon(self._serve, pty)

    def unplug(self) -> None:
        """crow pulled out: the name disappears, and within POLL the pty closes and the host's port
        reports an error."""
        self.link.unlink(missing_ok=True)
        self._pty = None

    def emit(self, data: bytes) -> None:
        """Bytes from crow to the host (events, prints, garbage)."""
        assert self._pty is not None
        os.write(self._pty.master, data)

    def commands(self) -> list[str]:
        """Lua lines received (``^^`` commands left out)."""
        return [line for _, line in self.lines if not line.startswith("^^")]

    async def _serve(self, pty: _Pty) -> None:
        """The blocking read loop in a worker; cancelled, the task lets it go and it stops by itself.
        A pty is told from the next by identity: the next one's fds may reuse its numbers (a test
        that compared fds ended a freshly plugged pty when this ran after the next plug)."""
        try:
            await trio.to_thread.run_sync(self._read_loop, pty, abandon_on_cancel=True)
        finally:
            if self._pty is pty:
                self._pty = None

    def _read_loop(self, pty: _Pty) -> None:
        """Blocking: read, record and answer until unplugged, then close the pty (no read is using it)."""
        buf, master = b"", pty.master
        try:
            while self._pty is pty:
                ready, _, _ = select.select([master], [], [], POLL)
                if not ready:
                    continue
                data = os.read(master, 4096)
                now = time.perf_counter()
                buf += data
                *done, buf = buf.replace(b"\r", b"\n").split(b"\n")
                for raw in done:
                    line = raw.decode("utf-8", errors="replace")
                    if not line:
                        continue
                    self.lines.append((now, line))
                    if not line.startswith("^^"):
                        self.ii.run(line)
                    if "^^i" in line:
                        os.write(master, IDENTITY)
                    if "^^v" in line:
                        os.write(master, f"^^version('{self.version}')\n\r".encode())
        finally:
            os.close(master)
            os.close(pty.slave)


async def record(link: str, path: str) -> None:
    """Serve ``link`` until SIGTERM, then write the lines received to ``path``."""
    async with trio.open_nursery() as n:
        emu = CrowEmulator(Path(link), n)
        with trio.open_signal_receiver(signal.SIGTERM) as signals:
            emu.plug()
            print("ready", flush=True)
            async for _ in signals:
                break
        emu.unplug()
    with open(path, "w") as f:
        f.writelines(f"{t!r}\t{line}\n" for t, line in emu.lines)


if __name__ == "__main__":
    trio.run(record, *sys.argv[1:3])
