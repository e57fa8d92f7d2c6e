"""A native trio serialosc client: discovery, the ``/sys`` handshake, hot-plug, keys in, LEDs out.

Native rather than pymonome over trio-asyncio: the protocol is a dozen messages, pymonome's
``SerialOsc`` hard-codes port 12002 (tests need one emulator per test on any port), and a second
event loop bridged into trio would sit on the key → LED path for no gain. One UDP socket (bound to
127.0.0.1 unless configured) talks to serialoscd and to the device: serialosc answers discovery
there and the device sends keys and ``/sys`` replies there after ``/sys/host`` and ``/sys/port``.

Hot-plug: serialoscd keeps ``/serialosc/notify`` registrations in a list, in memory only, and
empties it after each notification it sends, so one registration is kept outstanding: sent again
after every add/remove, and again after the daemon may have lost it (it stopped answering
``/serialosc/version`` for ``SILENT`` rounds; a device started pointed at us, ``/sys/connect``; the
grid in use went silent, turned up on another port or forgot our settings) — never on a timer,
which stacked one a second. A registration made while the old one was still there yields the next
notification twice: the copy (the same message within ``DUPLICATE`` s) is ignored, so there is
never more than one extra, and it is gone after one notification.

The first grid found wins unless ``want`` names one; when it is unplugged the next one found takes
over. A device process says ``/sys/disconnect`` when its grid goes away and ``/sys/connect`` when
it starts already pointed at us (serialosc-device saves the app's host, port, prefix and rotation
when its grid goes away, so a replug or a restarted daemon brings it back on the same port, dark):
the first lets the grid go, the second redoes the handshake so the whole frame is painted again.
While a grid is in use it is asked ``/sys/info`` and serialosc ``/serialosc/list`` every ``RETRY``
s: the same id on a new port, a reply showing our port, prefix or rotation gone, or ``SILENT``
rounds without a word from the device also redo it.

Any local process can send to our port, so nothing here raises on bad input: every argument is
checked (``osc.check``) before use and a malformed, mistyped or out-of-range datagram is dropped
with a rate-limited log line. Announcements (``/serialosc/device``, ``/add``, ``/remove``) count
only from the daemon's port and keys and ``/sys`` replies only from the device's, so a spoofed
``/serialosc/device`` from elsewhere never becomes the grid.
"""

from __future__ import annotations

import logging
import math
import socket
from collections.abc import Callable
from dataclasses import dataclass

import trio

from gridtonic.grid import udp
from gridtonic.io import osc
from gridtonic.io.tasks import Dropped

log = logging.getLogger(__name__)

DEFAULT_PORT = 12002
PREFIX = "/gridtonic"
RETRY = 1.0  # s between discovery attempts, and between pings of the grid in use
SILENT = 3  # pings without any answer before the grid counts as gone
DUPLICATE = 0.1  # s within which the same notification again is a second registration's copy
MAX_SIDE = 256  # keys on a side: monome's largest grid has 16, serialosc's protocol allows 255


