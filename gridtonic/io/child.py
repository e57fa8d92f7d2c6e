"""Child processes (jackd, scsynth) that never outlive gridtonic, even after a ``kill -9`` of it.

Before exec, the child asks the kernel (``prctl(PR_SET_PDEATHSIG)``) for SIGTERM when its parent
dies. The parent is the *thread* that forked: trio's ``open_process`` forks from a worker thread,
which exits after 10 s idle and would take the child with it. So ``spawn`` forks from the calling
thread, trio's own, which lives as long as the process, and ``Child.wait`` watches a pidfd. Linux.

Children run in a process group of their own, so a terminal's Ctrl-C reaches gridtonic alone,
which then stops them in order (scsynth before the jackd it plays on).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import IO

import trio

PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the forked child only calls it


class Child:
    """A running child: what jack and scsynth need of ``trio.Process``."""

    def __init__(self, popen: subprocess.Popen, stdout: trio.lowlevel.FdStream | None) -> None:
        self._popen = popen
        self._pidfd = os.pidfd_open(popen.pid)
        self.pid = popen.pid
        self.stdout = stdout  # the child's stdout and stderr, when spawned with output=PIPE

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    def poll(self) -> int | None:
        return self._popen.poll()

    def terminate(self) -> None:
        self._popen.terminate()  # like kill: a no-op once reaped, so never another process's PID

    def kill(self) -> None:
        self._popen.kill()

    async def wait(self) -> int:
        """The exit status; the child is reaped here (one task waits at a time)."""
        if self._pidfd >= 0:
            await trio.lowlevel.wait_readable(self._pidfd)  # readable once the child has exited
            os.close(self._pidfd)
            self._pidfd = -1
        return self._popen.wait()


def spawn(command: Sequence[str], output: int | IO[bytes] = subprocess.PIPE,
          env: Mapping[str, str] | None = None) -> Child:
    """Start ``command`` with stdout and stderr to ``output`` (PIPE: ``Child.stdout``); it gets
    SIGTERM when gridtonic ends, however it ends. Call it from the trio thread (see above): it
    returns once the child has exec'd, a few milliseconds."""
    read_end = None
    if output == subprocess.PIPE:
        read_end, output = os.pipe()
    try:
        popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                 env=env, process_group=0, preexec_fn=_dies_with(os.getpid()))
    except BaseException:
        if read_end is not None:
            os.close(read_end)
        raise
    finally:
        if read_end is not None:
            os.close(output)
    return Child(popen, None if read_end is None else trio.lowlevel.FdStream(read_end))


def _dies_with(parent: int) -> Callable[[], None]:
    def preexec() -> None:  # in the forked child: no locks, no imports
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl: no signal will come
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def end(popen: subprocess.Popen, grace: float = 5.0) -> None:
    """Stop a process started outside trio (a test's or a bench's jackd): SIGTERM, and SIGKILL if it
    is still there after ``grace`` seconds."""
    popen.terminate()
    try:
        popen.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()
