"""The crow host: finds crow on USB serial, says hello, and plays the mapping in time with the audio.

Thin I/O around :mod:`mapping` (what to send) and :mod:`wire` (how bytes look). Like druid it
finds crow by USB id and product (or a configured port), checks it with ``^^i`` → ``^^identity``, runs
``crow.reset()`` and defines the outputs' actions on every connect, and reconnects when crow comes
back. Blocking serial calls run in ``trio.to_thread``. crow has no time-stamped messages, so each
line is written at its event time + the engine's latency − the serial latency (measured with
``^^v`` round trips unless configured): triggers land with the sound. Without a crow, hits are
dropped and the music goes on.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import serial
import trio
from serial.tools import list_ports

from gridtonic.core.sequencer import LOOKAHEAD, TICK, Hit, Sequencer
from gridtonic.crow import mapping, wire
from gridtonic.crow.mapping import CrowConfig
from gridtonic.io.tasks import Dropped
from gridtonic.sound.engine import DEFAULT_LATENCY

log = logging.getLogger(__name__)

VID, PID = 0x0483, 0x5740
PRODUCT = "crow: telephone line"
BAUD = 115200
READ_TIMEOUT = 0.1  # s per read, as druid
HELLO_READS = 10  # reads waiting for ^^identity, as norns
PINGS = 5  # ^^v round trips measuring the serial latency
RETRY = 1.0  # s between looks for crow while it is away
COALESCE = 0.0005  # s: lines due this close together go in one write
EARLY = 0.003  # s: wake this early and finish the wait in the writer thread (trio's timeouts are ms-coarse)
LATE = 0.02  # s: a line this late is dropped (a late trigger is a wrong beat)
ERRORS_SHOWN = 32  # distinct crow error lines logged per connection; repeats and the rest go to debug


class CrowError(Exception):
    """A port that does not behave like crow."""


@dataclass(frozen=True)
class Hello:
    identity: str
    version: str
    latency: float  # s, half the median ^^v round trip


def fallback_note(version: str) -> str:
    """Why envelope outputs play as pulses on this crow (for a log line and ``gridtonic crow status``)."""
    what = f"firmware {version}" if mapping.firmware(version) else f"unreadable firmware version {version!r}"
    return (f"{what}: envelopes need ASL's dyn (crow v3.0 or later), so envelope outputs play as "
            "pulses of attack + release at their full level; update crow for envelopes")


def find_ports(configured: str | None = None) -> list[str]:
    """Where crow may be: the configured port if it exists, else USB 0483:5740 ports, crow first.

    0483:5740 is STMicro's generic virtual COM port, so like druid a port whose product string is
    not crow's is never taken. Where the OS gives no product string at all (Windows), such a port
    is listed after every named crow and only the ``^^i`` handshake in :func:`connect` tells crow
    from another STM32 board."""
    if configured:
        return [configured] if os.path.exists(configured) else []
    named, nameless = [], []
    for p in list_ports.comports():
        if (p.vid, p.pid) != (VID, PID):
            continue
        if not p.product:
            nameless.append(p.device)
        elif PRODUCT in p.product:
            named.append(p.device)
    return named + nameless


def _read_some(port: serial.Serial) -> bytes:
    data = port.read(1)
    return data + port.read(port.in_waiting) if data else data


def _ask(port: serial.Serial, command: bytes, name: str) -> wire.Event:
    """Write a ``^^`` command and read until its event (HELLO_READS reads at most)."""
    port.write(command)
    split = wire.LineSplitter()
    for _ in range(HELLO_READS):
        for line in split.feed(_read_some(port)):
            for text in wire.split_line(line)[1]:
                try:
                    event = wire.parse_event(text)
                except wire.WireError:
                    continue
                if event.name == name:
                    return event
    raise CrowError(f"no ^^{name} answer to {command.strip().decode()}")


def hello(port: serial.Serial) -> Hello:
    """Blocking handshake: identity, version, and the serial latency from ``^^v`` round trips."""
    port.reset_input_buffer()
    identity = _ask(port, b"^^i\n", "identity")
    trips = []
    for _ in range(PINGS):
        t0 = time.perf_counter()
        version = _ask(port, b"^^v\n", "version")
        trips.append(time.perf_counter() - t0)
    name = str(identity.args[0]) if identity.args else "?"
    return Hello(name, str(version.args[0]) if version.args else "?", statistics.median(trips) / 2)


def connect(path: str) -> tuple[serial.Serial, Hello]:
    """Open ``path`` (115200 8N1, as druid) and shake hands; CrowError/OSError when it is not crow."""
    port = serial.Serial(path, BAUD, timeout=READ_TIMEOUT, write_timeout=1.0)
    try:
        return port, hello(port)
    except BaseException:
        port.close()
        raise


def _write_at(port: serial.Serial, frames: list[bytes], deadline: float) -> None:
    """Blocking: sleep until ``deadline`` (perf_counter), then write."""
    delay = deadline - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    for data in frames:
        port.write(data)


class Schedule:
    """Lines waiting for their write time; ``run`` writes them through ``send`` when due."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, list[str]]] = []
        self._order = itertools.count()
        self._changed = trio.Event()
        self.dropped = 0  # lines too late to be worth sending

    def push(self, t: float, lines: list[str]) -> None:
        if lines:
            heapq.heappush(self._heap, (t, next(self._order), lines))
            self._changed.set()

    def clear(self) -> None:
        self._heap.clear()

    def due(self, now: float, until: float) -> list[str]:
        """Pop the lines due by ``until`` (+COALESCE), dropping those LATE or more behind ``now``."""
        lines: list[str] = []
        while self._heap and self._heap[0][0] <= until + COALESCE:
            t, _, item = heapq.heappop(self._heap)
            if t < now - LATE:
                self.dropped += len(item)
                log.debug("crow: %d line(s) %.1f ms late, dropped", len(item), (now - t) * 1e3)
            else:
                lines += item
        return lines

    async def run(self, send: Callable[[list[str], float], Awaitable[None]]) -> None:
        """Hand due lines to ``send(lines, due)`` EARLY before their time; ``send`` waits the rest."""
        while True:
            self._changed = trio.Event()
            if not self._heap:
                await self._changed.wait()
                continue
            due = self._heap[0][0]
            with trio.move_on_at(due - EARLY):
                await self._changed.wait()
                continue
            lines = self.due(trio.current_time(), due)
            if lines:
                await send(lines, due)


