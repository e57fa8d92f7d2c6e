"""``gridtonic prior build|info`` and ``gridtonic generate``: the introspection prior from the shell.

Thin: argument parsing, a progress bar and printing; the work is in ``prior`` and ``sampler``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gridtonic.core.errors import UserError
from gridtonic.core.session import Track
from gridtonic.prior import database, sampler
from gridtonic.prior.database import PriorError
from gridtonic.prior.drums import HALF


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prior", help="build or describe an introspection prior")
    psub = p.add_subparsers(dest="prior_command", required=True)
    b = psub.add_parser("build", help="count patterns of drum MIDI files / drummy JSON lines into SQLite")
    b.add_argument("corpus", nargs="+",
                   help="folders or files (.mid, .jsonl[.gz]); PATH:N counts that corpus N times")
    b.add_argument("-o", "--output", type=Path, required=True, help="prior file to write")
    b.add_argument("--split", help="only this split of folders with a GMD-style info.csv (e.g. train)")
    b.add_argument("--min-count", type=int, default=1,
                   help="drop pair/adjacent rows counted fewer times (smaller file; default 1)")
    b.set_defaults(func=_build)
    i = psub.add_parser("info", help="provenance and size of a prior (default: the shipped one)")
    i.add_argument("path", type=Path, nargs="?", help=f"prior file (default {sampler.default_path()})")
    i.set_defaults(func=_info)

    g = sub.add_parser("generate", help="a pattern for one instrument from another's, from the prior")
    g.add_argument("--from", dest="basis", required=True, metavar="INSTRUMENT:PATTERN",
                   help="the basis, e.g. kick:'x---x---x---x---' (16 or 32 steps)")
    g.add_argument("--to", help="instrument to generate (default: the next bar of the basis)")
    g.add_argument("--temperature", type=float, default=sampler.FOCUS,
                   help=f"<1 safer, >1 wilder ({sampler.TEMPERATURE_MIN:g}..{sampler.TEMPERATURE_MAX:g}, "
                   f"default {sampler.FOCUS:g})")
    g.add_argument("--seed", type=int, help="same seed, same answer")
    g.add_argument("--mode", choices=sampler.NEXT_BAR_MODES, default=sampler.NEXT_BAR,
                   help=f"steps 17-32 (no --to): 'likely' may repeat steps 1-16, 'new' never does "
                   f"(default {sampler.NEXT_BAR})")
    g.add_argument("--groove", type=float, metavar="AMOUNT",
                   help="also print each step's velocity and nudge at this humanize amount (0..1)")
    g.add_argument("--prior", type=Path, help="prior file (default: the shipped one)")
    g.set_defaults(func=_generate)


def _build(args: argparse.Namespace) -> int:
    if args.min_count < 1:
        raise UserError("--min-count must be at least 1")
    sources = [database.parse_source(s) for s in args.corpus]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("reading", total=None)

        def progress(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=f"reading {name[:40]:<40}")

        try:
            counts, corpora = database.build(sources, args.split, args.min_count, progress)
        except PriorError as e:
            raise UserError(str(e)) from None
    settings = {"corpora": [[c.name, c.weight] for c in corpora], "split": args.split,
                "min_count": args.min_count}
    database.write(args.output, counts, corpora, settings)
    for c in corpora:
        print(f"{c.name}: {c.stats.files} files, {c.stats.bars} bars, skipped {dict(c.stats.skipped)}")
        if c.stats.unknown_notes:
            print(f"  unknown notes ignored: {dict(c.stats.unknown_notes)}")
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB: {len(counts.pattern)} patterns, "
          f"{len(counts.pair)} pairs, {len(counts.adjacent)} bar→bar rows)")
    return 0


def _info(args: argparse.Namespace) -> int:
    path = args.path or sampler.default_path()
    try:
        about = database.info(path)
        digest = database.checksum(path)
    except PriorError as e:
        raise UserError(str(e)) from None
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    for k, v in about["meta"].items():
        print(f"  {k}: {v}")
    for c in about["corpora"]:
        print(f"  corpus {c['name']} (weight {c['weight']}): {c['licence']}")
        print(f"    {json.dumps(c['stats'])}")
    print(f"  rows: {about['rows']}")
    print(f"  classes with data: {', '.join(about['classes with data'])}")
    print(f"  checksum: {digest}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    name, sep, pattern = args.basis.partition(":")
    if not sep or not pattern.strip() or not name.strip():
        raise UserError(f"--from {args.basis!r}: expected INSTRUMENT:PATTERN, e.g. kick:x---x---x---x---")
    if not sampler.TEMPERATURE_MIN <= args.temperature <= sampler.TEMPERATURE_MAX:
        raise UserError(f"--temperature {args.temperature:g}: must be {sampler.TEMPERATURE_MIN:g}.."
                        f"{sampler.TEMPERATURE_MAX:g} (1 = as the prior counts)")
    try:
        s = sampler.Sampler.from_file(args.prior or sampler.default_path())
    except PriorError as e:
        raise UserError(str(e)) from None
    basis = Track(name=name.strip())
    basis.set_pattern(pattern)
    if args.groove is not None and not 0 <= args.groove <= 1:
        raise UserError(f"--groove {args.groove:g}: must be 0..1 (0 flat, 1 the drummers' groove)")
    amount = args.groove or 0.0
    if args.to is None:
        proposal = s.second_half(basis, args.temperature, args.seed, args.mode, amount)
    else:
        proposal = s.track_from(Track(name=args.to), basis, args.temperature, args.seed, amount)
    steps = "".join("x" if hit else "-" for hit in proposal.steps)
    shown = steps if args.to is None or len(pattern.strip()) > HALF else steps[:HALF]
    print(f"{args.to or basis.name}: {shown}")
    print(f"  ({proposal.how})")
    if proposal.velocity is not None and proposal.nudge is not None:
        n = len(shown)
        print("  velocity: " + " ".join(f"{v:.2f}" for v in proposal.velocity[:n]))
        print("  nudge (1/24 step): " + " ".join(f"{d:+d}" for d in proposal.nudge[:n]))
    return 0
