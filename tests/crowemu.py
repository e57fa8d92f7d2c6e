"""A crow on a pty: reads lines, answers ``^^i``/``^^v``, records every line with its arrival time.

Real serial I/O for the host (pyserial opens the pty's slave through a stable symlink, as a udev
rule would name crow), so unplugging is closing the master and plugging back is a new pty behind
the same name. Times are ``time.perf_counter()`` (CLOCK_MONOTONIC, the clock trio's default clock
runs on, up to a constant offset). Runs in a thread of the test, or as a process for the bench:
``python tests/crowemu.py LINK RECORD.tsv`` records until SIGTERM.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path

IDENTITY = b"^^identity('0x00000000000000000000')\n\r"
VERSION = b"^^version('v4.0.4')\n\r"


@dataclass
class CrowEmulator:
    link: Path
    lines: list[tuple[float, str]] = field(default_factory=list)  # (perf_counter, line) as received
    _master: int | None = None
    _slave: int | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def plug(self) -> None:
        """A new pty behind ``link``, served by a thread."""
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        self._master, self._slave = master, slave
        tmp = self.link.with_name(self.link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(slave))
        os.replace(tmp, self.link)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, args=(master,), daemon=True)
        self._thread.start()

    def unplug(self) -> None:
        """crow pulled out: the name disappears and the host's port reports an error."""
        self.link.unlink(missing_ok=True)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = self._thread = None

    def emit(self, data: bytes) -> None:
        """Bytes from crow to the host (events, prints, garbage)."""
        assert self._master is not None
        os.write(self._master, data)

    def commands(self) -> list[str]:
        """Lua lines received (``^^`` commands left out)."""
        return [line for _, line in self.lines if not line.startswith("^^")]

    def _serve(self, master: int) -> None:
        buf = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            now = time.perf_counter()
            buf += data
            *done, buf = buf.replace(b"\r", b"\n").split(b"\n")
            for raw in done:
                line = raw.decode("utf-8", errors="replace")
                if not line:
                    continue
                self.lines.append((now, line))
                if "^^i" in line:
                    os.write(master, IDENTITY)
                if "^^v" in line:
                    os.write(master, VERSION)


def main(link: str, record: str) -> None:
    emu = CrowEmulator(Path(link))
    emu.plug()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print("ready", flush=True)
    done.wait()
    emu.unplug()
    with open(record, "w") as f:
        f.writelines(f"{t!r}\t{line}\n" for t, line in emu.lines)


if __name__ == "__main__":
    main(*sys.argv[1:3])
