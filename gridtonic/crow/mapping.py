"""What crow and Just Friends do for each track: the mapping, checked, and the Lua lines it makes.

Pure and deterministic. The mapping comes from a JSON file a person edits, so it is checked field
by field the way sessions are (clamped or dropped with a warning, never a crash), and every Lua
line is built from the checked numbers alone: no text from the file ever reaches crow.

Like norns and foulplay, each output's ASL action is defined once when crow connects
(``output[n].action = pulse(...)``) and a hit only sends ``output[n]()``, a dozen bytes. An
envelope's level follows the step's velocity through an ASL dynamic (``dyn{lev=...}``), updated
only when it changes (``dyn`` exists from crow 3.0; older firmware gets pulses instead); a
gate's length in steps is re-defined only when the tempo moves it by more than GATE_TOLERANCE (a
MIDI clock's measured tempo wobbles on every tick).

Just Friends units are always addressed explicitly, ``ii.jf[1]`` or ``ii.jf[2]``: on crow
(``lib/l_ii_mod.c``) indexing ``ii.jf[n]`` re-addresses the one ``ii.jf`` table for good, so after
any ``ii.jf[2]`` (a second unit, an earlier session, a user script; ``crow.reset()`` keeps it) a
plain ``ii.jf.x`` goes to unit 2.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gridtonic.core.fields import integer, number, unknown
from gridtonic.core.playback import output_velocity
from gridtonic.core.sequencer import STEP_BEATS, Hit
from gridtonic.io import store

log = logging.getLogger(__name__)

OUTPUTS = 4
JF_VOICES = 6
JF_UNITS = 2
BEATS_PER_BAR = 4
KINDS = ("trigger", "gate", "envelope", "clock", "reset")
JF_COMMANDS = ("play_voice", "vtrigger")
GATE_TOLERANCE = 0.01  # relative: a gate is re-defined when its length moves by more than 1 %
DYN_SINCE = (3, 0)  # crow firmware whose ASL has dyn{}, which envelope levels need


class CrowConfigError(ValueError):
    """A crow mapping file that cannot be used at all (unreadable, not JSON, not an object)."""


@dataclass(frozen=True)
class Output:
    """One crow output: fired by a track (trigger, gate, envelope) or by the transport (clock, reset)."""

    kind: str = "trigger"
    track: int | None = None  # 0-based track index (the file counts from 1)
    level: float = 5.0  # V
    time: float = 0.01  # s, trigger/clock/reset pulse width (crow's default)
    steps: float = 0.25  # gate length in 16th steps
    attack: float = 0.005  # s, envelope
    release: float = 0.25  # s, envelope
    division: float = 1.0  # beats between clock pulses
    bars: int = 1  # bars between reset pulses


@dataclass(frozen=True)
class Voice:
    """One Just Friends voice played by a track over ii."""

    track: int  # 0-based
    voice: int = 1  # 1–6
    unit: int = 1  # 1 = the first JF (0x70), 2 = the second (0x75)
    pitch: float = 0.0  # V, 1 V/oct from JF's TIME setting
    level: float = 5.0  # V at velocity 1


@dataclass(frozen=True)
class CrowConfig:
    """Where crow is, how late its writes land, and what each output and JF voice plays."""

    port: str | None = None  # None: find crow by its USB id
    serial_latency: float | None = None  # s; None: measured at connect
    outputs: dict[int, Output] = field(default_factory=dict)  # 1-based output number → mapping
    voices: tuple[Voice, ...] = ()
    jf_command: str = "play_voice"  # play_voice: synthesis mode; vtrigger: JF's own mode kept

    def to_dict(self) -> dict[str, Any]:
        outs = {}
        for n, o in self.outputs.items():
            d: dict[str, Any] = {"kind": o.kind, "level": o.level}
            if o.track is not None:
                d["track"] = o.track + 1
            d.update({
                "trigger": {"time": o.time}, "gate": {"steps": o.steps},
                "envelope": {"attack": o.attack, "release": o.release},
                "clock": {"division": o.division, "time": o.time}, "reset": {"bars": o.bars, "time": o.time},
            }[o.kind])
            outs[str(n)] = d
        return {
            "port": self.port,
            "serial_latency": self.serial_latency,
            "outputs": outs,
            "just_friends": {
                "command": self.jf_command,
                "voices": [{"track": v.track + 1, "voice": v.voice, "unit": v.unit, "pitch": v.pitch,
                            "level": v.level} for v in self.voices],
            },
        }


def default_config() -> CrowConfig:
    """The original supertonic's crow gates: tracks 1–4 → outputs 1–4, 5 V for 1/16 beat."""
    return CrowConfig(outputs={n: Output(kind="gate", track=n - 1) for n in range(1, OUTPUTS + 1)})