@dataclass
class Device:
    id: str
    type: str
    port: int
    width: int = 0
    height: int = 0
    rotation: int = 0
    confirmed: bool = False  # an info reply showed our port: the handshake took

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
        self.dropped = Dropped(log, "serialosc")  # malformed or unexpected datagrams
        self.failed = Dropped(log, "serialosc")  # datagrams a handler raised on (a bug)
        self._heard = 0.0  # trio time the device last sent anything
        self._daemon = 0.0  # trio time serialoscd last answered
        self._armed = False  # a /serialosc/notify is outstanding
        self._note: tuple[str, tuple, float] = ("", (), -math.inf)  # the last notification, when

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
        self._send(self.port, "/serialosc/list", "127.0.0.1", self.local_port)
        self._arm()

    def _arm(self, again: bool = False) -> None:
        """Keep one notify registration outstanding (``again``: the last one was used or lost)."""
        if again or not self._armed:
            self._armed = True
            self._send(self.port, "/serialosc/notify", "127.0.0.1", self.local_port)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Find a grid and keep one connected until cancelled; reports started once listening."""
        with udp.bind(self.bind) as sock:
            self._sock = sock
            try:
                async with trio.open_nursery() as n:
                    self._discover()  # registered for notifications before anyone hears we started
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
        self._daemon = trio.current_time()
        while True:
            now, dev = trio.current_time(), self.device
            if dev is not None and now - self._heard > SILENT * RETRY:
                log.warning("grid %s stopped answering: looking for it again", dev.id)
                self._lose(dev)
                self._armed = False  # a daemon restart ends devices silently and forgets us
                dev = None
            if now - self._daemon > SILENT * RETRY:
                self._armed = False  # the daemon was away: our registration went with it
            self._send(self.port, "/serialosc/version", "127.0.0.1", self.local_port)
            if dev is None or not dev.ready:
                self._discover()
            else:
                self._arm()
                self._send(self.port, "/serialosc/list", "127.0.0.1", self.local_port)
                self._send(dev.port, "/sys/info", "127.0.0.1", self.local_port)
            await trio.sleep(RETRY)

    def handle(self, data: bytes, sender: int) -> None:
        """One datagram from UDP port ``sender``; never raises (a bug in a callback is logged too)."""
        try:
            address, args = osc.parse(data)
            self._dispatch(address, args, sender)
        except osc.BadMessage as e:
            self.dropped(f"a datagram from port {sender}: {e}")
        except Exception as e:  # a bug, here or in a callback: the grid carries on
            self.failed.raised(f"a datagram from port {sender}", e)

    def _dispatch(self, address: str, args: list, sender: int) -> None:
        dev = self.device
        if dev is not None and sender == dev.port:
            self._heard = trio.current_time()
        if sender == self.port:
            self._daemon = trio.current_time()
        if address == self.prefix + "/grid/key":
            if dev is not None and dev.ready and sender == dev.port:
                x, y, s = osc.check(args, int, int, int)
                if 0 <= x < dev.width and 0 <= y < dev.height:
                    self.on_key(x, y, bool(s))
        elif address.startswith("/serialosc/") and sender != self.port:
            log.debug("ignored %s from port %d, not serialosc's %d", address, sender, self.port)
        elif address in ("/serialosc/add", "/serialosc/remove") and self._copy(address, args):
            log.debug("ignored a second copy of %s %r", address, args)
        elif address in ("/serialosc/device", "/serialosc/add"):
            if address == "/serialosc/add":
                self._arm(again=True)
            if len(args) >= 3:
                self._offer(*osc.check(args, str, str, int))
            elif dev is None:  # a bare add: ask for the list to learn its port
                self._discover()
        elif address == "/serialosc/remove":
            self._arm(again=True)
            if dev is not None and osc.check(args, str)[0] == dev.id:
                log.info("grid %s unplugged", dev.id)
                self._lose(dev)
                self._discover()
        elif address == "/sys/connect":
            self._arm(again=True)  # a restarted daemon's device, or a replug (announced besides)
            if dev is not None and sender == dev.port:
                log.info("grid %s started again (serialosc restarted?): connecting again", dev.id)
                self._lose(dev)
                self._offer(dev.id, dev.type, dev.port)
            elif dev is None:
                self._discover()
        elif address == "/sys/disconnect" and dev is not None and sender == dev.port:
            log.info("grid %s disconnected", dev.id)
            self._lose(dev)
        elif address.startswith("/sys/") and dev is not None and sender == dev.port:
            self._sys(dev, address, args)
        else:
            log.debug("ignored %s %r from port %d", address, args, sender)

    def _copy(self, address: str, args: list) -> bool:
        """Whether this notification repeats the last one at once (a second registration's copy)."""
        now, (last, last_args, at) = trio.current_time(), self._note
        self._note = (address, tuple(args), now)
        return (address, tuple(args)) == (last, last_args) and now - at < DUPLICATE

    def _offer(self, id: str, type: str, port: int) -> None:
        if not 0 < port < 65536:
            raise osc.BadMessage(f"no such UDP port {port}")
        dev = self.device
        if self.want is not None and id != self.want:
            return
        if dev is not None:
            if id != dev.id or port == dev.port:
                return
            log.info("grid %s moved from port %d to %d (serialosc restarted?)", id, dev.port, port)
            self._lose(dev)
            self._arm(again=True)
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
            if dev.confirmed:  # it had our settings: its process restarted, the daemon may have too
                self._arm(again=True)
            self._offer(dev.id, dev.type, dev.port)
            return
        if address == "/sys/port":
            dev.confirmed = dev.confirmed or osc.check(args, int)[0] == self.local_port
        elif address == "/sys/size":
            width, height = osc.check(args, int, int)
            if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
                raise osc.BadMessage(f"no grid is {width}x{height}")
            dev.width, dev.height = width, height
        elif address == "/sys/rotation":
            dev.rotation = osc.check(args, int)[0]
        elif address == "/sys/id":
            dev.id = osc.check(args, str)[0]
        if dev.ready and not was_ready:
            log.info("grid %s (%s, %dx%d) ready", dev.id, dev.type, dev.width, dev.height)
            self.on_ready(dev)

    def _forgot(self, dev: Device, address: str, args: list) -> bool:
        """An info reply from a ready grid that no longer matches the handshake (a serialoscd
        restart that kept the port, another app, a rotation that swapped the size)."""
        match address:
            case "/sys/port":
                return osc.check(args, int)[0] != self.local_port
            case "/sys/prefix":
                return osc.check(args, str)[0] != self.prefix
            case "/sys/rotation":
                return self.rotation is not None and osc.check(args, int)[0] != self.rotation
            case "/sys/size":
                return osc.check(args, int, int) != (dev.width, dev.height)
        return False