class Crow:
    """A sequencer sink and listener (it joins both), and the task that keeps crow connected and fed."""

    def __init__(self, config: CrowConfig, sequencer: Sequencer, latency: float = DEFAULT_LATENCY):
        self.config = config
        self._config = config  # what the connected crow's firmware can play (see mapping.for_firmware)
        self._fallback_told = False  # the "no dyn: envelopes as pulses" warning, given once
        self.sequencer = sequencer
        self.latency = latency
        self.hello: Hello | None = None  # set while connected
        self.serial_latency = 0.0
        self.schedule = Schedule()
        self._port: serial.Serial | None = None
        self._levels: dict[int, float] = {}
        self._gates: dict[int, float] = {}  # s: each gate's length as defined on crow
        self._errors: set[str] = set()  # error lines crow sent on this connection, each logged once
        self.ignored = Dropped(log, "crow")  # events that are not well-formed
        self.failed = Dropped(log, "crow")  # lines a handler raised on (a bug: never seen)
        self._pulse_from: float | None = None  # beat from which clock/reset pulses are due; None: stopped
        sequencer.sinks.append(self.play)
        sequencer.listeners.append(self.transport)

    @property
    def connected(self) -> bool:
        """crow answered the handshake and its outputs are set up."""
        return self._port is not None

    def _at(self, t: float) -> float:
        return mapping.write_time(t, self.latency, self.serial_latency)

    def play(self, hit: Hit) -> None:
        """Sink: queue the hit's lines for its write time (dropped while crow is away)."""
        if self._port is None:
            return
        self.schedule.push(self._at(hit.time), mapping.gate_lines(self._config, self.sequencer.clock.tempo,
                                                                  self._gates))
        self.schedule.push(self._at(hit.time), mapping.hit_lines(self._config, hit, self._levels))

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Find, connect, play; on unplug wait for crow to come back. Runs until cancelled."""
        for line in mapping.uses(self.config):
            log.debug("crow mapping: %s", line)
        async with trio.open_nursery() as n:
            n.start_soon(self._pulses)
            task_status.started()
            missing_logged = False
            refused: set[str] = set()  # ports that failed the handshake, warned about once
            while True:
                paths = find_ports(self.config.port)
                if not paths and not missing_logged:
                    log.info("crow: not connected (%s); looking every %g s",
                             self.config.port or "no USB device 0483:5740", RETRY)
                    missing_logged = True
                for path in paths:  # the first that answers ^^i is crow
                    try:
                        port, hi = await trio.to_thread.run_sync(connect, path)
                    except (CrowError, OSError) as e:
                        (log.debug if path in refused else log.warning)(
                            "crow: %s: %s; trying again every %g s", path, e, RETRY)
                        refused.add(path)
                        continue
                    missing_logged = False
                    refused.clear()
                    await self._serve(port, hi, path)
                    break
                else:
                    await trio.sleep(RETRY)

    async def _serve(self, port: serial.Serial, hi: Hello, path: str) -> None:
        self.hello = hi
        self.serial_latency = (self.config.serial_latency if self.config.serial_latency is not None
                               else min(hi.latency, self.latency))
        log.info("crow: %s %s on %s, serial latency %.2f ms", hi.version, hi.identity, path,
                 self.serial_latency * 1e3)
        self._config = mapping.for_firmware(self.config, hi.version)
        if self._config != self.config and not self._fallback_told:
            log.warning("crow: %s", fallback_note(hi.version))
            self._fallback_told = True
        self._levels.clear()
        self._errors.clear()
        self.schedule.clear()
        try:
            await self._send(port, mapping.setup_lines(self._config, self.sequencer.clock.tempo, self._gates))
            self._port = port
            async with trio.open_nursery() as n:
                n.start_soon(self._reader, port, n.cancel_scope)
                n.start_soon(self.schedule.run, lambda lines, due: self._send(port, lines, due))
        except* OSError as group:  # pyserial's errors are OSErrors
            log.warning("crow: lost %s (%s); waiting for it to come back", path, group.exceptions[0])
        finally:
            self._port = None
            self.hello = None
            with trio.CancelScope(shield=True), trio.move_on_after(0.5):
                try:  # goodbye: outputs to 0 V, JF to its own mode (fails quietly if crow is gone)
                    await self._send(port, mapping.exit_lines(self._config))
                except OSError:
                    pass
            port.close()

    async def _send(self, port: serial.Serial, lines: list[str], due: float | None = None) -> None:
        """Write ``lines`` (at trio time ``due``: the writer thread sleeps the last few ms, precisely)."""
        deadline = time.perf_counter() + (due - trio.current_time() if due is not None else 0.0)
        await trio.to_thread.run_sync(_write_at, port, wire.frames(lines), deadline)

    async def _reader(self, port: serial.Serial, scope: trio.CancelScope) -> None:
        """Log what crow says; a read error means crow went away, which ends this connection."""
        split = wire.LineSplitter()
        try:
            while True:
                for line in split.feed(await trio.to_thread.run_sync(_read_some, port)):
                    self._heard(line)
        except OSError as e:
            log.warning("crow: gone (%s); waiting for it to come back", e)
            scope.cancel()

    def _heard(self, line: str) -> None:
        try:
            self._line(line)
        except Exception as e:  # costs that line only
            self.failed.raised(repr(line[:40]), e)

    def _line(self, line: str) -> None:
        text, events = wire.split_line(line)
        if wire.is_error(text):
            self._error(text[:200])
        elif text:
            log.info("crow: %s", text[:200])
        for e in events:
            try:
                event = wire.parse_event(e)
            except wire.WireError as err:
                self.ignored(err)
                continue
            log.debug("crow event %s%r", event.name, event.args)

    def _error(self, text: str) -> None:
        """An error line from crow (a line gridtonic sent failed): logged as an error once per
        distinct text and connection, so an error every hit cannot flood the log."""
        if text in self._errors or len(self._errors) >= ERRORS_SHOWN:
            log.debug("crow Lua error: %s", text)
            return
        self._errors.add(text)
        log.error("crow Lua error: %s", text)
        if len(self._errors) == ERRORS_SHOWN:
            log.error("crow: %d different errors; more are logged at debug level only", ERRORS_SHOWN)

    def transport(self, beat: float | None) -> None:
        """Sequencer listener: clock and reset pulses run from the start beat, stop with the transport."""
        self._pulse_from = beat

    async def _pulses(self) -> None:
        """Clock and reset outputs: pulses on the transport's beat grid, scheduled like hits."""
        while any(o.kind in ("clock", "reset") for o in self.config.outputs.values()):
            clock = self.sequencer.clock
            horizon = clock.beat_at(trio.current_time() + LOOKAHEAD)
            if self._pulse_from is not None and horizon > self._pulse_from:
                if self.connected:
                    for b, line in mapping.pulse_beats(self.config, self._pulse_from, horizon):
                        self.schedule.push(self._at(clock.time_at(b)), [line])
                self._pulse_from = horizon
            await trio.sleep(TICK)