def _output(d: Any, where: str) -> Output | None:
    if not isinstance(d, dict):
        log.warning("%s: must be an object; output ignored", where)
        return None
    kind = d.get("kind", "trigger")
    if kind not in KINDS:
        log.warning("%s.kind: %r is not one of %s; output ignored", where, kind, ", ".join(KINDS))
        return None
    unknown(d, {"kind", "track", "level", "time", "steps", "attack", "release", "division", "bars"}, where)
    track = None
    if kind in ("trigger", "gate", "envelope"):
        if "track" not in d:
            log.warning("%s: a %s needs a track; output ignored", where, kind)
            return None
        track = integer(d, "track", 1, 64, 1, where) - 1
    return Output(
        kind=kind,
        track=track,
        level=number(d, "level", -5.0, 10.0, 5.0 if kind != "envelope" else 8.0, where),
        time=number(d, "time", 0.001, 1.0, 0.01, where),
        steps=number(d, "steps", 0.0625, 32.0, 0.25, where),
        attack=number(d, "attack", 0.0, 10.0, 0.005, where),
        release=number(d, "release", 0.001, 10.0, 0.25, where),
        division=number(d, "division", 0.125, 16.0, 1.0, where),
        bars=integer(d, "bars", 1, 16, 1, where),
    )


def _voice(d: Any, where: str) -> Voice | None:
    if not isinstance(d, dict) or "track" not in d:
        log.warning("%s: must be an object with a track; voice ignored", where)
        return None
    unknown(d, {"track", "voice", "unit", "pitch", "level"}, where)
    return Voice(
        track=integer(d, "track", 1, 64, 1, where) - 1,
        voice=integer(d, "voice", 1, JF_VOICES, 1, where),
        unit=integer(d, "unit", 1, JF_UNITS, 1, where),
        pitch=number(d, "pitch", -5.0, 5.0, 0.0, where),
        level=number(d, "level", 0.0, 10.0, 5.0, where),
    )


