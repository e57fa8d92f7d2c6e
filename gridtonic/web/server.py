"""The browser companion: a virtual grid and the instrument's screen, served on 127.0.0.1.

Thin glue around the pure parts: keys go into the page's own 16×8 ``Surface`` (the grid's layout,
gestures and LED frames, but its own held keys and page, shared by every open page); other messages
are checked by ``protocol.parse`` and applied on the trio thread, so a page edit reaches the engine
on its next hit. Every open page gets every frame, state change and move of a track's playhead, so
they stay in sync; the mixer's meters go to every page at most ``METER_FPS`` a second, when they
move. Served by hypercorn's trio worker: HTTP and WebSocket on one
port inside the instrument's nursery, no thread, no framework (the app is one small ASGI callable).
Only a page that knows the token (``access``) may play, at most ``MAX_PAGES`` at once, each at most
``RATE`` messages a second.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import reprlib
import shutil
import sys
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from gridtonic.core import actions as a
from gridtonic.core.bucket import Bucket
from gridtonic.core.clock import InternalClock
from gridtonic.core.frame import Frame
from gridtonic.core.session import Session, SessionError
from gridtonic.core.surface import FPS, Surface
from gridtonic.io import store
from gridtonic.io.tasks import Dropped, failure
from gridtonic.presets import kits
from gridtonic.presets.mtpreset import PresetError
from gridtonic.sound.mixer import Meters
from gridtonic.web import access, protocol
from gridtonic.web.protocol import BadMessage

log = logging.getLogger(__name__)
SERVER_LOG = logging.getLogger(f"{__name__}.server")  # hypercorn's own lines: its problems only
SERVER_LOG.setLevel(logging.WARNING)  # not its "Running on …", which repeats the instrument's URL line

DEFAULT_PORT = 8808
STATE_POLL = 0.1  # s between looks for changes made elsewhere (grid, MIDI, sampler)
STATE_SETTLE = 0.005  # s from a page message to the look at the state it may have changed
METER_FPS = 15.0  # meter messages a second at most (scsynth measures at mixer.RATE)
OPEN_GRACE = 2.0  # s to wait for a hardware grid before opening the page
OUTBOX = 256  # messages a page may lag behind before it is dropped (it reconnects)
MAX_PAGES = 16  # open at once; one more is told so and closed
# the state's parts no session edit changes, encoded once (a JSON object's members, no braces)
CONSTANT_STATE = json.dumps({"params": protocol.PARAM_TABLE, "limits": protocol.LIMITS})[1:-1]
RATE, BURST = 100.0, 200.0  # messages a second a page may send on average, and at once (a drag sends ~60/s)
FILES = {"/": ("index.html", "text/html; charset=utf-8"),
         "/app.js": ("app.js", "text/javascript; charset=utf-8"),
         "/style.css": ("style.css", "text/css; charset=utf-8")}
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
HEADERS = [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"),
           (b"content-security-policy", b"default-src 'self'; connect-src 'self'"),
           (b"referrer-policy", b"no-referrer")]  # the URL holds the token
NO_TOKEN = b"this page needs the address gridtonic printed, the one ending in ?token=...\n"


@dataclass
class WebConfig:
    port: int = DEFAULT_PORT  # 0: any free port
    open: bool = True  # open the page in a browser when no hardware surface is found
    host: str = "127.0.0.1"


@dataclass
class Client:
    """One open page: its queue of outgoing messages and the keys it holds down."""

    id: int
    outbox: trio.MemorySendChannel[str]
    scope: trio.CancelScope
    rate: Bucket
    held: set[tuple[int, int]] = field(default_factory=set)
    fill: bool = False  # holds the page's FILL button
    warned: bool = False  # told it sends too fast

    def send(self, text: str) -> None:
        try:
            self.outbox.send_nowait(text)
        except trio.WouldBlock:  # a stalled page must not hold the others back; it reconnects
            log.warning("page %d is not reading; disconnected", self.id)
            self.scope.cancel()


def sessions_dir() -> Path:
    """Named sessions saved from the page."""
    return store.data_dir() / "sessions"


class Web:
    """The ASGI app and the broadcasters; ``status`` names the clock, devices and engine for the screen;
    ``surfaces`` are every surface on the session (the page's among them), whose slot marks and
    selection a session load resets; ``token`` is the page's secret (None: ``access.token()``'s);
    ``meters`` the engine's levels (None: no meters)."""

    def __init__(self, surface: Surface, session_path: Path | None = None,
                 status: Callable[[], dict[str, str]] = dict, surfaces: Sequence[Surface] = (),
                 token: str | None = None, meters: Meters | None = None):
        self.surface = surface
        self.session = surface.session
        self.session_path = session_path or store.default_path()
        self.status = status
        self.surfaces = tuple(surfaces) or (surface,)
        self.token = token
        self.meters = meters
        self.first_run = not self.session_path.exists()  # no session yet: the page walks a new user through
        self.clients: dict[int, Client] = {}
        self.refused = Dropped(log, "web page")  # connections without the token, over MAX_PAGES
        self.failed = Dropped(log, "web page")  # messages a handler raised on (a bug)
        self.bad = Dropped(log, "web page message")  # messages refused by their check (told to the page)
        self.too_fast = Dropped(log, "web page")  # messages over a page's RATE
        self.frame = ""  # the latest frame message, for pages that connect
        self.state = ""  # the latest state message
        self.positions = protocol.positions_message(None)  # the latest playheads message
        self._layout: tuple[object, str] = (None, "")  # the layout the state last showed, encoded
        self._ids = count(1)
        self._poke = trio.Event()
        self._files = {path: (resources.files("gridtonic.web").joinpath("page", name).read_bytes(), ctype)
                       for path, (name, ctype) in FILES.items()}

    # -- out ---------------------------------------------------------------------------------

    def broadcast(self, text: str) -> None:
        for c in list(self.clients.values()):
            c.send(text)

    def _send_frame(self, frame: Frame) -> None:
        self.frame = protocol.frame_message(frame)
        self.broadcast(self.frame)

    def state_message(self) -> str:
        """The whole state as the page draws it. Built on every page message and every STATE_POLL
        to see whether anything changed, so the parts that change seldom or never (the parameter
        table, the limits, a layout, a patch's picture) are encoded once and spliced in."""
        s, g = self.surface.session, self.surface.gestures
        t = s.tracks[g.selected]
        told = max((x.told for x in self.surfaces if x.told is not None), default=None)
        if g.layout is not self._layout[0]:
            self._layout = (g.layout, json.dumps(protocol.layout_view(g.layout)))
        dynamic = json.dumps({
            "type": "state", "tracks": protocol.session_view(s), "tempo": s.tempo, "seed": s.seed,
            "slots": protocol.slots_view(s, self.surface.active_slot, self.surface.queued_slot),
            "playing": self.surface.sequencer.playing, "selected": g.selected, "basis": g.basis,
            "pending": sorted(self.surface.pending), "status": self.status(),
            "prior": self.surface.sampler is not None, "told": told and told[1],
            "chain": s.chain, "fill_every": s.fill_every, "fill": self.surface.sequencer.fill,
            "focus": s.focus, "groove": s.groove, "next_bar": s.next_bar, "master_db": s.master_db,
            "presets": [p.name for p in kits.scan()], "presets_dir": str(kits.presets_dir()),
            "first_run": self.first_run,
            "sessions": [p.stem for p in store.files(sessions_dir(), (".json",))],
        })
        picture = f'{{"a": {protocol.picture_json(t.patch_a)}, "b": {protocol.picture_json(t.patch_b)}}}'
        return f'{dynamic[:-1]}, "picture": {picture}, "layout": {self._layout[1]}, {CONSTANT_STATE}}}'

    def poke(self) -> None:
        """Something changed: send the state soon (STATE_SETTLE) rather than at the next poll."""
        self._poke.set()

    async def _states(self) -> None:
        """The state to every page when it changed: looked at every STATE_POLL and STATE_SETTLE
        after a poke (every page message pokes), so a key's LED frame goes out before the state is
        built and a key's press and release share one look."""
        while True:
            self._poke = poke = trio.Event()  # a poke from here on asks for another look
            state = self.state_message()
            if state != self.state:
                self.state = state
                self.broadcast(state)
            with trio.move_on_after(STATE_POLL):
                await poke.wait()
                await trio.sleep(STATE_SETTLE)

    async def _playheads(self) -> None:
        """Each track's own playhead to every page whenever one moves (at most FPS a second), woken
        by the surface's next step of any track; the transport starting or stopping within
        STATE_POLL."""
        shown: list[int] | None = None
        while True:
            now = trio.current_time()
            positions = self.surface.positions(now)
            if positions != shown:
                shown = positions
                self.positions = protocol.positions_message(positions)
                self.broadcast(self.positions)
            nxt = self.surface.next_change(now)
            await trio.sleep_until(now + STATE_POLL if nxt is None else max(min(nxt, now + STATE_POLL),
                                                                           now + 1.0 / FPS))

    async def _meters(self, meters: Meters) -> None:
        """The tracks' and the master's levels to every page, at most METER_FPS a second and only
        when one moved (silence goes out once): coalesced here, whatever scsynth's reply rate."""
        shown = ""
        while True:
            now = trio.current_time()
            text = protocol.meters_message(meters.tracks(now)[:len(self.session.tracks)], meters.master(now))
            if text != shown:
                shown = text
                self.broadcast(text)
            await trio.sleep(1.0 / METER_FPS)

    # -- in ----------------------------------------------------------------------------------

    async def handle(self, client: Client, text: str | bytes | None) -> None:
        """One message from a page: applied whole, or an error to that page and nothing applied."""
        try:
            cmd = protocol.parse(text, self.session, self.surface.gestures.layout)
            await self._perform(client, cmd)
        except BadMessage as e:  # the page is told; the terminal gets a sparse line (a page or script bug)
            self.bad(f"{reprlib.repr(text)}: {e}")
            client.send(protocol.error_message(str(e)))
        except (PresetError, SessionError, OSError) as e:
            client.send(protocol.error_message(str(e)))
        except Exception as e:  # a bug costs this message, not the page nor the music
            self.failed.raised(reprlib.repr(text), e)
            client.send(protocol.error_message(f"not done: {failure(e)}"))
        self.poke()

    async def _perform(self, client: Client, cmd: protocol.Command) -> None:
        surface, session = self.surface, self.session
        if protocol.apply(session, cmd):
            return
        match cmd:
            case protocol.Key(x, y, down):
                (client.held.add if down else client.held.discard)((x, y))
                surface.key(x, y, down)
                return  # the key drew its own frame
            case protocol.Release():
                self.release(client)
            case protocol.Select(track):
                surface.gestures.selected = track
            case a.Fill(held):
                client.fill = held
                surface.perform(cmd)
            case (a.ToggleMute() | a.Introspect() | a.IntrospectKit() | a.Generate() | a.Groove()
                  | a.SetIntrospection() | a.Transport() | a.Tap() | a.SetSteps() | a.SetLevel()
                  | a.SetStepField() | a.SetLock() | a.SetTrackField() | a.SetChain()):
                surface.perform(cmd)
            case protocol.Tempo(bpm):
                self._set_tempo(bpm)
            case protocol.LoadPreset(name, slot, track):
                await self._load_preset(name, slot, track)
            case protocol.SessionFile(True, name):
                path = self._session_file(name)
                await trio.to_thread.run_sync(store.save_text, store.dumps(session), path)
                client.send(protocol.note_message(f"saved {path}"))
            case protocol.SessionFile(False, name):
                loaded = await trio.to_thread.run_sync(store.load, self._session_file(name))  # checked whole
                self._load(client, loaded)
        surface.changed()

    def _load(self, client: Client, loaded: Session) -> None:
        """Make the running session the loaded one at once, all of it (nothing here can fail); the
        tempo stays the MIDI master's while following one, which the page is told."""
        clock = self.surface.sequencer.clock
        follows = not isinstance(clock, InternalClock)
        protocol.load_session(self.session, loaded, tempo=not follows)
        if follows:
            client.send(protocol.note_message(
                f"loaded; the tempo follows the MIDI clock ({loaded.tempo:g} BPM in the file not used)"))
        else:
            clock.set_tempo(loaded.tempo, trio.current_time())
        for s in self.surfaces:  # the slot marks were the old session's
            s.active_slot = s.queued_slot = None
            s.gestures.selected = min(s.gestures.selected, len(self.session.tracks) - 1)
            s.changed()

    def release(self, client: Client) -> None:
        for x, y in sorted(client.held):
            self.surface.key(x, y, False)
        client.held.clear()
        if client.fill:  # a page that lost the pointer or closed lets go of its FILL
            client.fill = False
            self.surface.perform(a.Fill(False))

    def _set_tempo(self, bpm: float) -> None:
        clock = self.surface.sequencer.clock
        if not isinstance(clock, InternalClock):
            raise BadMessage("the tempo follows the MIDI clock")
        clock.set_tempo(bpm, trio.current_time())
        self.session.tempo = bpm

    def _session_file(self, name: str | None) -> Path:
        return self.session_path if name is None else sessions_dir() / f"{name}.json"

    async def _load_preset(self, name: str, slot: str, track: int | None) -> None:
        found = {p.name: p for p in kits.scan()}
        if name not in found:
            raise BadMessage(f"no preset {name!r} in {kits.presets_dir()}")
        preset = await trio.to_thread.run_sync(kits.read, found[name])
        kits.load(self.session, preset, slot, track)
        clock = self.surface.sequencer.clock
        if isinstance(clock, InternalClock):  # a kit brings its tempo
            clock.set_tempo(self.session.tempo, trio.current_time())

    # -- ASGI --------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            await self._http(scope, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})

    def _has_token(self, scope: dict[str, Any]) -> bool:
        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        return self.token is not None and access.matches(given, self.token)

    async def _http(self, scope: dict[str, Any], send: Callable) -> None:
        """The page (its ``/`` only with the token: its script and style are no secret)."""
        found = self._files.get(scope["path"])
        if scope["method"] not in ("GET", "HEAD"):
            status, body, ctype = 405, b"only GET\n", "text/plain"
        elif found is None:
            status, body, ctype = 404, b"not found\n", "text/plain"
        elif scope["path"] == "/" and not self._has_token(scope):
            status, body, ctype = 403, NO_TOKEN, "text/plain"
        else:
            status, (body, ctype) = 200, found
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", ctype.encode()), *HEADERS]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def _websocket(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        origin = dict(scope["headers"]).get(b"origin")
        if origin is not None and urlsplit(origin.decode("latin-1")).hostname not in LOCAL_HOSTS:
            self.refused(f"a page from {reprlib.repr(origin)} (only pages served here may play)")
            await send({"type": "websocket.close", "code": 1008})
            return
        if not self._has_token(scope):
            self.refused("a connection without the page's token (only the address gridtonic printed plays)")
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})
        if len(self.clients) >= MAX_PAGES:
            self.refused(f"one page more than {MAX_PAGES}")
            await send({"type": "websocket.send", "text": protocol.error_message(
                f"{MAX_PAGES} pages are open already: close one")})
            await send({"type": "websocket.close", "code": 1013})  # try again later
            return
        outbox, inbox = trio.open_memory_channel[str](OUTBOX)
        with trio.CancelScope() as cancel:
            client = Client(next(self._ids), outbox, cancel, Bucket(RATE, BURST, trio.current_time()))
            for text in (self.state_message(), self.frame, self.positions):  # a new page starts from now
                if text:
                    outbox.send_nowait(text)
            self.clients[client.id] = client
            try:
                async with trio.open_nursery() as n:
                    n.start_soon(self._writer, inbox, send, n.cancel_scope)
                    while (msg := await receive())["type"] == "websocket.receive":
                        if client.rate.take(trio.current_time()):
                            await self.handle(client, msg.get("text", msg.get("bytes")))
                        else:
                            self._flood(client)
                    n.cancel_scope.cancel()
            finally:
                del self.clients[client.id]
                self.release(client)

    def _flood(self, client: Client) -> None:
        """A message over the page's rate: dropped, the connection kept (a page a script drives too
        fast plays on at the rate; closing would only make it reconnect); the page is told once."""
        self.too_fast(f"a message from page {client.id} over {RATE:g} a second")
        if not client.warned:
            client.warned = True
            client.send(protocol.error_message(f"more than {RATE:g} messages a second: the rest are dropped"))

    @staticmethod
    async def _writer(inbox: trio.MemoryReceiveChannel[str], send: Callable, scope: trio.CancelScope) -> None:
        try:
            async for text in inbox:
                await send({"type": "websocket.send", "text": text})
        except Exception as e:  # the page went away mid-send: end this connection only
            log.debug("page gone: %s", e)
            scope.cancel()

    # -- serving -----------------------------------------------------------------------------

    async def run(self, config: WebConfig,
                  task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; reports the page's URL (with its token) once listening."""
        if self.token is None:
            self.token = access.token()
        access.cap_websocket_messages()
        access.uncompressed_websockets()
        hc = Config()
        hc.bind = [f"{config.host}:{config.port}"]
        hc.accesslog = None
        hc.errorlog = SERVER_LOG
        hc.graceful_timeout = 0.5
        hc.websocket_max_message_size = protocol.MAX_MESSAGE * 4
        async with trio.open_nursery() as n:
            n.start_soon(self.surface.show, self._send_frame)
            n.start_soon(self._states)
            n.start_soon(self._playheads)
            if self.meters is not None:
                n.start_soon(self._meters, self.meters)
            try:
                binds = await n.start(lambda task_status: hypercorn_serve(self, hc, task_status=task_status))
            except OSError as e:
                raise OSError(f"web page: cannot listen on {config.host}:{config.port} ({e.strerror}); "
                              "choose another --web-port") from None
            task_status.started(f"{binds[0]}/?token={self.token}")


def socket_url(page_url: str) -> str:
    """The WebSocket address (with the token) of the page at ``page_url``."""
    parts = urlsplit(page_url)
    return f"ws://{parts.netloc}/ws?{parts.query}"


def can_open_browser() -> bool:
    """A browser window can appear (a desktop session, or macOS/Windows)."""
    desktop = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return sys.platform in ("darwin", "win32") or bool(desktop)


async def open_unless_hardware(url: str, hardware: Callable[[], bool]) -> None:
    """Open the page when no hardware surface turned up within ``OPEN_GRACE``."""
    await trio.sleep(OPEN_GRACE)
    if hardware():
        return
    if can_open_browser():
        log.info("no grid found: opening %s", url)
        await trio.to_thread.run_sync(webbrowser.open, url)
    else:
        log.info("no grid found and no desktop here: open %s in a browser", url)


CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1000")


def headless_chromium(user_data: Path, binary: str = "chromium", driver: str = "chromedriver") -> Any:
    """A Selenium driver for headless Chromium that downloads nothing (runs as root), for the page's
    tests and benchmark; selenium is a test dependency, imported here only."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which(binary) or binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={user_data}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=shutil.which(driver) or driver))


def add_arguments(run: argparse.ArgumentParser) -> None:
    """``gridtonic run``'s browser page options."""
    g = run.add_argument_group("browser page (virtual grid and screen)")
    g.add_argument("--web-port", type=int, default=DEFAULT_PORT,
                   help="port of the page on 127.0.0.1 (default %(default)s; 0: any free port)")
    g.add_argument("--no-web", action="store_true", help="do not serve the page")
    g.add_argument("--no-open", action="store_true", help="never open the page in a browser")


def config_from_args(args: argparse.Namespace) -> WebConfig | None:
    return None if args.no_web else WebConfig(args.web_port, not args.no_open)
