"""``gridtonic`` command line: run, render, devices, and the commands feature modules add.

Each feature module listed in ``FEATURES`` has ``add_commands(subparsers)``, which adds its
sub-commands with ``set_defaults(func=...)``; ``func(args)`` returns the exit status. Errors a user
can fix (bad files, missing programs, busy ports) end the command with one clear line and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import logging
import math
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from gridtonic import __version__, grid, launchpad, midi, web
from gridtonic.core import keymap, layout
from gridtonic.core.clock import TEMPO_RANGE
from gridtonic.core.errors import UserError
from gridtonic.core.session import SessionError
from gridtonic.io import config, midiports, store
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


EXAMPLES: dict[str, str] = {  # one line each sub-command's --help ends with
    "run": "gridtonic run --tempo 124 --preset tough",
    "render": "gridtonic render 'kick:x---x---x---x---,snare:----x-------x---' -o beat.wav --bars 4 --loop",
    "devices": "gridtonic devices --midi-api jack",
    "layout": "gridtonic layout show grid16x8",
    "layout show": "gridtonic layout show launchpad-8x8",
    "preset": "gridtonic preset show tough",
    "preset show": "gridtonic preset show tough --file-order",
    "preset list": "gridtonic preset list",
    "preset load": "gridtonic preset load blue --slot b",
    "preset convert": "gridtonic preset convert tough -o tough.scd",
    "prior": "gridtonic prior info",
    "prior build": "gridtonic prior build ~/corpus/groove-midi-dataset --split train -o my.sqlite",
    "prior info": "gridtonic prior info my.sqlite",
    "generate": "gridtonic generate --from kick:x---x---x---x--- --to snare",
    "grid-emulator": "gridtonic grid-emulator --size 16x8   (then, elsewhere: gridtonic run)",
    "crow": "gridtonic crow status",
}
LOG_LEVELS = ("debug", "info", "warning", "error")
MAX_LATENCY = 2.0  # s: past this a step is heard too late to play
MAX_SECONDS = 1e9  # --for: decades


class Parser(argparse.ArgumentParser):
    """argparse with errors on one line (naming the value and what would be right) and a "did you
    mean" for a misspelt sub-command or choice."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if m := re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message):
            choices = [c.strip("'") for c in m[2].split(", ")]  # quoted up to Python 3.12, bare after
            close = difflib.get_close_matches(m[1], choices, n=1, cutoff=0.5)
            message += f"; did you mean {close[0]!r}?" if close else ""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def bounded(lo: float, hi: float, unit: str = "", low_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number from ``lo`` to ``hi`` (above ``lo`` when ``low_open``)."""
    def number(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(v) or v > hi or (v <= lo if low_open else v < lo):
            span = f"above {lo:g} and at most {hi:g}" if low_open else f"from {lo:g} to {hi:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: it must be {span}{unit}")
        return v
    return number


def _parser(settings: config.Settings | None = None) -> argparse.ArgumentParser:
    settings = settings or config.load()
    where = f"settings: {settings.where} (TOML; see README); sessions and data: {store.data_dir()}"
    p = Parser(prog="gridtonic", description="an introspective drum machine",
               epilog=f"example: gridtonic run   (then open the page it names)\n{where}",
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"gridtonic {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging (= --log-level debug)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="warnings and errors only (= --log-level warning)")
    p.add_argument("--log-level", choices=LOG_LEVELS, help="what gridtonic logs (default info)")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="play the session (default kit and pattern the first time)")
    run.add_argument("--session", type=Path, help=f"session file (default {store.default_path()})")
    run.add_argument("--port", type=port, default=57110, help="scsynth UDP port (default 57110)")
    run.add_argument("--latency", type=bounded(0, MAX_LATENCY, " s", low_open=True),
                     default=engine.DEFAULT_LATENCY,
                     help="s from a step's time to its sound: sample-exact timing (default %(default)s)")
    run.add_argument("--tempo", type=bounded(*TEMPO_RANGE, " BPM"),
                     help="tempo in BPM, 20-300 (saved with the session)")
    run.add_argument("--for", dest="seconds", type=bounded(0, MAX_SECONDS, " s"),
                     help="stop after this many seconds")
    grid.add_arguments(run)
    midi.add_arguments(run)
    launchpad.add_arguments(run)
    web.add_arguments(run)
    run.add_argument("--preset", help="Microtonic preset (file, or name in the preset folder) for patch A")
    run.add_argument("--preset-b", help="load a Microtonic preset into patch B (the morph target)")
    run.add_argument("--file-order", action="store_true", help="preset drums to tracks in file order")
    run.set_defaults(func=_run)

    render = sub.add_parser("render", help="render a pattern or a session file offline to a WAV")
    render.add_argument("source", help="a session file, or patterns like 'kick:x---x---,snare:----x---' "
                                       "(x or X: a hit; - or .: a rest)")
    render.add_argument("-o", "--output", type=Path, required=True, help="WAV file to write")
    render.add_argument("--bars", type=int, default=2, help="bars of 4/4 (default 2)")
    render.add_argument("--seed", type=int, default=1, help="noise seed (same seed, same file)")
    render.add_argument("--tempo", type=bounded(*TEMPO_RANGE, " BPM"), help="tempo in BPM, 20-300")
    render.add_argument("--loop", action="store_true",
                        help="exactly --bars long, the tails past the last bar wrapped onto the start "
                             "(loops seamlessly)")
    render.add_argument("--stems", action="store_true",
                        help="also one file per track beside the mix (beat.wav: beat-kick.wav, ...), at "
                             "the master level, unlimited (they sum to the mix where the limiter is idle)")
    render.add_argument("--force", action="store_true", help="write files over 2 GB")
    render.set_defaults(func=_render)

    layouts = sub.add_parser("layout", help="the surfaces' layouts (layouts/*.toml)")
    show = layouts.add_subparsers(dest="layout_command", required=True).add_parser(
        "show", help="draw a layout in the terminal: its keys, track rows, lanes and labels")
    show.add_argument("layout", nargs="?", help="a shipped layout (grid16x8, 'launchpad 8x8') or a layout "
                                                "file (default: each shipped layout)")
    show.set_defaults(func=_layout_show)

    devices = sub.add_parser("devices", help="audio status: JACK, scsynth, SynthDefs, MIDI ports")
    midiports.add_api_option(devices)
    devices.set_defaults(func=_devices)
    for name in FEATURES:
        importlib.import_module(name).add_commands(sub)
    for name, cmd in commands(p).items():
        if cmd.epilog is None and name in EXAMPLES:
            cmd.epilog = f"example: {EXAMPLES[name]}"
    config.apply(settings, sub.choices)
    p.set_defaults(log_level=settings.log_level())
    return p


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every sub-command under ``parser`` by its words ("run", "preset show"), nested ones too."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, cmd in action.choices.items():
                found[prefix + name] = cmd
                found.update(commands(cmd, f"{prefix}{name} "))
    return found


def port(text: str) -> int:
    """An argparse type: a UDP/TCP port number, 1-65535."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number")
    if not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is out of range: a port is from 1 to 65535")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    settings = config.load()
    args = _parser(settings).parse_args(argv)
    level = "debug" if args.verbose else "warning" if args.quiet else args.log_level or "info"
    logging.basicConfig(
        level=level.upper(),
        format="%(levelname)s %(name)s: %(message)s" if level == "debug" else "gridtonic: %(message)s",
    )
    for problem in settings.problems:
        log.warning("%s", problem)
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
    except BaseExceptionGroup as group:  # Ctrl-C inside a command's trio nursery
        if group.split(KeyboardInterrupt)[1] is None:
            return 130
        raise


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
    if source.exists():
        session = store.load(source)
    elif ":" not in args.source:
        raise UserError(f"{source}: no such session file (or give patterns, e.g. 'kick:x---x---')")
    else:
        _check_patterns(args.source)
        session = render.pattern_session(args.source)
    if args.tempo:
        session.tempo = args.tempo
    folder = args.output.parent
    if not folder.is_dir():
        raise UserError(f"-o {args.output}: there is no folder {folder}/ to write it in")
    if not os.access(folder, os.W_OK):
        raise UserError(f"-o {args.output}: the folder {folder}/ is not writable")
    if not 1 <= args.bars <= MAX_BARS:
        raise UserError(f"--bars must be from 1 to {MAX_BARS:,}")
    most, out, nbytes = render.planned(session, args.output, args.bars, loop=args.loop, stems=args.stems)
    if nbytes > render.LIMIT_BYTES and not args.force:
        what = f"{args.output} and its stems" if args.stems else str(args.output)
        raise UserError(f"{what} would be {_size(nbytes)} ({most / 3600:.1f} h of audio), over "
                        f"{_size(render.LIMIT_BYTES)}: nothing written; add --force to write it")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a killed render cleans up as Ctrl-C does
    with _progress() as progress:
        seconds = render.render(session, args.output, bars=args.bars, seed=args.seed, progress=progress,
                                loop=args.loop, stems=args.stems)
    header = nrt.output(args.output, seconds).header
    kind = ("" if header == "WAV" else f", {header}") + (", a loop" if args.loop else "")
    bars = f"{args.bars} bar{'s' * (args.bars != 1)}"
    print(f"gridtonic: wrote {args.output} ({seconds:.2f} s, {bars} at {session.tempo:g} BPM{kind})")
    if args.stems:
        names = ", ".join(p.name for p in render.stem_paths(session, args.output))
        print(f"gridtonic: and its stems {names} (unlimited: they sum to the mix where the limiter is idle)")
    return 0