def from_dict(d: Any, where: str = "crow") -> CrowConfig:
    """A checked mapping; bad fields are clamped or dropped with a warning naming them."""
    if not isinstance(d, dict):
        raise CrowConfigError(f"{where}: a crow mapping must be a JSON object")
    unknown(d, {"port", "serial_latency", "outputs", "just_friends"}, where)
    port = d.get("port")
    if port is not None and not isinstance(port, str):
        log.warning("%s.port: %r is not a path; finding crow by its USB id", where, port)
        port = None
    latency = None
    if d.get("serial_latency") is not None:
        latency = number(d, "serial_latency", 0.0, 0.05, 0.001, where)
    outputs: dict[int, Output] = {}
    raw = d.get("outputs", {})
    if not isinstance(raw, dict):
        log.warning("%s.outputs: must be an object like {\"1\": {...}}; no outputs", where)
        raw = {}
    for key, value in raw.items():
        if key not in {str(n) for n in range(1, OUTPUTS + 1)}:
            log.warning("%s.outputs: %r is not an output 1–%d; ignored", where, key, OUTPUTS)
            continue
        out = _output(value, f"{where}.outputs.{key}")
        if out is not None:
            outputs[int(key)] = out
    jf = d.get("just_friends", {})
    if not isinstance(jf, dict):
        log.warning("%s.just_friends: must be an object; no Just Friends", where)
        jf = {}
    unknown(jf, {"command", "voices"}, f"{where}.just_friends")
    command = jf.get("command", "play_voice")
    if command not in JF_COMMANDS:
        log.warning("%s.just_friends.command: %r is not %s; using play_voice", where, command,
                    " or ".join(JF_COMMANDS))
        command = "play_voice"
    raw_voices = jf.get("voices", [])
    if not isinstance(raw_voices, list):
        log.warning("%s.just_friends.voices: must be a list; no voices", where)
        raw_voices = []
    voices = [_voice(v, f"{where}.just_friends.voices[{i}]") for i, v in enumerate(raw_voices)]
    return CrowConfig(port=port, serial_latency=latency, outputs=outputs,
                      voices=tuple(v for v in voices if v is not None), jf_command=command)


def load(path: Path) -> CrowConfig:
    """The mapping in ``path``; CrowConfigError (one line naming the file) when it cannot be used,
    whatever the file holds."""
    try:
        return from_dict(store.read_json(path, store.MAX_CONFIG_BYTES), where=str(path))
    except CrowConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - a broken file means the default mapping, not no music
        raise CrowConfigError(store.unusable(path, e)) from None


# --- Lua lines: numbers only, formatted here -------------------------------------------------------


def _n(x: float) -> str:
    """A finite number as Lua text (``%.6g``: enough for volts and seconds, never ``inf``/``nan``)."""
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {x!r}")
    return f"{x:.6g}"


def _jf(unit: int) -> str:
    return f"ii.jf[{unit}]"


def gate_seconds(steps: float, tempo: float) -> float:
    return steps * STEP_BEATS * 60.0 / tempo


def action_line(n: int, out: Output, tempo: float) -> str:
    """``output[n].action = ...`` for one output at ``tempo`` (BPM)."""
    if out.kind == "envelope":
        asl = f"ar({_n(out.attack)},{_n(out.release)},dyn{{lev={_n(out.level)}}},'log')"
    elif out.kind == "gate":
        asl = f"pulse({_n(gate_seconds(out.steps, tempo))},{_n(out.level)},1)"
    else:
        asl = f"pulse({_n(out.time)},{_n(out.level)},1)"
    return f"output[{n}].action={asl}"


def firmware(version: str) -> tuple[int, int] | None:
    """(major, minor) of crow's ``^^version`` text (``v4.0.5``, ``v3.0.1-2-g1a2b``); None if unreadable."""
    m = re.match(r"v(\d+)\.(\d+)", version.strip())
    return (int(m[1]), int(m[2])) if m else None


def for_firmware(config: CrowConfig, version: str) -> CrowConfig:
    """The mapping crow ``version`` can play. Before 3.0 ASL has no ``dyn``, so there (and when the
    version cannot be read) an envelope plays as a pulse at its level, as long as attack + release."""
    fw = firmware(version)
    if fw is not None and fw >= DYN_SINCE:
        return config
    return replace(config, outputs={
        n: replace(o, kind="trigger", time=o.attack + o.release) if o.kind == "envelope" else o
        for n, o in config.outputs.items()})


def _units(config: CrowConfig) -> list[int]:
    return sorted({v.unit for v in config.voices})


def gate_lengths(config: CrowConfig, tempo: float) -> dict[int, float]:
    """Each gate output's length in seconds at ``tempo``."""
    return {n: gate_seconds(out.steps, tempo) for n, out in config.outputs.items() if out.kind == "gate"}


