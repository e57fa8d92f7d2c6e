"""MIDI for ``gridtonic run``: the options, and the tasks that follow or send clock and notes."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trio

from gridtonic.core.sequencer import Hit, Sequencer
from gridtonic.io import config as settings
from gridtonic.io import midiports, store
from gridtonic.io.midiports import VIRTUAL
from gridtonic.midi import cc as midicc
from gridtonic.midi import mapping as midimap
from gridtonic.midi.clock import MidiClock
from gridtonic.midi.inport import MidiIn
from gridtonic.midi.mapping import MidiMap
from gridtonic.midi.outport import MidiOut

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MidiConfig:
    follow: bool = False  # the clock source is MIDI (else the internal clock, sent out if clock_out)
    input: str | None = None  # port name substring, "virtual", or None for no input
    output: str | None = None
    clock_out: bool = False
    notes_out: bool = False  # tracks → notes (``mapping``: midi.json, else General MIDI on channel 10)
    record: bool = False  # notes in are written into the pattern, quantised to 16ths
    api: str = "jack"  # the MIDI system, as --midi-api resolves (midiports.resolve)
    cc_file: Path | None = None  # CC map loaded at start and saved when learning binds; None: none
    learn: tuple[tuple[str, str], ...] = ()  # (track, parameter) bound in turn to the next CCs moved
    mapping: MidiMap = MidiMap()  # per-track notes out and in, and port names


def add_arguments(run: argparse.ArgumentParser) -> None:
    g = run.add_argument_group("MIDI (ports by case-insensitive name part, or 'virtual')")
    g.add_argument("--clock", choices=("internal", "midi", "link"), default="internal",
                   help="clock source: internal (tempo, tap), the MIDI input's clock and transport, or "
                   "an Ableton Link session's tempo, phase and start/stop")
    g.add_argument("--midi-in", metavar="PORT", help="MIDI input: clock, transport, drum notes, CC")
    g.add_argument("--midi-out", metavar="PORT", help="MIDI output for clock and notes")
    g.add_argument("--midi-clock-out", action="store_true", help="send the internal clock (master)")
    g.add_argument("--midi-notes-out", action="store_true", help="send each track's hits as notes")
    g.add_argument("--midi-record", action="store_true", help="record notes in into the pattern")
    midiports.add_api_option(g)
    g.add_argument("--cc-learn", metavar="TRACK:PARAM", action="append", type=midicc.learn_target, default=[],
                   help="bind the next CC moved to this parameter (track by number or name; repeat for "
                   "more, one knob each); kept in <session>.cc.json")


class MidiConfigError(RuntimeError):
    """MIDI options that cannot work together: one line, before anything starts."""


def config_from_args(args: argparse.Namespace) -> MidiConfig | None:
    """The MIDI options, each taking effect alone: an input or output a flag needs and no port was
    named for is gridtonic's own virtual one."""
    follow = args.clock == "midi"
    if follow and args.midi_clock_out:
        raise MidiConfigError("--midi-clock-out sends the internal clock, --clock midi follows another "
                              "master's: use one")
    sends = args.midi_clock_out or args.midi_notes_out
    wants_in = follow or args.midi_in or args.cc_learn or args.midi_record
    if not (wants_in or args.midi_out or sends):
        return None
    session = args.session or store.default_path()
    table = settings.mapping("midi")  # config.toml's, else midi.json beside the session
    mapping = midimap.from_dict(*table) if table else midimap.load(session.with_name("midi.json"))
    if args.midi_out and not sends:
        log.warning("--midi-out %s: nothing to send; add --midi-clock-out and/or --midi-notes-out",
                    args.midi_out)
    return MidiConfig(
        follow=follow, input=args.midi_in or (mapping.input or VIRTUAL if wants_in else None),
        output=args.midi_out or (mapping.output or VIRTUAL if sends else None),
        clock_out=args.midi_clock_out, notes_out=args.midi_notes_out,
        record=args.midi_record, api=midiports.resolve(args.midi_api)[0],
        cc_file=midicc.path_for(session), learn=tuple(args.cc_learn), mapping=mapping,
    )


def cc_map(config: MidiConfig, tracks: list[str]) -> midicc.CcMap:
    """The saved CC map with the learn targets armed; a target naming no track is skipped with a line."""
    cc = midicc.open_map(config.cc_file) if config.cc_file is not None else midicc.CcMap()
    for track, name in config.learn:
        index = midicc.track_index(track, tracks)
        if index is None:
            log.error("--cc-learn %s:%s: no track %r (have %s); skipped", track, name, track,
                      ", ".join(tracks))
            continue
        cc.learn(index, name)
        log.info("CC learn: move a control for track %d (%s) %s", index + 1, tracks[index], name)
    return cc


async def serve(config: MidiConfig, sequencer: Sequencer, play: Callable[[Hit], None], latency: float,
                task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Run the configured MIDI input and output until cancelled (again after a crash: the output
    leaves the sequencer when it ends)."""
    out: MidiOut | None = None
    try:
        async with trio.open_nursery() as n:
            if config.input is not None:
                clock = sequencer.clock if isinstance(sequencer.clock, MidiClock) else None
                cc = cc_map(config, [t.name for t in sequencer.session.tracks])
                midi_in = MidiIn(sequencer, play, clock=clock, record=config.record, latency=latency, cc=cc,
                                 mapping=config.mapping)
                await n.start(midi_in.run, config.input, config.api)
                if config.cc_file is not None:
                    n.start_soon(store.keep_saved, lambda: midicc.dumps(cc), config.cc_file, midicc.dumps(cc))
            if config.output is not None:
                notes = dict(enumerate(config.mapping.out)) if config.notes_out else {}
                out = MidiOut(sequencer, latency, notes, clock=config.clock_out)
                sequencer.sinks.append(out.play)
                await n.start(out.run, config.output, config.api)
            task_status.started()
    finally:
        if out is not None:
            sequencer.sinks.remove(out.play)
            sequencer.listeners.remove(out.transport)
