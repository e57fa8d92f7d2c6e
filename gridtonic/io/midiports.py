"""MIDI ports: which MIDI system, listing, choosing by name, and keeping one open across unplugging.

The MIDI system is chosen once (:func:`choose_api`): the ALSA sequencer wherever Linux has one
(``/dev/snd/seq``: where USB MIDI devices show up, and what mido, rtmidi and norns default to),
JACK MIDI otherwise (containers and CI have no sequencer; gridtonic runs JACK anyway). A port is
chosen by case-insensitive substring, or ``virtual`` makes gridtonic's own port for others to
connect to. Inputs and outputs are
python-rtmidi ports: the parser needs the raw bytes (mido's callback drops messages with real-time
bytes inside), and every JACK client and port is opened and closed here, one change at a time
(:func:`change`), which mido's ports do back to back.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

import rtmidi
import trio

from gridtonic.io import jack

log = logging.getLogger(__name__)

APIS = {"jack": rtmidi.API_UNIX_JACK, "alsa": rtmidi.API_LINUX_ALSA}
AUTO = "auto"
API_CHOICES = (*sorted(APIS), AUTO)
SEQUENCER = Path("/dev/snd/seq")  # the ALSA sequencer's device: there only where Linux has one
CLIENT = "gridtonic"
VIRTUAL = "virtual"
WATCH = 1.0  # s between looks for a port that went away or came back
SETTLE = 0.1  # s between two changes this process makes to JACK's graph (a client or a port opened
# or closed). A cycle or two after each change, JACK tells every client of it on libjack's
# notification thread, which walks that client's port list without a lock (jackd2 1.9.21, jack2
# issue #216): a port opened or closed in this process during that walk crashes the process. The
# walk takes well under a millisecond; two 1024-frame cycles at 48 kHz are 43 ms.
POLL = 0.005  # s between looks at rtmidi's queue (filled on JACK's thread without Python): about a
# JACK period; stamps come from rtmidi's delta times, so this delays actions (well inside the
# look-ahead and the audio latency), not their times. Idle, with its JACK client: 4.6 % of a core
# (13 % at 1 ms)
DRIFT = 1e-4  # s/s the time anchor may creep, for a MIDI system clock running apart from ours
# (100 ppm; the tempo read through it is off by at most as much)
T = TypeVar("T")
Port = Any  # rtmidi.MidiIn or rtmidi.MidiOut (python-rtmidi ships no type hints)

_graph = threading.Lock()
_changed = -SETTLE  # time.monotonic() of the last change


def change(step: Callable[[], T]) -> T:
    """Run ``step`` (opening or closing a JACK client or port) once JACK has told this process's
    clients of the previous change. Blocks up to ``SETTLE``: call it from a worker thread."""
    global _changed
    with _graph:
        time.sleep(max(0.0, _changed + SETTLE - time.monotonic()))
        try:
            return step()
        finally:
            _changed = time.monotonic()


class MidiPortError(RuntimeError):
    """No MIDI system to talk to (JACK not running, ALSA sequencer missing)."""


def choose_api(requested: str, seq_exists: bool, compiled: Collection[str]) -> tuple[str, str]:
    """The MIDI system to use and why, from ``--midi-api`` (alsa, jack or auto), whether the ALSA
    sequencer is there and the systems python-rtmidi was built with. Launchpads, clock and notes
    all use the one answer. A choice that cannot work is a ``MidiPortError`` (one line), never a
    silent fallback: rtmidi asked for a system it lacks opens its default one instead."""
    if requested == AUTO:
        if seq_exists and "alsa" in compiled:
            return "alsa", f"auto: {SEQUENCER} exists, the ALSA sequencer where USB MIDI devices show up"
        why = f"no ALSA sequencer, {SEQUENCER} is missing"
        if seq_exists:
            why = "python-rtmidi was built without ALSA"
        if "jack" not in compiled:
            raise MidiPortError(f"--midi-api auto: {why}; python-rtmidi has no JACK MIDI either")
        return "jack", f"auto: {why}"
    if requested not in APIS:
        raise MidiPortError(f"--midi-api {requested!r}: one of {', '.join(API_CHOICES)}")
    if requested not in compiled:
        raise MidiPortError(f"--midi-api {requested}: python-rtmidi was built without it")
    if requested == "alsa" and not seq_exists:
        raise MidiPortError(f"--midi-api alsa: no ALSA sequencer ({SEQUENCER} is missing: "
                            "sudo modprobe snd-seq, or --midi-api jack)")
    return requested, f"--midi-api {requested}"


def add_api_option(parser: Any) -> None:
    """``--midi-api``, on ``gridtonic run`` and ``gridtonic devices`` alike (a parser or a group)."""
    parser.add_argument("--midi-api", choices=API_CHOICES, default=AUTO,
                        help=f"MIDI system for ports, clock, notes and Launchpads (default auto: ALSA "
                        f"when {SEQUENCER} exists, else JACK)")


def resolve(requested: str) -> tuple[str, str]:
    """:func:`choose_api` on this machine."""
    built = set(rtmidi.get_compiled_api())
    return choose_api(requested, SEQUENCER.exists(), [name for name, api in APIS.items() if api in built])


def find(pattern: str, names: list[str]) -> str | None:
    """The first name containing ``pattern``, ignoring case."""
    p = pattern.lower()
    return next((n for n in names if p in n.lower()), None)


_probes: dict[tuple[str, str, str | None], Any] = {}
_probes_lock = threading.Lock()  # names() runs in trio's worker threads, several at once


def names(kind: str, api: str = "jack") -> list[str]:
    """Port names of ``kind`` ("input": ports we can read, "output": ports we can write).

    One client per kind, API and JACK server lists them all along: a JACK client opened and closed
    at every look reorders JACK's graph, and MIDI in flight then gets lost or repeated."""
    key = (kind, api, os.environ.get("JACK_DEFAULT_SERVER"))
    with _probes_lock:
        try:
            if key not in _probes:
                kind_of = rtmidi.MidiIn if kind == "input" else rtmidi.MidiOut
                _probes[key] = change(lambda: kind_of(APIS[api], name=f"{CLIENT}-probe"))
            return _probes[key].get_ports()
        except rtmidi.RtMidiError as e:
            _probes.pop(key, None)
            raise MidiPortError(f"no {api} MIDI: {e}") from None