def setup_lines(config: CrowConfig, tempo: float, gates: dict[int, float] | None = None) -> list[str]:
    """Sent on every (re)connect: reset crow, define each output's action, JF into synthesis mode.
    ``gates`` is set to the gate lengths defined, for :func:`gate_lines` to compare against."""
    if gates is not None:
        gates.clear()
        gates.update(gate_lengths(config, tempo))
    lines = ["crow.reset()"]
    lines += [action_line(n, out, tempo) for n, out in sorted(config.outputs.items())]
    if config.jf_command == "play_voice":
        lines += [f"{_jf(u)}.mode(1)" for u in _units(config)]
    return lines


def gate_lines(config: CrowConfig, tempo: float, gates: dict[int, float]) -> list[str]:
    """Gate actions re-defined for ``tempo``, only those whose length moved by more than
    GATE_TOLERANCE from the one last sent (``gates``, updated): comparing with what crow has, not
    with the last tempo, so a slow drift is still followed and a wobble costs nothing."""
    lines = []
    for n, length in sorted(gate_lengths(config, tempo).items()):
        last = gates.get(n)
        if last is None or abs(length - last) > GATE_TOLERANCE * last:
            gates[n] = length
            lines.append(action_line(n, config.outputs[n], tempo))
    return lines


def exit_lines(config: CrowConfig) -> list[str]:
    """Sent when gridtonic stops: outputs to 0 V, JF back to its own (shape) mode."""
    lines = [f"output[{n}].volts=0" for n in sorted(config.outputs)]
    if config.jf_command == "play_voice":
        lines += [f"{_jf(u)}.mode(0)" for u in _units(config)]
    return lines


def hit_lines(config: CrowConfig, hit: Hit, levels: dict[int, float]) -> list[str]:
    """The lines one hit sends. ``levels`` holds each envelope's last sent level and is updated, so
    an unchanged level costs nothing."""
    lines = []
    v = min(max(output_velocity(hit), 0.0), 1.0)
    for n, out in sorted(config.outputs.items()):
        if out.track != hit.track:
            continue
        if out.kind == "envelope":
            lev = round(out.level * v, 3)
            if levels.get(n) != lev:
                lines.append(f"output[{n}].dyn.lev={_n(lev)}")
                levels[n] = lev
        lines.append(f"output[{n}]()")
    for voice in config.voices:
        if voice.track != hit.track:
            continue
        level = _n(round(voice.level * v, 3))
        if config.jf_command == "play_voice":
            lines.append(f"{_jf(voice.unit)}.play_voice({voice.voice},{_n(voice.pitch)},{level})")
        else:
            lines.append(f"{_jf(voice.unit)}.vtrigger({voice.voice},{level})")
    return lines


def pulse_beats(config: CrowConfig, b0: float, b1: float) -> list[tuple[float, str]]:
    """(beat, line) of the clock and reset pulses with b0 <= beat < b1, in time order."""
    out: list[tuple[float, str]] = []
    for n, o in config.outputs.items():
        if o.kind == "clock":
            period = o.division
        elif o.kind == "reset":
            period = float(o.bars * BEATS_PER_BAR)
        else:
            continue
        out += [(k * period, f"output[{n}]()") for k in range(math.ceil(b0 / period), math.ceil(b1 / period))]
    return sorted(out)


def write_time(event_time: float, latency: float, serial_latency: float) -> float:
    """When to write a line for an event at ideal time ``event_time``: the audio sounds at
    ``event_time + latency``, and crow acts ``serial_latency`` after a write."""
    return event_time + latency - serial_latency


def uses(config: CrowConfig) -> Iterable[str]:
    """One line per mapped output and voice, for logs and ``gridtonic crow``."""
    for n, o in sorted(config.outputs.items()):
        src = f"track {o.track + 1}" if o.track is not None else "transport"
        yield f"output {n}: {o.kind} from {src}"
    for v in config.voices:
        yield f"JF{v.unit} voice {v.voice}: track {v.track + 1} ({config.jf_command})"
