"""Shared fixtures: real external processes, started here and stopped by PID."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, settings

from gridtonic.io import child, jack, midiports
from gridtonic.sound import synthdefs

T = TypeVar("T")

# Shared, noisy machines: generated cases must not fail for being slow to generate or run.
settings.register_profile("gridtonic", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("gridtonic")


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory: pytest.TempPathFactory):
    """A private jackd (dummy backend, 48 kHz, 256 frames) for the session; yields its server name.

    JACK_DEFAULT_SERVER points clients (scsynth, rtmidi) at it, so a JACK server that happens to
    run on the machine is left alone.
    """
    if not shutil.which("jackd"):
        pytest.skip(f"jackd not installed ({jack.INSTALL_HINT})")
    name = f"gt-test-{os.getpid()}"  # jack2 clients crash on names over 23 characters
    log_path = _jack_log_path(tmp_path_factory)
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            ["jackd", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    try:
        for _ in range(100):  # a hang guard, not a timing assertion
            if jack.running(name) or proc.poll() is not None:
                break
            time.sleep(0.1)
        if not jack.running(name):
            pytest.fail(f"jackd did not start: {log_path.read_text(errors='replace')}")
        os.environ["JACK_DEFAULT_SERVER"] = name
        yield name
    finally:
        if previous is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = previous
        child.end(proc)


def _jack_log_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "jackd.log"


@pytest.fixture(scope="session")
def jack_log(jack_server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """jack_server's log: timing tests count its XRun lines to tell a loaded machine from a bug."""
    return _jack_log_path(tmp_path_factory)


@pytest.fixture
def without_xruns(jack_log: Path) -> Callable[[Callable[[int], Awaitable[T]]], Awaitable[T]]:
    """``await without_xruns(measure)``: ``measure(attempt)``, again if JACK logged an xrun
    meanwhile; skip if it never ran clean.

    An xrun (a busy machine delays scsynth's JACK callback) shifts audio against the system clock
    that time tags use, so onsets move by up to a few periods: that is the machine, not the code.
    """

    async def run(measure: Callable[[int], Awaitable[T]]) -> T:
        for attempt in range(3):
            before = jack_log.read_text(errors="replace").count("XRun")
            gc.collect()  # the earlier tests' heap, frozen: a full collection of it stalls this
            gc.freeze()   # process ~80 ms after the fuzz tests (a running gridtonic's: ~15 ms)
            try:
                result = await measure(attempt)
            finally:
                gc.unfreeze()
            if jack_log.read_text(errors="replace").count("XRun") == before:
                return result
        pytest.skip("JACK reported xruns in every attempt: machine too busy for timing checks")

    return run


@pytest.fixture
def sender(jack_server):
    """A test device's JACK MIDI output (a virtual port named gt-sender:out)."""
    port = midiports.open_output(midiports.VIRTUAL, "jack", client="gt-sender")
    yield port
    midiports.close(port)


@pytest.fixture(scope="session")
def engine_defs(tmp_path_factory: pytest.TempPathFactory):
    """engine/supertonic.scd compiled by the real sclang into a fresh directory."""
    return synthdefs.build(tmp_path_factory.mktemp("synthdefs"))