def close_probes() -> None:
    """Close the listing clients (they are opened again on the next look)."""
    with _probes_lock:
        for probe in _probes.values():
            change(probe.delete)
        _probes.clear()


jack.before_stop(close_probes)


def open_input(name: str, api: str, client: str = CLIENT, label: str = "in") -> Port:
    """An rtmidi input on port ``name`` (or a virtual one, ``client:label``), to be polled
    (:func:`drain`). No callback: rtmidi calls it on JACK's process thread, which then waits for
    Python's GIL, and the whole JACK cycle with it (scsynth's sounds moved by 3 ms at such a stall).
    Blocks (:func:`change`)."""
    return _open(rtmidi.MidiIn, name, api, client, label)


def open_output(name: str, api: str, client: str = CLIENT, label: str = "out") -> Port:
    """An rtmidi output on port ``name`` (or a virtual one, ``client:label``). Blocks (:func:`change`)."""
    return _open(rtmidi.MidiOut, name, api, client, label)


def _open(kind: type, name: str, api: str, client: str, label: str) -> Port:
    port = change(lambda: kind(APIS[api], name=client))
    if kind is rtmidi.MidiIn:
        port.ignore_types(sysex=False, timing=False, active_sense=True)  # before bytes can arrive
    try:
        if name == VIRTUAL:
            change(lambda: port.open_virtual_port(label))
        else:
            change(lambda: port.open_port(port.get_ports().index(name), name=label))
    except BaseException:  # a port gone between listing and opening: its client goes too
        close(port)
        raise
    return port


def close(port: Port) -> None:
    """Close ``port`` and its JACK client. Blocks (:func:`change`): trio code awaits :func:`release`."""
    change(port.close_port)
    change(port.delete)


async def release(port: Port) -> None:
    """:func:`close` in a worker thread, finished even when the caller is cancelled."""
    with trio.CancelScope(shield=True):
        await trio.to_thread.run_sync(close, port)


