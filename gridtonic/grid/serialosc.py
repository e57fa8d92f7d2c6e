"""A native trio serialosc client: discovery, the ``/sys`` handshake, hot-plug, keys in, LEDs out.

Native rather than pymonome over trio-asyncio: the protocol is a dozen messages, pymonome's
``SerialOsc`` hard-codes port 12002 (tests need one emulator per test on any port), and a second
event loop bridged into trio would sit on the key → LED path for no gain. One UDP socket (bound to
127.0.0.1 unless configured) talks to serialoscd and to the device: serialosc answers discovery
there and the device sends keys and ``/sys`` replies there after ``/sys/host`` and ``/sys/port``.

Hot-plug: ``/serialosc/notify`` is one-shot, so it is re-armed after every add/remove. The first
grid found wins unless ``want`` names one; when it is unplugged the next one found takes over.
A restarted serialoscd announces nothing and the device comes back on a new port with its settings
lost, so while a grid is in use it is asked ``/sys/info`` and serialosc ``/serialosc/list`` every
``RETRY`` s: the same id on a new port, a reply showing our port, prefix or rotation gone, or
``SILENT`` rounds without a word from the device all redo the handshake (the grid repaints).
Nothing here raises on bad input: malformed or unexpected datagrams are dropped with a log line.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

import trio

from gridtonic.grid import udp
from gridtonic.io import osc

log = logging.getLogger(__name__)

DEFAULT_PORT = 12002
PREFIX = "/gridtonic"
RETRY = 1.0  # s between discovery attempts, and between pings of the grid in use
SILENT = 3  # pings without any answer before the grid counts as gone


@dataclass
class Device:
    id: str
    type: str
    port: int
    width: int = 0
    height: int = 0
    rotation: int = 0

    @property
    def ready(self) -> bool:
        return self.width > 0 and self.height > 0


class SerialOsc:
    """The grid in use (``device``) and callbacks for its keys, arrival and departure."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, want: str | None = None,
                 rotation: int | None = None, bind: str = "127.0.0.1", prefix: str = PREFIX):
        self.host, self.port, self.want, self.rotation, self.bind, self.prefix = (
            host, port, want, rotation, bind, prefix)
        self.device: Device | None = None
        self.on_key: Callable[[int, int, bool], None] = lambda x, y, down: None
        self.on_ready: Callable[[Device], None] = lambda device: None
        self.on_gone: Callable[[Device], None] = lambda device: None
        self._sock: socket.socket | None = None
        self._dropped = 0
        self._heard = 0.0  # trio time the device last sent anything

    @property
    def local_port(self) -> int:
        assert self._sock is not None, "not running"
        return self._sock.getsockname()[1]

    def _send(self, port: int, address: str, *args: osc.OscArg) -> None:
        if self._sock is not None:  # a vanished device or daemon: the next discovery round sorts it out
            udp.send(self._sock, osc.message(address, *args), (self.host, port))

    def send(self, address: str, *args: osc.OscArg) -> None:
        """A message to the ready grid under our prefix (dropped when there is none)."""
        if self.device is not None and self.device.ready:
            self._send(self.device.port, self.prefix + address, *args)

    def led_level_map(self, x_off: int, y_off: int, levels: tuple[int, ...]) -> None:
        self.send("/grid/led/level/map", x_off, y_off, *levels)

    def _discover(self) -> None:
        local = self.local_port
        self._send(self.port, "/serialosc/list", "127.0.0.1", local)
        self._send(self.port, "/serialosc/notify", "127.0.0.1", local)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Find a grid and keep one connected until cancelled; reports started once listening."""
        with udp.bind(self.bind) as sock:
            self._sock = sock
            try:
                async with trio.open_nursery() as n:
                    n.start_soon(self._rediscover)
                    task_status.started()
                    while True:
                        data, (_, sender) = await udp.receive(sock)
                        self.handle(data, sender)
            finally:
                self._sock = None

    async def _rediscover(self) -> None:
        """Ask serialosc for grids until one is ready (serialoscd may start after us), then keep
        checking that the one in use still answers on the port we know, with our settings."""
        while True:
            dev = self.device
            if dev is not None and trio.current_time() - self._heard > SILENT * RETRY:
                log.warning("grid %s stopped answering: looking for it again", dev.id)
                self._lose(dev)
                dev = None
            if dev is None or not dev.ready:
                self._discover()
            else:
                self._send(self.port, "/serialosc/list", "127.0.0.1", self.local_port)
                self._send(dev.port, "/sys/info", "127.0.0.1", self.local_port)
            await trio.sleep(RETRY)

    def handle(self, data: bytes, sender: int) -> None:
        """One datagram from UDP port ``sender``."""
        try:
            address, args = osc.parse(data)
            self._dispatch(address, args, sender)
        except (ValueError, TypeError, IndexError) as e:
            self._dropped += 1
            if self._dropped & (self._dropped - 1) == 0:  # 1st, 2nd, 4th, 8th…: a flood stays quiet
                log.warning("ignored a bad datagram from port %d (%d so far): %s", sender, self._dropped, e)

    def _dispatch(self, address: str, args: list, sender: int) -> None:
        dev = self.device
        if dev is not None and sender == dev.port:
            self._heard = trio.current_time()
        if address == self.prefix + "/grid/key":
            if dev is not None and dev.ready and sender == dev.port:
                x, y, s = (int(v) for v in args[:3])
                if 0 <= x < dev.width and 0 <= y < dev.height:
                    self.on_key(x, y, bool(s))
        elif address in ("/serialosc/device", "/serialosc/add"):
            if address == "/serialosc/add":
                self._send(self.port, "/serialosc/notify", "127.0.0.1", self.local_port)
            if len(args) >= 3:
                self._offer(str(args[0]), str(args[1]), int(args[2]))
            elif dev is None:  # a bare add: ask for the list to learn its port
                self._discover()
        elif address == "/serialosc/remove":
            self._send(self.port, "/serialosc/notify", "127.0.0.1", self.local_port)
            if dev is not None and args and str(args[0]) == dev.id:
                log.info("grid %s unplugged", dev.id)
                self._lose(dev)
                self._discover()
        elif address.startswith("/sys/") and dev is not None and sender == dev.port:
            self._sys(dev, address, args)
        else:
            log.debug("ignored %s %r from port %d", address, args, sender)

    def _offer(self, id: str, type: str, port: int) -> None:
        dev = self.device
        if self.want is not None and id != self.want:
            return
        if dev is not None:
            if id != dev.id or port == dev.port:
                return
            log.info("grid %s moved from port %d to %d (serialosc restarted?)", id, dev.port, port)
            self._lose(dev)
        self.device = Device(id, type, port)
        self._heard = trio.current_time()
        local = self.local_port
        self._send(port, "/sys/port", local)
        self._send(port, "/sys/host", "127.0.0.1")
        self._send(port, "/sys/prefix", self.prefix)
        if self.rotation is not None:
            self._send(port, "/sys/rotation", self.rotation)
        self._send(port, "/sys/info", "127.0.0.1", local)

    def _lose(self, dev: Device) -> None:
        self.device = None
        if dev.ready:
            self.on_gone(dev)

    def _sys(self, dev: Device, address: str, args: list) -> None:
        was_ready = dev.ready
        if was_ready and self._forgot(dev, address, args):
            log.info("grid %s lost our settings (%s %r): connecting again", dev.id, address, args)
            self._lose(dev)
            self._offer(dev.id, dev.type, dev.port)
            return
        if address == "/sys/size":
            dev.width, dev.height = int(args[0]), int(args[1])
        elif address == "/sys/rotation":
            dev.rotation = int(args[0])
        elif address == "/sys/id":
            dev.id = str(args[0])
        if dev.ready and not was_ready:
            log.info("grid %s (%s, %dx%d) ready", dev.id, dev.type, dev.width, dev.height)
            self.on_ready(dev)

    def _forgot(self, dev: Device, address: str, args: list) -> bool:
        """An info reply from a ready grid that no longer matches the handshake (a serialoscd
        restart that kept the port, another app, a rotation that swapped the size)."""
        match address:
            case "/sys/port":
                return int(args[0]) != self.local_port
            case "/sys/prefix":
                return str(args[0]) != self.prefix
            case "/sys/rotation":
                return self.rotation is not None and int(args[0]) != self.rotation
            case "/sys/size":
                return (int(args[0]), int(args[1])) != (dev.width, dev.height)
        return False
