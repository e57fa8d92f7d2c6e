"""The running instrument: one trio nursery owns JACK, scsynth, the clock/sequencer and autosave.

Data flows one way: the sequencer's hits go to the engine (and later MIDI/crow outputs), which
turns them into time-stamped bundles; the session is the only shared state.
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import os
import shutil
import signal
import socket
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import trio

from gridtonic import crow, grid, launchpad, midi, web
from gridtonic.core import layout
from gridtonic.core.clock import InternalClock
from gridtonic.core.errors import UserError
from gridtonic.core.sequencer import Sequencer
from gridtonic.core.session import Session
from gridtonic.core.surface import Surface
from gridtonic.crow import Crow, CrowConfig
from gridtonic.io import config, jack, midiports, store
from gridtonic.io.jack import JackError
from gridtonic.io.tasks import supervise
from gridtonic.link import LinkClock
from gridtonic.midi import MidiClock, MidiConfig
from gridtonic.presets import kits
from gridtonic.prior import sampler
from gridtonic.prior.sampler import Sampler
from gridtonic.sound import synthdefs
from gridtonic.sound.engine import DEFAULT_LATENCY, Engine
from gridtonic.sound.scsynth import Scsynth, ScsynthError
from gridtonic.sound.synthdefs import BuildError

log = logging.getLogger(__name__)



@dataclass
class Instrument:
    """The parts of a running gridtonic, for the CLI and for tests that drive it."""

    session: Session
    session_path: Path | None = None
    port: int = 57110
    latency: float = DEFAULT_LATENCY
    jack_server: str | None = None
    grid: grid.GridConfig | None = None  # None: no grid
    crow: CrowConfig | None = None  # None: no crow task
    midi: MidiConfig | None = None  # None: no MIDI
    web: web.WebConfig | None = None  # None: no browser page
    launchpad: launchpad.LaunchpadConfig | None = None  # None: no Launchpads
    prior: Path | None = None  # introspection prior; None: the shipped one
    link: bool = False  # the clock is an Ableton Link session's (--clock link)
    saved: str | None = None  # the session file as read, before --tempo/--preset: autosave's baseline
    clock: InternalClock | MidiClock = field(init=False)
    server: Scsynth = field(init=False)
    engine: Engine = field(init=False)
    sequencer: Sequencer = field(init=False)
    surface: Surface = field(init=False)  # the grid's surface
    pads: Surface = field(init=False)  # the Launchpads'
    page: Surface = field(init=False)  # every open browser page's
    sampler: Sampler | None = field(init=False, default=None)  # None until loaded, or unusable

    def __post_init__(self) -> None:
        following = self.midi is not None and self.midi.follow
        self.clock = MidiClock(self.session.tempo) if following else \
            LinkClock(self.session.tempo, self.latency) if self.link else InternalClock(self.session.tempo)
        self.server = Scsynth(port=self.port, synthdef_dir=synthdefs.synthdef_dir(),
                              jack_server=self.jack_server,
                              setup=lambda: synthdefs.setup_messages(self.session.master_db))
        self.engine = Engine(self.session, self.server, self.latency)
        self.server.on_end = self.engine.ended
        self.sequencer = Sequencer(self.session, self.clock, [self.engine.play])
        self.crow_host = Crow(self.crow, self.sequencer, self.latency) if self.crow else None
        # Each controller plays a surface of its own on the one session and sequencer: own layout,
        # page, held keys and modifiers, so a hold on one never forms a gesture with a press on another
        self.surface = self._surface(layout.builtin(16, 8))
        self.pads = self._surface(launchpad.builtin(1))
        self.page = self._surface(layout.builtin(16, 8))  # a grid or Launchpad never resizes it
        self.launchpads = launchpad.Launchpads(self.pads, self.launchpad) if self.launchpad else None
        self.grid_host: grid.Grid | None = None
        self.url: str | None = None  # the browser page, once served

    def _surface(self, lay: layout.Layout) -> Surface:
        return Surface(lay, self.session, self.sequencer, latency=self.latency)

    def surfaces(self) -> tuple[Surface, ...]:
        return self.surface, self.pads, self.page

    def hardware(self) -> bool:
        """A hardware surface is connected: a grid, or a Launchpad that answered and is drawn on."""
        grid_found = self.grid_host is not None and self.grid_host.client.device is not None
        return grid_found or (self.launchpads is not None and bool(self.launchpads.order))

    def web_page(self) -> web.Web:
        return web.Web(self.page, self.session_path, self.status, self.surfaces(), meters=self.server.meters)

    def status(self) -> dict[str, str]:
        """The clock source and devices, one line each, for the page's screen."""
        dev = self.grid_host.client.device if self.grid_host is not None else None
        pads = [u.model.name for u in self.launchpads.order if u.model] if self.launchpads else []
        m, hello = self.midi, self.crow_host.hello if self.crow_host else None
        crow = "off" if self.crow is None else f"{hello.identity} {hello.version}" if hello else "not found"
        return {
            "clock": "MIDI" if isinstance(self.clock, MidiClock) else
                     self.clock.describe() if isinstance(self.clock, LinkClock) else "internal",
            "grid": "off" if self.grid is None else dev.id if dev is not None else "not found",
            "launchpad": "off" if self.launchpads is None else " + ".join(pads) or "not found",
            "midi": "off" if m is None else f"in {m.input or '-'}, out {m.output or '-'}",
            "crow": crow,
            "scsynth": f"port {self.port}, latency {self.latency * 1000:g} ms",
        }

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start everything, start the transport, report started; runs until cancelled."""
        async with jack.ensure_jack(self.jack_server), trio.open_nursery() as n:
            n.start_soon(self.load_prior)
            await n.start(self.server.run)
            await n.start(self.sequencer.run)
            if isinstance(self.clock, LinkClock):
                await n.start(self.clock.run, self.sequencer)
            if self.grid is not None:
                await n.start(partial(supervise, "grid", grid.serve, self.surface, self.grid,
                                      on_start=self._grid_started))
            if self.web is not None:
                await n.start(self.page.run)
                self.url = await n.start(supervise, "web page", self.web_page().run, self.web)
                log.info("the page (virtual grid and screen) is at %s", self.url)
                if self.web.open:
                    n.start_soon(web.open_unless_hardware, self.url, self.hardware)
            if self.crow_host is not None:
                await n.start(supervise, "crow", self.crow_host.run)
            if self.midi is not None:
                await n.start(supervise, "MIDI", midi.serve, self.midi, self.sequencer, self.engine.play,
                              self.latency)
            if self.launchpads is not None:
                await n.start(self.pads.run)
                await n.start(supervise, "Launchpads", self.launchpads.run)
            if self.session_path is not None:
                n.start_soon(store.autosave, self.session, self.session_path, self.saved)
            if isinstance(self.clock, LinkClock):  # a peer's start starts it, its play key starts them all
                log.info("Link: plays when a peer starts; the play key starts every peer, in phase")
            elif not isinstance(self.clock, MidiClock):  # a MIDI master starts the transport
                self.sequencer.start()
            settle()
            task_status.started()

    def _grid_started(self, host: grid.Grid) -> None:
        self.grid_host = host  # a restarted grid task's new host

    async def load_prior(self) -> None:
        """The introspection sampler, read in a worker thread (the clock never waits for it); it
        stays None, with one logged line, when the prior cannot be used. Loaded once, here, and
        handed to every surface."""
        self.sampler = await sampler.load(self.prior)
        for s in self.surfaces():
            s.sampler = self.sampler
        settle()


def settle() -> None:
    """What startup built (modules, layouts, the prior: ~50,000 objects) is never scanned by the
    garbage collector again: a full collection over it took 11-15 ms of the trio thread, longer
    than the sequencer's smallest lead over a hit has room for."""
    gc.freeze()