def _layout_show(args: argparse.Namespace) -> int:
    try:
        shown = ([_find_layout(args.layout)] if args.layout else
                 [layout.load(p) for p in sorted(layout.LAYOUT_DIR.glob("*.toml"))])
    except layout.LayoutError as e:
        raise UserError(str(e)) from None
    print("\n\n".join(keymap.draw(lay) for lay in shown))
    return 0


def _find_layout(text: str) -> layout.Layout:
    """A layout file, or a shipped layout by its file's name (``grid16x8``) or its own (``grid 16x8``)."""
    if Path(text).is_file():
        return layout.load(Path(text))
    shipped = {p.stem: layout.load(p) for p in sorted(layout.LAYOUT_DIR.glob("*.toml"))}
    for stem, lay in shipped.items():
        if text.lower() in (stem.lower(), lay.name.lower()):
            return lay
    close = difflib.get_close_matches(text, list(shipped), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UserError(f"layout {text!r}: no such file or shipped layout (shipped: {', '.join(shipped)}){hint}")


def _check_patterns(spec: str) -> None:
    """Patterns on the command line hold x or X (a hit) and - or . (a rest), nothing else: a typo
    such as ``x--y--x`` is refused rather than read as a hit (session files keep the original's
    rule, any other character a hit, so older files load unchanged)."""
    for part in spec.split(","):
        _, colon, pattern = part.rpartition(":")
        if colon and (bad := re.search(r"[^xX.\- ]", pattern.strip())):
            raise UserError(f"pattern {part.strip()!r}: {bad[0]!r} at step {bad.start() + 1} is neither a "
                            f"hit (x) nor a rest (- or .)")


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
