"""An emulated Launchpad on real JACK MIDI ports: what the Launchpad tests and the latency bench
play against.

It shows the ports the model shows (an X: "LPX DAW" and "LPX MIDI", each an In and an Out) and on
the interface the model is played on it speaks the model's messages: answers the device inquiry and
the gen-3 mode read-back, takes programmer mode, lights LEDs from SysEx (RGB, static, flashing and
pulsing specs; MK2's RGB and all-LEDs) or from notes and CCs (palette colours on channel 1, flashing
on 2, pulsing on 3; S/Mini red/green velocities). ``press`` plays a key, ``colour`` reads an LED;
``lit`` plugs it in with every LED it has lit and flashing (``models.every_led``: also those no
layout reaches), as another program may leave it.
What arrives on the other interfaces is kept in ``elsewhere``; plain notes and CCs on a model that
takes SysEx are counted in ``notes``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from gridtonic.core.midiparse import CONTROL_CHANGE, NOTE_OFF, NOTE_ON, SYSEX, SYSEX_END, Parser
from gridtonic.io import midiports
from gridtonic.launchpad import models
from gridtonic.launchpad.models import NOVATION, Local, Model
from gridtonic.launchpad.sysex import GEN3_LEDS, GEN3_MODE, LIVE, MK2_ALL, MK2_LAYOUT, MK2_RGB

log = logging.getLogger(__name__)

INTERFACES = {
    "Launchpad X": ("LPX DAW", "LPX MIDI"),
    "Launchpad Mini MK3": ("LPMiniMK3 DAW", "LPMiniMK3 MIDI"),
    "Launchpad Pro MK3": ("LPProMK3 MIDI", "LPProMK3 DIN", "LPProMK3 DAW"),
}
SPEC_LENGTH = {0: 2, 1: 3, 2: 2, 3: 4}  # gen-3 LED spec type → bytes after the type
Colour = tuple[int, ...]  # RGB in the model's range (0–127, 0–63), or S/Mini (red, green) 0–3


@dataclass(eq=False)
class EmulatedLaunchpad:
    model: Model = models.X
    client: str = ""  # JACK client name; default: the model's name
    mode: int = LIVE  # gen-3: 0 Live, 1 programmer; MK2: its layout; S: 1 once in the X-Y layout
    lit: Colour | None = None  # every LED's colour when plugged in (flashing); None: all dark
    leds: dict[int, Colour] = field(default_factory=dict)  # LED index → colour ((0,) * n when off)
    moving: set[int] = field(default_factory=set)  # LEDs flashing or pulsing
    notes: int = 0  # note and CC messages received on a model that takes SysEx for its LEDs
    bad: int = 0  # SysEx it could not read
    elsewhere: list[list[int]] = field(default_factory=list)  # what arrived on the other interfaces
    on_message: Callable[[float, list[int]], None] = lambda t, data: None  # every message on the
    # interface in use, with its arrival time (trio time, from rtmidi's stamps: not the poll's)
    _out: midiports.Port = None
    _scope: trio.CancelScope | None = None

    @property
    def interfaces(self) -> tuple[str, ...]:
        return INTERFACES.get(self.model.name, (f"{self.model.name} MIDI 1",))

    @property
    def used(self) -> str:
        """The interface gridtonic should play it on."""
        hint = self.model.interface
        return next((i for i in self.interfaces if hint and hint == i.lower()), self.interfaces[0])

    def colour(self, local: Local) -> Colour:
        i = models.led(self.model, local)
        return self.leds.get(i, self._off()) if i is not None else self._off()

    def _off(self) -> Colour:
        return (0, 0) if self.model.kind == "s" else (0, 0, 0)

    def press(self, local: Local, down: bool) -> None:
        self.send(models.press(self.model, local, down))

    def send(self, data: list[int]) -> None:
        """Bytes from the device to the host (a key, or garbage)."""
        if self._out is not None:
            self._out.send_message(data)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Plugged in: the ports exist (Live mode, the LEDs dark or ``lit``) until cancelled or unplugged."""
        self.leds = dict.fromkeys(models.every_led(self.model), self.lit) if self.lit else {}
        self.moving, self.mode = set(self.leds), LIVE
        ports: list[midiports.Port] = []
        inputs: list[tuple[str, midiports.Port, midiports.Stamps]] = []  # polled, as gridtonic's are
        client = self.client or self.model.name
        try:
            with trio.CancelScope() as self._scope:
                for iface in self.interfaces:  # opened as gridtonic opens its own (midiports.change)
                    out = await trio.to_thread.run_sync(
                        midiports.open_output, midiports.VIRTUAL, "jack", client, f"{iface} Out")
                    ports.append(out)
                    inp = await trio.to_thread.run_sync(
                        midiports.open_input, midiports.VIRTUAL, "jack", client, f"{iface} In")
                    ports.append(inp)
                    inputs.append((iface, inp, midiports.Stamps()))
                    if iface == self.used:
                        self._out = out
                task_status.started()
                parser = Parser()
                while True:
                    for iface, inp, stamps in inputs:
                        for t, data in midiports.drain(inp, stamps):
                            self._arrived(iface, t, data, parser)
                    await trio.sleep(midiports.POLL)
        finally:
            self._out = None
            for port in ports:
                await midiports.release(port)

    def _arrived(self, iface: str, t: float, data: list[int], parser: Parser) -> None:
        if iface != self.used:
            self.elsewhere.append(data)
            return
        self.on_message(t, data)
        for message in parser.feed(data):
            self.handle(message)

    def unplug(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    # -- what the host sends ---------------------------------------------------------------------------

    def handle(self, m: tuple[int, ...]) -> None:
        if m[0] == SYSEX:
            self._sysex(m[1:-1])
            return
        kind, channel = m[0] & 0xF0, m[0] & 0x0F
        if kind not in (NOTE_ON, NOTE_OFF, CONTROL_CHANGE) or len(m) != 3:
            return
        if self.model.kind == "s":
            self._s(kind, m[1], m[2])
            return
        self.notes += 1
        off = kind == NOTE_OFF or m[2] == 0
        self.leds[m[1]] = (0, 0, 0) if off else ("palette", m[2])  # type: ignore[assignment]
        (self.moving.add if channel in (1, 2) and not off else self.moving.discard)(m[1])

    def _s(self, kind: int, number: int, velocity: int) -> None:
        if kind == CONTROL_CHANGE and number == 0:
            self.leds, self.mode = {}, velocity  # B0 00 00 resets, B0 00 01 picks the X-Y layout
        elif kind == CONTROL_CHANGE or kind == NOTE_ON:
            self.leds[number] = (velocity & 3, velocity >> 4 & 3)

    def _sysex(self, body: tuple[int, ...]) -> None:
        if body == (0x7E, 0x7F, 0x06, 0x01):
            if self.model.family is not None:
                self.send([SYSEX, 0x7E, 0x00, 0x06, 0x02, *NOVATION, *self.model.family, 0, 0, 0, 1, 0, 0,
                           SYSEX_END])
            return
        if body[:5] != (*NOVATION, 0x02, self.model.device) or len(body) < 6:
            self.bad += 1
            return
        command, data = body[5], body[6:]
        try:
            if self.model.kind == "gen3":
                self._gen3(command, data)
            else:
                self._mk2(command, data)
        except (IndexError, ValueError):
            self.bad += 1

    def _gen3(self, command: int, data: tuple[int, ...]) -> None:
        if command == GEN3_MODE and not data:
            self.send([SYSEX, *NOVATION, 0x02, self.model.device, GEN3_MODE, self.mode, SYSEX_END])
        elif command == GEN3_MODE:
            self.mode = data[0]
        elif command == GEN3_LEDS:
            k = 0
            while k < len(data):
                kind, index = data[k], data[k + 1]
                args = data[k + 2:k + 1 + SPEC_LENGTH[kind]]
                if len(args) != SPEC_LENGTH[kind] - 1:
                    raise ValueError("short spec")
                off = kind == 0 and args == (0,)
                self.leds[index] = tuple(args) if kind == 3 else (0, 0, 0) if off else ("palette", *args)
                (self.moving.add if kind in (1, 2) else self.moving.discard)(index)
                k += 1 + SPEC_LENGTH[kind]
        else:
            self.bad += 1

    def _mk2(self, command: int, data: tuple[int, ...]) -> None:
        if command == MK2_RGB:
            if len(data) % 4:
                raise ValueError("short spec")
            for k in range(0, len(data), 4):
                self.leds[data[k]] = tuple(data[k + 1:k + 4])
        elif command == MK2_ALL:
            self.leds = {i: (0, 0, 0) for _, i in models.leds(self.model)} if data[0] == 0 else {}
        elif command == MK2_LAYOUT:
            self.mode = data[0]
        else:
            self.bad += 1