def main(args: argparse.Namespace) -> int:
    path = args.session or store.default_path()
    first = not path.exists()
    session = store.open_session(path)
    saved = store.dumps(session) if path.exists() else None  # before --tempo/--preset change it
    for name, slot in ((args.preset, "a"), (args.preset_b, "b")):
        if name:
            kits.session_with(session, name, slot, "file" if args.file_order else "key")
    if args.tempo:
        session.tempo = args.tempo  # checked by the command line: 20-300
    if not synthdefs.current():  # none, or built from other sources (an update)
        log.info("building the SynthDefs into %s (once for these sources)", synthdefs.synthdef_dir())
        synthdefs.build()
    check_free(inst_web := web.config_from_args(args))
    inst = Instrument(session, path, saved=saved, port=args.port, latency=args.latency,
                      grid=grid.config_from_args(args), crow=crow.config_from(args),
                      midi=midi.config_from_args(args), web=inst_web,
                      launchpad=launchpad.config_from_args(args), link=args.clock == "link")

    async def play() -> None:
        async with trio.open_nursery() as n:
            n.start_soon(_stop_on_signal, n.cancel_scope)
            await n.start(inst.run)
            names = ", ".join(t.name for t in session.tracks)
            log.info("playing %s at %g BPM (session %s); Ctrl-C stops", names, session.tempo, path)
            if first:
                for line in first_keys(inst.surface.gestures.layout):
                    log.info("%s", line)
            if args.seconds is not None:
                await trio.sleep(args.seconds)
                n.cancel_scope.cancel()

    try:
        trio.run(play)
    except BaseExceptionGroup as group:  # one task's error inside the nurseries: show it plainly
        if group.split(KeyboardInterrupt)[1] is None:
            raise KeyboardInterrupt from None  # Ctrl-C twice: the CLI exits with 130, no traceback
        errors = group.subgroup((JackError, ScsynthError, BuildError, OSError, midiports.MidiPortError))
        if errors is None:
            raise
        while isinstance(errors, BaseExceptionGroup):
            errors = errors.exceptions[0]
        raise errors from None
    return 0


