"""Novation Launchpads over MIDI: keys into a surface, its frames out as RGB SysEx. Thin glue.

Every look (once a second) lists the MIDI ports; each Launchpad found is opened, asked who it is
(device inquiry; the port name decides when it does not answer), asked its mode, put in programmer
mode and cleared. One Launchpad plays the 8×8 layout with pages, two side by side the 16×8 one;
plugging or unplugging one changes the layout and repaints, never stops the music. Whatever way
gridtonic ends (a quit, Ctrl-C, a crash elsewhere), each Launchpad gets its LEDs cleared and its
previous mode back. Bytes from the device that mean nothing here are dropped with a debug line.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import rtmidi
import trio

from gridtonic.core import layout
from gridtonic.core.frame import Frame
from gridtonic.core.midiparse import SYSEX, Parser
from gridtonic.core.surface import Surface
from gridtonic.io import midiports
from gridtonic.io.tasks import Dropped
from gridtonic.launchpad import models, sysex
from gridtonic.launchpad.models import Found, Model

log = logging.getLogger(__name__)

REPLY_WAIT = 0.5  # s for an inquiry or mode read-back; a unit that stays silent is judged by its name
MAX_UNITS = 2
DRAIN = 0.1  # s for the last messages to leave before a port closes (a few JACK periods)
LAYOUTS = {1: "launchpad-8x8.toml", 2: "two-launchpads-16x8.toml"}
T = TypeVar("T")


@dataclass
class LaunchpadConfig:
    want: tuple[str, ...] = ()  # port name parts, left to right; (): every Launchpad found
    layout: Path | None = None  # None: the built-in layout for one or two Launchpads
    api: str = "jack"  # the MIDI system, as --midi-api resolves (midiports.resolve)


def builtin(units: int) -> layout.Layout:
    return layout.load(layout.LAYOUT_DIR / LAYOUTS[min(max(units, 1), MAX_UNITS)])


@dataclass(eq=False)
class Unit:
    """One Launchpad: its ports, what it answered, and the colours its LEDs show."""

    found: Found
    model: Model | None = None
    previous: int | None = None  # the gen-3 mode before ours
    ready: bool = False
    sent: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # LED index → colour shown
    output: Any = None
    input: Any = None
    parser: Parser = field(default_factory=Parser)
    stamps: midiports.Stamps = field(default_factory=midiports.Stamps)
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    question: Callable[[tuple[int, ...]], Any] | None = None  # reads the reply being waited for
    answer: Any = None
    answered: trio.Event = field(default_factory=trio.Event)

    def send(self, messages: list[list[int]]) -> None:
        for m in messages:
            try:
                self.output.send_message(m)
            except (OSError, ValueError, rtmidi.RtMidiError) as e:
                log.warning("%s: %s", self.found.output, e)
                return


class Launchpads:
    """Every Launchpad found, driving one surface."""

    def __init__(self, surface: Surface, config: LaunchpadConfig):
        self.surface = surface
        self.config = config
        self.units: dict[Found, Unit] = {}  # open, by their ports
        self.order: list[Unit] = []  # ready ones, left to right: what the surface is drawn on
        self._found: list[Found] = []
        self._custom = layout.load(config.layout) if config.layout else None
        self._show: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None
        self._missing = False
        self.failed = Dropped(log, "Launchpads")  # messages a handler raised on (a bug: never seen)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Look for Launchpads until cancelled; reports started after the first look."""
        async with trio.open_nursery() as n:
            self._nursery = n
            n.start_soon(self._read)
            await self._look()
            task_status.started()
            while True:
                await trio.sleep(midiports.WATCH)
                await self._look()

    async def _look(self) -> None:
        api = self.config.api
        try:
            ins = await trio.to_thread.run_sync(midiports.names, "input", api)
            outs = await trio.to_thread.run_sync(midiports.names, "output", api)
        except midiports.MidiPortError as e:
            if not self._missing:
                log.warning("Launchpads: %s; looking again every %g s", e, midiports.WATCH)
            self._missing = True
            return
        self._missing = False
        self._found = models.pair(ins, outs, self.config.want)
        for f, unit in list(self.units.items()):
            if f not in self._found:
                log.info("%s went away", f.output)
                unit.scope.cancel()
        for f in self._found:
            if f not in self.units:
                unit = self.units[f] = Unit(f, f.model)
                assert self._nursery is not None
                self._nursery.start_soon(self._connect, unit)

    async def _connect(self, unit: Unit) -> None:
        """Open a unit, greet it and keep it until it goes away; then clear it and give its mode back."""
        f, api = unit.found, self.config.api
        with unit.scope:
            try:
                unit.output = await trio.to_thread.run_sync(midiports.open_output, f.output, api)
                unit.input = await trio.to_thread.run_sync(midiports.open_input, f.input, api)
                await self._greet(unit)
                if unit.model is None:
                    log.error("%s is not a Launchpad gridtonic knows (no inquiry reply); left alone", f.input)
                    await trio.sleep_forever()
                unit.ready = True
                self._relayout()
                await trio.sleep_forever()
            except (ValueError, OSError, rtmidi.RtMidiError) as e:  # it went between listing and opening
                log.warning("cannot open %s / %s: %s", f.input, f.output, e)
            finally:  # on unplugging, quitting, Ctrl-C and crashes alike
                self.units.pop(f, None)
                if unit.ready:
                    unit.ready = False
                    unit.send(sysex.restore(unit.model, unit.previous))
                    self._relayout()
                    with trio.CancelScope(shield=True):  # rtmidi's JACK port drops what it has not
                        await trio.sleep(DRAIN)  # handed to JACK yet when it is closed
                for port in (unit.input, unit.output):
                    if port is not None:
                        await midiports.release(port)

    async def _greet(self, unit: Unit) -> None:
        reply = await self._ask(unit, list(models.INQUIRY), models.from_inquiry)
        if reply is not None and reply is not unit.model:
            if unit.model is not None:
                log.info("%s answers as a %s", unit.found.input, reply.name)
            unit.model = reply
        m = unit.model
        if m is None:
            return
        if (query := sysex.mode_query(m)) is not None:
            unit.previous = await self._ask(unit, query, lambda msg: sysex.mode_reply(m, msg))
        unit.send(sysex.start(m))
        unit.sent = {i: (0, 0, 0) for _, i in models.leds(m)}
        log.info("%s on %s", m.name, unit.found.output)

    async def _ask(self, unit: Unit, message: list[int],
                   read: Callable[[tuple[int, ...]], T | None]) -> T | None:
        """Send ``message`` and wait a little for the SysEx reply ``read`` understands."""
        unit.question, unit.answer, unit.answered = read, None, trio.Event()
        unit.send([message])
        with trio.move_on_after(REPLY_WAIT):
            await unit.answered.wait()
        unit.question = None
        return unit.answer

    async def _read(self) -> None:
        """Poll every open unit's input, as MIDI in does (``midiports.drain``: no rtmidi callback)."""
        while True:
            for unit in list(self.units.values()):
                if unit.input is not None:
                    for _, data in midiports.drain(unit.input, unit.stamps):
                        for message in unit.parser.feed(data):
                            try:
                                self._message(unit, message)
                            except Exception as e:  # costs that message only
                                self.failed.raised(bytes(message[:8]).hex(" "), e)
            await trio.sleep(midiports.POLL)

    def _message(self, unit: Unit, message: tuple[int, ...]) -> None:
        if message[0] == SYSEX:
            if unit.question is not None and (answer := unit.question(message)) is not None:
                unit.answer = answer
                unit.answered.set()
            else:
                log.debug("%s: SysEx ignored: %s", unit.found.input, bytes(message).hex(" "))
            return
        key = models.key(unit.model, message) if unit.ready and unit in self.order else None
        if key is None:
            log.debug("%s: ignored %s", unit.found.input, bytes(message).hex(" "))
            return
        local, down = key
        self.surface.key(*models.place(self.order.index(unit), len(self.order), local), down)

    def _relayout(self) -> None:
        """The ready units changed: the layout for their number, and a new LED task drawing on them."""
        order = [u for f in self._found if (u := self.units.get(f)) is not None and u.ready]
        if len(order) > MAX_UNITS:
            log.warning("%d Launchpads: using the first %d", len(order), MAX_UNITS)
        order = order[:MAX_UNITS]
        if order == self.order:
            return
        if self._show is not None:
            self._show.cancel()
        self.order = order
        if not order:
            return
        lay = self._layout(len(order))
        self.surface.use_layout(lay)
        self._show = trio.CancelScope()
        assert self._nursery is not None
        self._nursery.start_soon(self._draw, lay, list(order), self._show)

    def _layout(self, units: int) -> layout.Layout:
        lay = self._custom
        if lay is not None and (lay.width, lay.height) == models.size(units):
            return lay
        if lay is not None:
            w, h = models.size(units)
            log.error("layout %s is %dx%d but %d Launchpad(s) make %dx%d: using the built-in one",
                      lay.name, lay.width, lay.height, units, w, h)
        return builtin(units)

    async def _draw(self, lay: layout.Layout, order: list[Unit], scope: trio.CancelScope) -> None:
        table = layout.colours(lay)

        def send(frame: Frame) -> None:
            for i, unit in enumerate(order):
                if not unit.ready:  # going: its LEDs were handed back already
                    continue
                now = models.unit_colours(unit.model, i, len(order), frame, lay.width, table)
                changed = [(k, c) for k, c in now.items() if unit.sent.get(k) != c]
                if changed:
                    unit.send(sysex.leds(unit.model, changed))
                    unit.sent.update(changed)

        with scope:
            await self.surface.show(send)


