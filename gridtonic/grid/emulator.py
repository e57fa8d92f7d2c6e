"""A serialosc daemon and grid devices over real UDP, for tests and for playing without hardware.

It behaves as serialoscd 1.4.7 and serialosc-device do (checked against the real daemon, built from
source in the tests): ``/serialosc/list``, ``/version`` and ``/status`` answered on the discovery
port; ``/serialosc/notify`` registrations kept in a list that each notification empties; the
``/serialosc/device`` type is the id the grid's firmware returned; one UDP port per device
answering ``/sys/info`` (seven replies: ``/sys/size`` again before the rotation of a non-square
grid) and each ``/sys/info/<id|size|host|port|prefix|rotation>``, replying to ``/sys/port`` and
``/sys/host`` at the old and the new address and to ``/sys/prefix`` (a leading ``/`` added),
``/sys/rotation`` taking n/90 and replying size and rotation only when it changed; ``/sys/connect``
when a device starts and ``/sys/disconnect`` when it ends; a device's port, app and settings saved
when it ends cleanly (``config``) and given back when it returns, also to a restarted daemon given
the same ``config``; LED levels passed on as libmonome packs them (low 4 bits in maps, rows and
columns) and messages of the wrong shape (a short level map) dropped. Keys are injected with
``press``; ``leds`` reads back what the grid shows, and ``on_led`` sees every LED message as it
arrives (the latency benchmark's probe). ``/sys/rotation`` turns the app's picture on the device as
libmonome does: ``press`` and ``leds`` are the physical keys, the app sees rotated coordinates and,
at 90 and 270, width and height swapped. ``gridtonic grid-emulator`` runs one in the terminal.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from gridtonic.grid import udp
from gridtonic.io import osc

log = logging.getLogger(__name__)


SHAPES = {"set": 3, "all": 1, "map": 10, "intensity": 1, "level/set": 3, "level/all": 1, "level/map": 66}
SETTINGS = ("port", "app", "prefix", "rotation")  # what serialosc-device saves in <serial>.conf


@dataclass
class EmulatedGrid:
    id: str = "m0000001"
    type: str = ""  # what the firmware's id query returns; serialosc's /serialosc/device type
    width: int = 16
    height: int = 8
    prefix: str = "/monome"
    app: tuple[str, int] = ("127.0.0.1", 8000)
    rotation: int = 0
    leds: list[int] = field(default_factory=list)
    led_messages: int = 0
    on_led: Callable[[str], None] = lambda address: None
    port: int = 0
    clean: bool = True  # ends with /sys/disconnect (not killed)
    _sock: socket.socket | None = None

    def __post_init__(self) -> None:
        self.leds = [0] * (self.width * self.height)
        self.type = self.type or self.id

    def level(self, x: int, y: int) -> int:
        return self.leds[y * self.width + x]

    def rows(self) -> list[list[int]]:
        return [self.leds[y * self.width:(y + 1) * self.width] for y in range(self.height)]

    @property
    def size(self) -> tuple[int, int]:
        """Width and height as the app sees them (``/sys/size``)."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)

    def physical(self, x: int, y: int) -> tuple[int, int]:
        """The physical key under the app's (x, y)."""
        w, h = self.size
        match self.rotation:
            case 90:
                return y, w - 1 - x
            case 180:
                return w - 1 - x, h - 1 - y
            case 270:
                return h - 1 - y, x
        return x, y

    def seen(self, x: int, y: int) -> tuple[int, int]:
        """The app's coordinates of physical key (x, y) (``physical`` inverted)."""
        w, h = self.size
        match self.rotation:
            case 90:
                return w - 1 - y, x
            case 180:
                return w - 1 - x, h - 1 - y
            case 270:
                return y, h - 1 - x
        return x, y

    def view(self) -> tuple[int, ...]:
        """The LEDs in the app's coordinates, row by row (what it painted, unrotated)."""
        w, h = self.size
        return tuple(self.level(*self.physical(x, y)) for y in range(h) for x in range(w))

    def press(self, x: int, y: int, down: bool) -> None:
        """A key event on physical key (x, y), sent to the app the way the grid would send it."""
        self.send(self.prefix + "/grid/key", *self.seen(x, y), int(down))

    def send(self, address: str, *args: osc.OscArg) -> None:
        """Any message to the app from this device's port (tests send malformed ones)."""
        if self._sock is not None:
            udp.send(self._sock, osc.message(address, *args), self.app)

    def _set(self, x: int, y: int, level: int) -> None:
        """LED (x, y) in the app's coordinates."""
        w, h = self.size
        if 0 <= x < w and 0 <= y < h:
            px, py = self.physical(x, y)
            self.leds[py * self.width + px] = level & 0xFF  # OSC int32 → libmonome's uint8_t

    def _bits(self, x0: int, y: int, masks: list[int]) -> None:
        for i, m in enumerate(masks):
            for b in range(8):
                self._set(x0 + 8 * i + b, y, 15 if int(m) >> b & 1 else 0)

    async def run(self, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """The device process: says ``/sys/connect`` to its app at start; cancelled, it ends the
        way ``ended`` says (``clean``: ``/sys/disconnect``, as a pulled cable or a stopped daemon)."""
        with udp.bind("127.0.0.1", self.port) as sock:
            self._sock = sock
            self.port = sock.getsockname()[1]
            task_status.started(self.port)
            self.send("/sys/connect")
            try:
                while True:
                    data, _ = await udp.receive(sock)
                    try:
                        self.handle(*osc.parse(data))
                    except (ValueError, TypeError, IndexError, OverflowError) as e:
                        log.warning("grid %s ignored a bad message: %s", self.id, e)
            finally:
                if self.clean:
                    self.send("/sys/disconnect")
                self._sock = None

    def _reply(self, prop: str, to: tuple[str, int]) -> None:
        """``/sys/<prop>`` to ``to``, as serialosc-device's info_reply_<prop> sends it."""
        value = {"id": (self.id,), "size": self.size, "host": (self.app[0],), "port": (self.app[1],),
                 "prefix": (self.prefix,), "rotation": (self.rotation,)}[prop]
        if prop == "rotation" and self.width != self.height:
            self._reply("size", to)
        udp.send(self._sock, osc.message(f"/sys/{prop}", *value), to)

    def _info(self, what: str, args: list) -> None:
        props = ("id", "size", "host", "port", "prefix", "rotation")
        if what not in ("", *props):
            return
        to = (str(args[0]), int(args[1])) if len(args) == 2 else (self.app[0], int(args[0])) if args else (
            self.app)
        for prop in props if what == "" else (what,):
            self._reply(prop, to)

    def handle(self, address: str, args: list) -> None:
        if address.startswith("/sys/"):
            self._sys(address, args)
            return
        if not address.startswith(self.prefix + "/grid/led/"):
            log.debug("grid %s ignored %s", self.id, address)
            return
        cmd = address[len(self.prefix) + len("/grid/led/"):]
        if len(args) != SHAPES.get(cmd, len(args)) or not all(isinstance(v, int) for v in args):
            log.debug("grid %s dropped %s with %d arguments", self.id, address, len(args))
            return  # liblo matches a method by its type tags: any other shape is no message
        self.led_messages += 1
        a = list(args)
        if cmd == "level/map":
            for i, v in enumerate(a[2:66]):
                self._set(a[0] + i % 8, a[1] + i // 8, v & 15)  # packed two a byte
        elif cmd == "level/set":
            self._set(a[0], a[1], a[2])
        elif cmd in ("level/all", "all"):
            self.leds = [min(max(a[0] if cmd == "level/all" else 15 * a[0], 0), 15)] * len(self.leds)
        elif cmd == "level/row":
            for i, v in enumerate(a[2:]):
                self._set(a[0] + i, a[1], v & 15)
        elif cmd == "level/col":
            for i, v in enumerate(a[2:]):
                self._set(a[0], a[1] + i, v & 15)
        elif cmd == "set":
            self._set(a[0], a[1], 15 * a[2])
        elif cmd == "map":
            for r, m in enumerate(a[2:10]):
                self._bits(a[0], a[1] + r, [m])
        elif cmd == "row":
            self._bits(a[0], a[1], a[2:])
        elif cmd == "col":
            for i, m in enumerate(a[2:]):
                for b in range(8):
                    self._set(a[0], a[1] + 8 * i + b, 15 if m >> b & 1 else 0)
        elif cmd != "intensity":
            self.led_messages -= 1
            log.debug("grid %s ignored %s", self.id, address)
            return
        self.on_led(cmd)

    def _sys(self, address: str, args: list) -> None:
        if address in ("/sys/port", "/sys/host"):
            old = self.app
            self.app = (old[0], int(args[0])) if address == "/sys/port" else (str(args[0]), old[1])
            self._reply(address[5:], old)
            self._reply(address[5:], self.app)
        elif address == "/sys/prefix":
            self.prefix = str(args[0]) if str(args[0]).startswith("/") else "/" + str(args[0])
            self._reply("prefix", self.app)
        elif address == "/sys/rotation":
            turn = int(args[0]) // 90 & 3  # libmonome: n / 90, two bits
            if turn * 90 != self.rotation:
                self.rotation = turn * 90
                self._reply("rotation", self.app)
        elif address == "/sys/info" or address.startswith("/sys/info/"):
            self._info(address[len("/sys/info/"):], args)

    def settings(self) -> dict:
        return {k: getattr(self, k) for k in SETTINGS}


class SerialOscEmulator:
    """serialoscd: devices plugged and unplugged at will, discovery on ``port`` (0: any free one)."""

    VERSION = ("1.4.7", "emulated")

    def __init__(self, port: int = 0, config: dict[str, dict] | None = None):
        self.port = port
        self.config = {} if config is None else config  # serialoscd -c: each grid's saved settings
        self.grids: dict[str, EmulatedGrid] = {}
        self._scopes: dict[str, trio.CancelScope] = {}
        self._notify: list[tuple[str, int]] = []
        self._sock: socket.socket | None = None
        self._nursery: trio.Nursery | None = None
        self._closed = trio.Event()

    async def stop(self, clean: bool = False) -> None:
        """Exit like a killed serialoscd (``clean``: stopped, so each device says ``/sys/disconnect``
        and saves its settings, as with SIGTERM); returns once every port is closed (so a new one
        can take the discovery port) and ``run`` has returned."""
        for g in self.grids.values():
            g.clean = clean
            if clean:
                self.config[g.id] = g.settings()
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
            await self._closed.wait()

    async def run(self, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        self._closed = trio.Event()
        try:
            with udp.bind("127.0.0.1", self.port) as sock:
                self._sock = sock
                self.port = sock.getsockname()[1]
                async with trio.open_nursery() as n:
                    self._nursery = n
                    task_status.started(self.port)
                    while True:
                        data, _ = await udp.receive(sock)
                        try:
                            self.handle(*osc.parse(data))
                        except (ValueError, TypeError, IndexError, OverflowError) as e:
                            log.warning("serialosc emulator ignored a bad message: %s", e)
        finally:
            self._closed.set()

    def handle(self, address: str, args: list) -> None:
        if len(args) != 2 or not (isinstance(args[0], str) and isinstance(args[1], int)):
            return  # every discovery method takes "si"
        to = (args[0], args[1])
        if address == "/serialosc/list":
            for g in self.grids.values():
                udp.send(self._sock, osc.message("/serialosc/device", g.id, g.type, g.port), to)
        elif address == "/serialosc/notify":
            self._notify.append(to)  # a list: the same app twice is told twice
        elif address == "/serialosc/version":
            udp.send(self._sock, osc.message("/serialosc/version", *self.VERSION), to)
        elif address == "/serialosc/status":
            udp.send(self._sock, osc.message("/serialosc/status", 1), to)

    def _announce(self, address: str, grid: EmulatedGrid) -> None:
        targets, self._notify = self._notify, []  # every registration serves one notification
        for target in targets:
            udp.send(self._sock, osc.message(address, grid.id, grid.type, grid.port), target)

    async def plug(self, grid: EmulatedGrid) -> EmulatedGrid:
        """Connect ``grid`` (its saved port and settings when it has been here before, else its own
        port) and tell whoever asked to be notified."""
        assert self._nursery is not None, "run() first"
        grid.leds = [0] * (grid.width * grid.height)  # a grid powers up dark
        for k, v in self.config.get(grid.id, {}).items():
            setattr(grid, k, v)
        grid.clean = True
        scope = trio.CancelScope()

        async def device(task_status: trio.TaskStatus[int]) -> None:
            with scope:
                await grid.run(task_status)

        await self._nursery.start(device)
        self.grids[grid.id] = grid
        self._scopes[grid.id] = scope
        self._announce("/serialosc/add", grid)
        return grid

    def unplug(self, id: str) -> EmulatedGrid:
        """Disconnect grid ``id``: it says ``/sys/disconnect`` and saves its settings, its port
        closes and the notified hear ``/serialosc/remove``."""
        grid = self.grids.pop(id)
        self.config[id] = grid.settings()
        self._scopes.pop(id).cancel()
        self._announce("/serialosc/remove", grid)
        return grid


SHADES = "·.:-=+*#%@"  # off, then brighter


def picture(grid: EmulatedGrid) -> str:
    """The grid's LEDs as text, one character a key (brighter, denser)."""
    return "\n".join("".join(SHADES[v * 9 // 15] for v in row) for row in grid.rows())


LEGEND = (f"LEDs: {SHADES[0]} off, then {' '.join(SHADES[1:])} brighter (a step, a playhead, a held key)",
          "keys: type x y and Enter to tap one (x 0 left, y 0 top), u unplugs the grid, p plugs it, "
          "Ctrl-C quits")
ALT_SCREEN, MAIN_SCREEN = "\x1b[?1049h", "\x1b[?1049l"  # the terminal's second screen, as top and less use


def frame(grid: EmulatedGrid, head: str) -> str:
    """One redraw in place: from the top left, each line cleared to its end and the rest of the
    screen below, so frames overwrite each other and never scroll into the terminal's history."""
    lines = [head, picture(grid), *LEGEND]
    return "\x1b[H" + "\x1b[K\n".join("\n".join(lines).splitlines()) + "\x1b[K\n\x1b[J> "


async def _console(emu: SerialOscEmulator, grid: EmulatedGrid) -> None:
    """Show the LEDs as they change; stdin lines ``x y`` tap a key, ``u`` unplugs, ``p`` plugs. In a
    terminal it draws on the second screen (like top) and gives the first back when it ends."""
    tty = sys.stdout.isatty()

    async def show() -> None:
        last = ""
        while True:
            now = picture(grid)
            if now != last:
                head = f"{grid.id} on port {grid.port}" + ("" if grid.id in emu.grids else " (unplugged)")
                sys.stdout.write(frame(grid, head) if tty else f"{head}\n{now}\n")
                sys.stdout.flush()
                last = now
            await trio.sleep(0.05)

    if tty:
        sys.stdout.write(ALT_SCREEN)
    else:
        print("\n".join(LEGEND), flush=True)
    try:
        async with trio.open_nursery() as n:
            n.start_soon(show)
            stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
            buffer = b""
            while data := await stdin.receive_some():
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    words = line.decode(errors="replace").split()
                    if words == ["u"] and grid.id in emu.grids:
                        emu.unplug(grid.id)
                    elif words == ["p"] and grid.id not in emu.grids:
                        await emu.plug(grid)
                    elif len(words) == 2 and all(w.isdigit() and len(w) < 4 for w in words):
                        x, y = int(words[0]), int(words[1])
                        if x < grid.width and y < grid.height:  # a key that is there, nothing else
                            grid.press(x, y, True)
                            grid.press(x, y, False)
            n.cancel_scope.cancel()
    finally:
        if tty:
            sys.stdout.write(MAIN_SCREEN)
            sys.stdout.flush()


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grid-emulator", help="serialosc with one grid, in the terminal (no hardware)")
    p.add_argument("--port", type=int, default=12002, help="discovery port (default %(default)s)")
    p.add_argument("--size", choices=("16x8", "8x8", "16x16"), default="16x8")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    w, h = (int(v) for v in args.size.split("x"))

    async def main() -> None:
        async with trio.open_nursery() as n:
            emu = SerialOscEmulator(args.port)
            await n.start(emu.run)
            grid = await emu.plug(EmulatedGrid(width=w, height=h))
            await _console(emu, grid)
            n.cancel_scope.cancel()

    try:
        trio.run(main)
    except KeyboardInterrupt:  # Ctrl-C is how it ends
        pass
    except BaseExceptionGroup as group:  # Ctrl-C as it arrived inside the nursery
        if group.split(KeyboardInterrupt)[1] is not None:
            raise
    return 0