def check_free(page: web.WebConfig | None) -> None:
    """The page's port is free: checked before JACK and scsynth start, so a busy one is one line
    naming it and the option that changes it, not an error after the sound came up."""
    if page is None or page.port == 0:
        return
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
        try:
            s.bind((page.host, page.port))
        except (OSError, OverflowError) as e:
            why = "is in use (another gridtonic?)" if getattr(e, "errno", None) == errno.EADDRINUSE else \
                f"cannot be used ({getattr(e, 'strerror', None) or e})"
            raise UserError(f"the page's port {page.port} on {page.host} {why}: choose another with "
                            "--web-port, or --no-web") from None


def first_keys(lay: layout.Layout) -> list[str]:
    """The three keys to try first, where the surface's layout puts them (printed on a first run)."""
    def at(key: str) -> str:
        x, y = lay.keys[key]
        return f"x {x} y {y}"

    top = lay.track_rows[0]
    return [f"first run: settings go in {config.path()}; three keys to try on the grid or the page:",
            f"  play / stop ({at('play')}); a key in a track's row sets a step (row {top}: the kick)",
            f"  introspect ({at('introspect')}): hold it, tap the kick's row, then the snare's: a snare "
            "for the kick",
            f"  generate ({at('generate')}): hold it, tap a track: steps 17-32 from 1-16"]


async def _stop_on_signal(scope: trio.CancelScope) -> None:
    """Ctrl-C, ``kill``, a service stop or a closed terminal end the performance: every task's
    clean-up runs (devices back in their own modes, servers stopped, session saved). A second
    Ctrl-C during the clean-up interrupts it (trio's KeyboardInterrupt: exit status 130)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async for signum in signals:
            log.info("%s: stopping", signal.Signals(signum).name)
            scope.cancel()
            return


def devices(midi_api: str = midiports.AUTO) -> int:
    """Print what the audio side needs and whether it is there, and which MIDI system and why."""
    defs = synthdefs.synthdef_dir()
    jack_up = jack.running()
    rows = [
        ("sound card", "yes" if os.path.exists("/dev/snd") else "none (JACK will use its dummy backend)"),
        ("jackd", shutil.which("jackd") or f"missing: {jack.INSTALL_HINT}"),
        ("JACK server", "running" if jack_up else "not running (gridtonic run starts one)"),
        ("scsynth", shutil.which("scsynth") or "missing: apt-get install supercollider-server"),
        ("SynthDefs", str(defs) if any(defs.glob("*.scsyndef")) else f"not built in {defs}: make setup"),
    ]
    try:
        api, why = midiports.resolve(midi_api)
    except midiports.MidiPortError as e:  # a status listing: the reason is its MIDI row
        rows.append(("MIDI API", str(e)))
    else:
        rows.append(("MIDI API", f"{api} ({why})"))
        if jack_up or api != "jack":  # JACK's MIDI ports need JACK; without it libjack only complains
            rows += midiports.listing(api)
            rows += launchpad.listing(api)
        else:
            rows.append(("MIDI", "listed while a JACK server runs"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0