def listing(api: str = "jack") -> list[tuple[str, str]]:
    """("Launchpad", model and ports) rows for ``gridtonic devices``."""
    try:
        found = models.pair(midiports.names("input", api), midiports.names("output", api))
    except midiports.MidiPortError as e:
        return [("Launchpad", str(e))]
    rows = [("Launchpad", f"{f.model.name if f.model else '?'}: in {f.input}, out {f.output}") for f in found]
    return rows or [("Launchpad", "none")]


def add_arguments(run: argparse.ArgumentParser) -> None:
    """``gridtonic run``'s Launchpad options."""
    g = run.add_argument_group("Novation Launchpad (X, Mini MK3, Pro MK3; MK2, S, Mini)")
    g.add_argument("--no-launchpad", action="store_true", help="do not look for Launchpads")
    g.add_argument("--launchpad", metavar="PORT", action="append", default=[],
                   help="use the Launchpad on this port (name part); twice: left, then right")
    g.add_argument("--launchpad-layout", type=Path,
                   help="layout TOML (default: layouts/launchpad-8x8.toml, two-launchpads-16x8.toml)")


def config_from_args(args: argparse.Namespace) -> LaunchpadConfig | None:
    if args.no_launchpad:
        return None
    if args.launchpad_layout is not None:
        layout.load(args.launchpad_layout)  # a bad file stops here with one line, before anything starts
    api = midiports.resolve(getattr(args, "midi_api", midiports.AUTO))[0]  # the one MIDI and clock use
    return LaunchpadConfig(tuple(args.launchpad), args.launchpad_layout, api)
