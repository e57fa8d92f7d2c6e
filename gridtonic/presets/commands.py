"""``gridtonic preset``: show, list, load into a saved session, convert to a SuperCollider file.

Thin: argument parsing and printing; the work is in ``kits``, ``mtpreset`` and ``scconvert``.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from gridtonic.core import params
from gridtonic.core.session import MAX_TRACKS
from gridtonic.io import store
from gridtonic.presets import scconvert
from gridtonic.presets.kits import SLOTS, assignment, chain, find, load, presets_dir, read, scan
from gridtonic.presets.mtpreset import Preset, PresetError, is_hit
from gridtonic.sound import synthdefs


def table(preset: Preset, order: str = "key") -> str:
    """The kit as text: one column per track, one row per parameter in Microtonic's units."""
    drums = [d for d in assignment(preset, MAX_TRACKS, order) if d is not None]
    width = 11

    def row(label: str, cells: list[str]) -> str:
        return f"{label:<10}" + "".join(f"{c[: width - 1]:>{width}}" for c in cells)

    def fmt(p: params.Param, v: float) -> str:
        if p.discrete:
            return p.choices[int(v)]
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"

    lines = [f"{preset.name}: {len(drums)} drum{'s' * (len(drums) != 1)}, drums by "
             + ("file order" if order == "file" else "number"),
             row("track", [str(i + 1) for i in range(len(drums))]),
             row("drum", [str(d.key) for d in drums])]
    names = [textwrap.wrap(d.name, width - 1) or [""] for d in drums]
    for n in range(max((len(w) for w in names), default=0)):
        lines.append(row("" if n else "name", [w[n] if n < len(w) else "" for w in names]))
    for p in params.PARAMS:
        lines.append(row(f"{p.name}" + (f" {p.unit}" if p.unit and len(p.name) + len(p.unit) < 10 else ""),
                         [fmt(p, d.patch[p.name]) for d in drums]))
    lines.append(row("pan", [f"{d.pan:+.2f}" for d in drums]))
    lines.append(row("choke", [str(d.choke or "-") for d in drums]))
    lines.append(row("def", [synthdefs.def_name(d.patch).removeprefix("supertonic_") for d in drums]))
    steps = chain(preset)
    if any(is_hit(c) for t, *_ in steps.values() for c in t):
        lines.append(f"pattern {preset.active}:")
        lines += [f"  {d.key}  {steps.get(d.key, ('-',))[0]}" for d in drums]
    return "\n".join(lines)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preset", help="Microtonic presets: show, list, load into a session, convert to .scd")
    cmds = p.add_subparsers(dest="preset_command", required=True)
    order = argparse.ArgumentParser(add_help=False)
    order.add_argument("--file-order", action="store_true",
                       help="drums to tracks in file order, as the original supertonic did "
                            "(default: by drum number)")

    show = cmds.add_parser("show", parents=[order], help="print a preset's kit as a table")
    show.add_argument("preset", help="a file, or a name in the preset folder")
    show.set_defaults(func=_show)

    cmds.add_parser("list", help=f"presets in the preset folder ({presets_dir()})").set_defaults(func=_list)

    ld = cmds.add_parser("load", parents=[order], help="load a preset into a saved session's patch A or B")
    ld.add_argument("preset", help="a file, or a name in the preset folder")
    ld.add_argument("--slot", choices=SLOTS, default="a", help="patch A, B or both (default a)")
    ld.add_argument("--track", type=int, help="only this track (1-based; a .mtdrum: track 1 by default)")
    ld.add_argument("--session", type=Path, help=f"session file (default {store.default_path()})")
    ld.set_defaults(func=_load)

    conv = cmds.add_parser("convert", parents=[order], help="write a SuperCollider file that plays the kit")
    conv.add_argument("preset", help="a file, or a name in the preset folder")
    conv.add_argument("-o", "--output", type=Path, help="the .scd to write (default: ./<preset name>.scd)")
    conv.add_argument("--force", action="store_true", help="overwrite an existing output file")
    conv.set_defaults(func=_convert)


def _order(args: argparse.Namespace) -> str:
    return "file" if args.file_order else "key"


def _show(args: argparse.Namespace) -> int:
    print(table(read(find(args.preset)), _order(args)))
    return 0


def _list(args: argparse.Namespace) -> int:
    files = scan()
    if not files:
        print(f"no presets in {presets_dir()} (copy .mtpreset files there)")
    for path in files:
        try:
            preset = read(path)
            print(f"{path.name:<32} {', '.join(d.name for d in preset.drums)}")
        except PresetError as e:
            print(f"{path.name:<32} unusable: {e}")
    return 0


def _load(args: argparse.Namespace) -> int:
    path = args.session or store.default_path()
    session = store.open_session(path)
    preset = read(find(args.preset))
    track = None if args.track is None else args.track - 1
    load(session, preset, args.slot, track, _order(args))
    store.save(session, path)
    print(f"gridtonic: {preset.name} loaded into patch {args.slot.upper()} of "
          f"{'track ' + str(args.track) if track is not None else 'every track'} in {path}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    preset = read(find(args.preset))
    out = args.output or Path(f"{Path(args.preset).stem}.scd")
    if out.exists() and not args.force:
        raise PresetError(f"{out} exists; use --force to overwrite it or -o to write elsewhere")
    store.save_text(scconvert.scd(preset, _order(args)), out)
    print(f"gridtonic: wrote {out} ({len(preset.drums)} drums)")
    return 0
