"""A JACK server for realtime scsynth: use a running one, or start jackd and stop it afterwards.

Debian's scsynth has no realtime backend but JACK, and it aborts when no server runs. Machines
without a sound card (CI, containers) get the dummy backend: everything runs, the output is silent.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import IO

import trio

from gridtonic.io import child

log = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install --no-install-recommends jackd2"
MAX_NAME = 23  # jackd 1.9.21 starts with longer server names, but its clients then crash (rc 134)
RETRY_S = 2.0  # between attempts to start a jackd of ours again that cannot start


class JackError(RuntimeError):
    pass


def _server(server_name: str | None) -> str:
    return server_name or os.environ.get("JACK_DEFAULT_SERVER") or "default"


def _env() -> dict[str, str]:
    # A probing client must not autostart a server we would then not own.
    return {**os.environ, "JACK_NO_START_SERVER": "1"}


def running(server_name: str | None = None) -> bool:
    """Whether a JACK server named ``server_name`` (default: $JACK_DEFAULT_SERVER) accepts clients."""
    name = _server(server_name)
    if shutil.which("jack_lsp"):
        try:
            r = subprocess.run(
                ["jack_lsp", "-s", name], env=_env(), capture_output=True, timeout=5, check=False
            )
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0
    # jackd2 listens on this socket; it can outlive a killed server, hence jack_lsp first.
    return os.path.exists(f"/dev/shm/jack_{name}_{os.getuid()}_0")


def command(server_name: str | None = None, rate: int = 48000, period: int = 256) -> list[str]:
    """jackd's command line: the ALSA card when there is one, else the dummy backend."""
    cmd = ["jackd"]
    if server_name:
        cmd += ["-n", server_name]
    driver = "alsa" if os.path.exists("/dev/snd") else "dummy"
    return cmd + ["-d", driver, "-r", str(rate), "-p", str(period)]


_before_stop: list[Callable[[], None]] = []


def before_stop(close: Callable[[], None]) -> None:
    """Run ``close`` before a jackd we started is stopped: clients kept open across calls (the MIDI
    port listers) must leave first, or libjack prints read failures when the server goes away."""
    _before_stop.append(close)


@asynccontextmanager
async def ensure_jack(
    server_name: str | None = None, rate: int = 48000, period: int = 256, timeout: float = 10.0
) -> AsyncIterator[None]:
    """Make sure a JACK server runs inside the block. One we start is started again whenever it
    dies (its clients, scsynth first, reconnect on their own) and stopped afterwards; one that was
    already running is left alone."""
    if len(_server(server_name)) > MAX_NAME:
        raise JackError(f"JACK server name {_server(server_name)!r} is too long (max {MAX_NAME} characters)")
    if await trio.to_thread.run_sync(running, server_name):
        log.debug("JACK server %r already running", _server(server_name))
        yield
        return
    if not shutil.which("jackd"):
        raise JackError(f"jackd not found; install it with: {INSTALL_HINT}")
    cmd = command(server_name, rate, period)
    if "dummy" in cmd:
        log.info("no sound card found, running JACK with the dummy backend - silent output")
    # A file, not a pipe: no reader task is needed, and jackd never blocks on it.
    with tempfile.TemporaryFile() as output:
        async with trio.open_nursery() as nursery:
            await nursery.start(_keep, cmd, server_name, timeout, output)
            try:
                yield
            finally:
                nursery.cancel_scope.cancel()


async def _keep(cmd: list[str], server_name: str | None, timeout: float, output: IO[bytes],
                task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Run jackd until cancelled, starting it again each time it dies."""
    proc = await _start(cmd, server_name, timeout, output)
    task_status.started()
    try:
        while True:
            await proc.wait()
            log.warning("jackd (pid %d) exited with %s; starting it again", proc.pid, proc.returncode)
            proc = await _restart(cmd, server_name, timeout, output)
    finally:
        for close in _before_stop:
            close()
        with trio.CancelScope(shield=True):
            await _stop(proc)
            if proc.returncode != 0:
                await _free_slot(cmd, server_name, timeout, output)


async def _restart(cmd: list[str], server_name: str | None, timeout: float, output: IO[bytes]) -> child.Child:
    """jackd again, at once and then, while it cannot start (the sound card went away), every
    RETRY_S: the music waits for JACK, the instrument does not stop. Logged on the 1st, 2nd, 4th…
    failure."""
    failures = 0
    while True:
        try:
            return await _start(cmd, server_name, timeout, output)
        except JackError as e:
            failures += 1
            if failures & (failures - 1) == 0:
                log.error("%s; trying again every %g s (failure %d)", e, RETRY_S, failures)
        await trio.sleep(RETRY_S)


async def _free_slot(cmd: list[str], server_name: str | None, timeout: float, output: IO[bytes]) -> None:
    """jackd2 frees its slot in the shared server registry (8 slots) only when it exits cleanly,
    and gives a dead server's slot back only to a server of the same name. A jackd restarted after
    a crash sometimes dies of SIGPIPE while stopping (a notification to a client gone with the
    crash), so one more of that name is started and stopped: fresh, without clients, it exits clean."""
    try:
        await _stop(await _start(cmd, server_name, timeout, output))
    except JackError as e:
        log.warning("could not free JACK server %r's registry slot: %s", _server(server_name), e)


async def _start(cmd: list[str], server_name: str | None, timeout: float, output: IO[bytes]) -> child.Child:
    """jackd, once it accepts clients; JackError with its last lines if it never does."""
    proc = child.spawn(cmd, output)
    try:
        deadline = trio.current_time() + timeout
        while not await trio.to_thread.run_sync(running, server_name):
            if proc.poll() is not None or trio.current_time() > deadline:
                output.seek(0)
                last = " / ".join(output.read().decode(errors="replace").split("\n")[-4:])
                raise JackError(f"jackd did not start ({' '.join(cmd)}): {last}")
            await trio.sleep(0.05)
    except BaseException:
        with trio.CancelScope(shield=True):
            await _stop(proc)
        raise
    log.debug("jackd started (pid %d): %s", proc.pid, " ".join(cmd))
    return proc


async def _stop(proc: child.Child, grace: float = 3.0) -> None:
    """SIGTERM lets jackd remove its sockets and shared memory; SIGKILL if it hangs."""
    if proc.returncode is not None:
        return
    proc.terminate()
    with trio.move_on_after(grace):
        await proc.wait()
        return
    proc.kill()
    await proc.wait()