async def keep_open(
    kind: str, pattern: str, api: str, opener: Callable[[str], Any], found: Callable[[Any], None],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Keep the port matching ``pattern`` open: ``found(port)`` when (re)opened, ``found(None)``
    when it went away. Reports started after the first look, port or not.

    Nothing here ends the run: no MIDI system (``MidiPortError``), a port gone between listing and
    opening (ValueError, OSError) are one warning line, and another look every ``WATCH`` s."""
    port, name, quiet = None, None, False  # quiet: the reason it is not open was said already
    try:
        while True:
            try:
                if pattern == VIRTUAL:
                    if port is None:
                        port = await trio.to_thread.run_sync(opener, VIRTUAL)
                        found(port)
                else:
                    available = await trio.to_thread.run_sync(names, kind, api)
                    if port is not None and name not in available:
                        log.warning("MIDI %s %r went away; reopening it when it returns", kind, name)
                        found(None)
                        await release(port)
                        port, quiet = None, True
                    if port is None and (name := find(pattern, available)) is not None:
                        port = await trio.to_thread.run_sync(opener, name)
                        log.info("MIDI %s: %s", kind, name)
                        found(port)
                    elif port is None and not quiet:
                        log.warning("no MIDI %s matches %r (have: %s); waiting for it", kind, pattern,
                                    ", ".join(available) or "none")
                        quiet = True
            except (MidiPortError, ValueError, OSError) as e:  # RtMidiError is an OSError
                if not quiet:
                    log.warning("MIDI %s %r: %s; trying again every %g s", kind, pattern,
                                str(e).rstrip("."), WATCH)
                    quiet = True
            else:
                if port is not None:
                    quiet = False
            task_status.started()
            task_status = trio.TASK_STATUS_IGNORED
            await trio.sleep(WATCH)
    finally:
        if port is not None:
            found(None)
            await release(port)


def listing(api: str = "jack") -> list[tuple[str, str]]:
    """("MIDI in"/"MIDI out", port or a reason) rows for ``gridtonic devices``."""
    rows = []
    for kind, label in (("input", "MIDI in"), ("output", "MIDI out")):
        try:
            found = names(kind, api) or ["none"]
        except MidiPortError as e:
            found = [str(e)]
        rows += [(label, n) for n in found]
    return rows


class Stamps:
    """Arrival times (trio time) of polled messages. rtmidi gives each message's delta time since
    the one before, on the MIDI system's clock, so a batch keeps its true spacing however late it
    is polled; it is placed by the smallest lag from arrival to poll seen so far (a late poll cannot
    make a message look late), which may creep later by ``DRIFT`` for clocks that run apart."""

    def __init__(self) -> None:
        self._source = 0.0  # the last message's time on the MIDI system's clock (from the first)
        self._offset = math.inf  # trio time minus source time
        self._polled: float | None = None

    def __call__(self, now: float, deltas: list[float]) -> list[float]:
        if not deltas:
            return []
        times = []
        for d in deltas:
            self._source += d
            times.append(self._source)
        creep = DRIFT * (now - self._polled) if self._polled is not None else 0.0
        self._offset = min(self._offset + creep, now - self._source)
        self._polled = now
        return [t + self._offset for t in times]


def drain(port: Any, stamps: Stamps) -> list[tuple[float, list[int]]]:
    """Every message waiting in a polled rtmidi input (:func:`open_input`), with its arrival
    time: how every MIDI input here is read (MIDI in, Launchpads), never an rtmidi callback.

    The poll's time is read *after* the queue is emptied, so every message in the batch arrived
    before it. Read before, a message that came in meanwhile (JACK fills the queue on its own
    thread, and this process can be preempted between the two) looked as if it had arrived before
    the poll: ``Stamps`` took that as a smaller lag and stamped every later message early by the
    preemption, for good (its minimum never comes back up but by ``DRIFT``). A 25-35 ms stall moved
    a followed MIDI clock's whole beat that much early."""
    batch = []
    while (message := port.get_message()) is not None:
        batch.append(message)
    times = stamps(trio.current_time(), [delta for _, delta in batch])
    return [(t, data) for t, (data, _) in zip(times, batch, strict=True)]
