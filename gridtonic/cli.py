"""``gridtonic`` command line: run, render, devices, and the commands feature modules add.

Each feature module listed in ``FEATURES`` has ``add_commands(subparsers)``, which adds its
sub-commands with ``set_defaults(func=...)``; ``func(args)`` returns the exit status. Errors a user
can fix (bad files, missing programs, busy ports) end the command with one clear line and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from gridtonic import __version__, grid, launchpad, midi, web
from gridtonic.core.errors import UserError
from gridtonic.core.session import SessionError
from gridtonic.io import midiports, store
from gridtonic.presets.mtpreset import PresetError
from gridtonic.sound import engine

log = logging.getLogger("gridtonic")
PROGRESS_AFTER_S = 2.0  # renders that take longer show a progress bar
MAX_BARS = 10**6  # days of audio, far past any size limit (and 4.0 * bars stays a float)

FEATURES: tuple[str, ...] = (  # modules with add_commands(subparsers), e.g. "gridtonic.presets.commands"
    "gridtonic.presets.commands",
    "gridtonic.prior.commands",
    "gridtonic.grid.emulator",
    "gridtonic.crow.commands",
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gridtonic", description="an introspective drum machine")
    p.add_argument("--version", action="version", version=f"gridtonic {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="play the session (default kit and pattern the first time)")
    run.add_argument("--session", type=Path, help=f"session file (default {store.default_path()})")
    run.add_argument("--port", type=int, default=57110, help="scsynth UDP port (default 57110)")
    run.add_argument("--latency", type=float, default=engine.DEFAULT_LATENCY,
                     help="s from a step's time to its sound: sample-exact timing (default %(default)s)")
    run.add_argument("--tempo", type=float, help="tempo in BPM (saved with the session)")
    run.add_argument("--for", dest="seconds", type=float, help="stop after this many seconds")
    grid.add_arguments(run)
    midi.add_arguments(run)
    launchpad.add_arguments(run)
    web.add_arguments(run)
    run.add_argument("--preset", help="Microtonic preset (file, or name in the preset folder) for patch A")
    run.add_argument("--preset-b", help="load a Microtonic preset into patch B (the morph target)")
    run.add_argument("--file-order", action="store_true", help="preset drums to tracks in file order")
    run.set_defaults(func=_run)

    render = sub.add_parser("render", help="render a pattern or a session file offline to a WAV")
    render.add_argument("source", help="a session file, or patterns like 'kick:x---x---,snare:----x---'")
    render.add_argument("-o", "--output", type=Path, required=True, help="WAV file to write")
    render.add_argument("--bars", type=int, default=2, help="bars of 4/4 (default 2)")
    render.add_argument("--seed", type=int, default=1, help="noise seed (same seed, same file)")
    render.add_argument("--tempo", type=float, help="tempo in BPM")
    render.add_argument("--force", action="store_true", help="write a file over 2 GB")
    render.set_defaults(func=_render)

    devices = sub.add_parser("devices", help="audio status: JACK, scsynth, SynthDefs, MIDI ports")
    midiports.add_api_option(devices)
    devices.set_defaults(func=_devices)
    for name in FEATURES:
        importlib.import_module(name).add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if args.verbose else "gridtonic: %(message)s",
    )
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into e.g. `head`, which closed it: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (UserError, SessionError, PresetError, OSError, RuntimeError) as e:  # our errors: one line each
        print(f"gridtonic: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    from gridtonic import app

    args.midi_api, why = midiports.resolve(args.midi_api)  # MIDI, clock, notes and Launchpads all use it
    log.info("MIDI: %s (%s)", args.midi_api, why)
    return app.main(args)


def _devices(args: argparse.Namespace) -> int:
    from gridtonic import app

    return app.devices(args.midi_api)


def _render(args: argparse.Namespace) -> int:
    from gridtonic.sound import nrt, render

    source = Path(args.source)
    session = store.load(source) if source.exists() else render.pattern_session(args.source)
    if args.tempo:
        session.tempo = min(max(args.tempo, 20.0), 300.0)
    if not 1 <= args.bars <= MAX_BARS:
        raise UserError(f"--bars must be from 1 to {MAX_BARS:,}")
    most, out = render.planned(session, args.output, args.bars)
    if out.nbytes > render.LIMIT_BYTES and not args.force:
        raise UserError(f"{args.output} would be {_size(out.nbytes)} ({most / 3600:.1f} h of audio), over "
                        f"{_size(render.LIMIT_BYTES)}: nothing written; add --force to write it")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a killed render cleans up as Ctrl-C does
    with _progress() as progress:
        seconds = render.render(session, args.output, bars=args.bars, seed=args.seed, progress=progress)
    header = nrt.output(args.output, seconds).header
    kind = "" if header == "WAV" else f", {header}"
    print(f"gridtonic: wrote {args.output} ({seconds:.2f} s, {args.bars} bars at {session.tempo:g} BPM"
          f"{kind})")
    return 0


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e9:.1f} GB"


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[float, float], None]]:
    """A progress bar for a render, shown once it has taken PROGRESS_AFTER_S (short ones stay quiet)."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    begun = time.monotonic()
    bar = Progress(TextColumn("rendering"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                   transient=True)
    task = bar.add_task("render", total=None)

    def update(done: float, total: float) -> None:
        if not bar.live.is_started and time.monotonic() - begun > PROGRESS_AFTER_S:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bar.live.is_started:
            bar.stop()
