"""Sonic Charge Microtonic files as typed presets: ``.mtpreset`` kits, ``.mtdrum`` drums, V1 ``Key=Value``.

A pure function of the text (``parse``), so it can be fuzzed: anything it cannot use raises
``PresetError`` naming the file, line and field. The syntax is read the way Microtonic writes it and
the way hand-edited and third-party files do: quoted or bare values, ``:`` or ``=``, an optional
``+``, units, ``inf``, CRLF or LF, ``//`` and ``/* */`` comments. Drum values are converted here to
the engine's parameters (params.py) with the original supertonic reader's conversions: ModRate in ms
(Decay mode) becomes 1000/ms Hz, Mix "tone / noise" keeps the tone share, signs are honoured on
every field. Unknown fields are ignored (newer Microtonic versions add some).
"""

from __future__ import annotations

import bisect
import logging
import math
import re
from dataclasses import dataclass, field

from gridtonic.core import params

log = logging.getLogger(__name__)

DRUM_KEYS = range(1, 9)
PATTERN_NAMES = "abcdefghijkl"
MAX_DEPTH = 8
MAX_STEPS = 64
REST = "-._ "  # any other step character (x, X, #, +, o ...) is a hit


class PresetError(ValueError):
    """A Microtonic file that cannot be used; the message is ``file:line: field: what is wrong``."""


# ------------------------------------------------------------------------------------------ syntax
@dataclass
class Scalar:
    text: str
    line: int


@dataclass
class Block:
    """``{ key: value ... }`` (entries) or ``{ a, b, ... }`` (items)."""

    line: int
    entries: list[tuple[str, Scalar | Block, int]] = field(default_factory=list)
    items: list[Scalar] = field(default_factory=list)

    def get(self, key: str) -> Scalar | Block | None:
        for k, v, _ in self.entries:
            if k.lower() == key.lower():
                return v
        return None


_NUMBER = re.compile(
    r"\s*([+-]?)\s*(inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(.*)", re.I | re.S
)
_BARE_END = re.compile(r"[\n{},]|//|/\*")


class _Reader:
    """Recursive descent over the text; positions become line numbers only for messages."""

    def __init__(self, text: str, where: str):
        self.text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.where = where
        self.pos = 0
        self.newlines = [i for i, c in enumerate(self.text) if c == "\n"]

    def line(self, pos: int | None = None) -> int:
        return bisect.bisect_left(self.newlines, self.pos if pos is None else pos) + 1

    def fail(self, what: str, line: int | None = None) -> PresetError:
        return PresetError(f"{self.where}:{line or self.line()}: {what}")

    def skip(self, newlines: bool = True) -> None:
        t = self.text
        while self.pos < len(t):
            c = t[self.pos]
            if c in " \t\f\v\ufeff" or (newlines and c == "\n"):
                self.pos += 1
            elif t.startswith("//", self.pos):
                end = t.find("\n", self.pos)
                self.pos = len(t) if end < 0 else end
            elif t.startswith("/*", self.pos):
                end = t.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated /* comment")
                self.pos = end + 2
            else:
                return

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def quoted(self) -> str:
        start, out, t = self.pos, [], self.text
        self.pos += 1
        while self.pos < len(t) and t[self.pos] not in '"\n':
            if t[self.pos] == "\\" and self.pos + 1 < len(t) and t[self.pos + 1] in '"\\':
                self.pos += 1
            out.append(t[self.pos])
            self.pos += 1
        if self.peek() != '"':
            raise self.fail("unterminated quoted string", self.line(start))
        self.pos += 1
        return "".join(out)

    def key(self) -> str:
        if self.peek() == '"':
            return self.quoted()
        m = re.compile(r"[^\s:={},\"/]+").match(self.text, self.pos)
        if not m:
            raise self.fail(f"expected a name, found {self.peek()!r}")
        self.pos = m.end()
        return m.group()

    def separator(self, key: str) -> None:
        self.skip()
        if self.peek() not in (":", "="):
            raise self.fail(f"{key}: expected ':' or '=' after the name")
        self.pos += 1
        self.skip(newlines=False)

    def scalar(self) -> Scalar:
        line = self.line()
        if self.peek() == '"':
            return Scalar(self.quoted(), line)
        m = _BARE_END.search(self.text, self.pos)
        end = len(self.text) if m is None else m.start()
        text = self.text[self.pos:end].strip()
        self.pos = end
        return Scalar(text, line)

    def block(self, depth: int) -> Block:
        if depth > MAX_DEPTH:
            raise self.fail(f"blocks nested deeper than {MAX_DEPTH}")
        b = Block(self.line())
        self.pos += 1  # "{"
        self.skip()
        while self.peek() != "}":
            if not self.peek():
                raise self.fail(f"missing '}}' for the block opened on line {b.line}")
            if self._is_item():
                b.items.append(self.scalar())
                self.skip()
                if self.peek() == ",":
                    self.pos += 1
                    self.skip()
                continue
            line = self.line()
            k = self.key()
            self.separator(k)
            v = self.block(depth + 1) if self.peek() == "{" else self.scalar()
            b.entries.append((k, v, line))
            self.skip()
            if self.peek() in (",", ";"):
                self.pos += 1
                self.skip()
        self.pos += 1
        return b

    def _is_item(self) -> bool:
        """A list item: a value followed by ',' or '}' rather than by ':'/'='."""
        save = self.pos
        try:
            if self.peek() == '"':
                self.quoted()
            else:
                m = re.compile(r"[^\n{},:=]*").match(self.text, self.pos)
                self.pos = m.end()
            self.skip(newlines=False)
            return self.peek() in (",", "}")
        except PresetError:
            return False
        finally:
            self.pos = save

    def document(self) -> tuple[str, Block]:
        self.skip()
        if not self.peek():
            raise self.fail("empty file")
        header = self.key()
        self.separator(header)
        if self.peek() != "{":
            raise self.fail(f"{header}: expected '{{'")
        body = self.block(1)
        self.skip()
        if self.peek():
            raise self.fail("text after the end of the preset")
        return header, body


# ------------------------------------------------------------------------------------ typed model
@dataclass(frozen=True)
class Drum:
    key: int  # 1..8, the drum's number in Microtonic
    name: str
    patch: dict[str, float]  # complete engine parameters (params.py)
    pan: float = 0.0  # -1..1 (Microtonic's -100..100)
    choke: int | None = None
    output: str = "A"
    line: int = 0


@dataclass(frozen=True)
class Pattern:
    name: str  # "a".."l"
    length: int = 16
    chained: bool = False
    triggers: dict[int, str] = field(default_factory=dict)  # drum key -> step string
    accents: dict[int, str] = field(default_factory=dict)
    fills: dict[int, str] = field(default_factory=dict)

    def has_steps(self) -> bool:
        return any(is_hit(c) for s in self.triggers.values() for c in s[: self.length])


@dataclass(frozen=True)
class Preset:
    name: str
    drums: tuple[Drum, ...]  # in file order
    patterns: dict[str, Pattern] = field(default_factory=dict)
    active: str = "a"
    tempo: float | None = None  # bpm, when the file has one
    swing: float = 0.0  # %
    step_rate: str = "1/16"
    fill_rate: float = 0.0  # FillRate: the fill steps play every this many patterns (0: never by themselves)
    mutes: tuple[bool, ...] = ()
    single: bool = False  # a .mtdrum: one drum, no kit

    def drum(self, key: int) -> Drum | None:
        return next((d for d in self.drums if d.key == key), None)


def is_hit(step: str) -> bool:
    return step not in REST


# --------------------------------------------------------------------------------------- fields
@dataclass(frozen=True)
class _Field:
    engine: str
    units: dict[str, float]  # accepted unit (lower case) -> factor to the engine's unit; "" = bare


_MS = {"": 1.0, "ms": 1.0, "s": 1000.0}
_HZ = {"": 1.0, "Hz": 1.0, "kHz": 1000.0}
_NUMERIC: dict[str, _Field] = {
    "oscfreq": _Field("oscFreq", _HZ),
    "oscatk": _Field("oscAtk", _MS),
    "oscdcy": _Field("oscDcy", _MS),
    "modamt": _Field("modAmt", {"": 1.0, "sm": 1.0, "st": 1.0}),
    "nfilfrq": _Field("nFilFrq", _HZ),
    "nfilq": _Field("nFilQ", {"": 1.0}),
    "nenvatk": _Field("nEnvAtk", _MS),
    "nenvdcy": _Field("nEnvDcy", _MS),
    "distamt": _Field("distAmt", {"": 1.0, "%": 1.0}),
    "eqfreq": _Field("eQFreq", _HZ),
    "eqgain": _Field("eQGain", {"": 1.0, "dB": 1.0}),
    "level": _Field("level", {"": 1.0, "dB": 1.0}),
    "oscvel": _Field("oscVel", {"": 1.0, "%": 1.0}),
    "nvel": _Field("nVel", {"": 1.0, "%": 1.0}),
    "modvel": _Field("modVel", {"": 1.0, "%": 1.0}),
}
_ENUMS: dict[str, tuple[str, dict[str, int]]] = {
    "oscwave": ("oscWave", {"sine": 0, "triangle": 1, "tri": 1, "saw": 2, "sawtooth": 2}),
    "modmode": ("modMode", {"decay": 0, "sine": 1, "noise": 2, "random": 2}),
    "nfilmod": ("nFilMod", {"lp": 0, "bp": 1, "hp": 2}),
    "nstereo": ("nStereo", {"off": 0, "on": 1}),
    "nenvmod": ("nEnvMod", {"exp": 0, "linear": 1, "lin": 1, "mod": 2}),
}
_IGNORED = {"name", "modified", "path", "output", "pan", "choke", "mix", "modrate"}


def number(text: str) -> tuple[float, str]:
    """(value, unit) of ``-12.5 dB``, ``+32.8sm``, ``inf ms``; ValueError if there is no number first."""
    m = _NUMBER.fullmatch(text)
    if not m:
        raise ValueError("not a number")
    value = float(m.group(2))
    if math.isnan(value):
        raise ValueError("not a number")
    return (-value if m.group(1) == "-" else value), m.group(3).strip()


class _Fields:
    """Field lookup for one block, with errors that point at the field's line."""

    def __init__(self, block: Block, where: str):
        self.block, self.where = block, where
        self.lines = {k.lower(): line for k, _, line in block.entries}
        self.names = {k.lower(): k for k, _, _ in block.entries}

    def fail(self, key: str, what: str) -> PresetError:
        line = self.lines.get(key.lower(), self.block.line)
        return PresetError(f"{self.where}:{line}: {self.names.get(key.lower(), key)}: {what}")

    def text(self, key: str) -> str | None:
        v = self.block.get(key)
        if v is None:
            return None
        if isinstance(v, Block):
            raise self.fail(key, "expected a value, found a block")
        return v.text

    def number(self, key: str, units: dict[str, float]) -> float | None:
        text = self.text(key)
        if text is None:
            return None
        try:
            value, unit = number(text)
        except ValueError:
            raise self.fail(key, f"{text!r} is not a number") from None
        factor = {u.lower(): f for u, f in units.items()}.get(unit.lower())
        if factor is None:
            expected = ", ".join(u for u in units if u)
            raise self.fail(key, f"unit {unit!r} not understood (expected {expected})")
        return value * factor


def _drum(block: Block, key: int, where: str) -> Drum:
    f = _Fields(block, where)
    values: dict[str, float] = {}
    for name, spec in _NUMERIC.items():
        v = f.number(name, spec.units)
        if v is not None:
            values[spec.engine] = v
    for name, (engine, choices) in _ENUMS.items():
        text = f.text(name)
        if text is None:
            continue
        if text.strip().lower() not in choices:
            raise f.fail(name, f"{text!r} is not one of {', '.join(sorted(choices))}")
        values[engine] = float(choices[text.strip().lower()])
    mix = f.text("mix")
    if mix is not None:  # "tone / noise": the tone share
        try:
            values["mix"], _ = number(mix.split("/")[0])
        except ValueError:
            raise f.fail("Mix", f"{mix!r} is not 'tone / noise'") from None
    rate = _mod_rate(f, int(values.get("modMode", 0)))
    if rate is not None:
        values["modRate"] = rate
    for k, _, line in block.entries:
        if k.lower() not in _NUMERIC and k.lower() not in _ENUMS and k.lower() not in _IGNORED:
            log.debug("%s:%d: unknown field %r ignored", where, line, k)
    pan = f.number("pan", {"": 1.0, "%": 1.0})
    name = (f.text("name") or f"drum {key}").strip()[:64]
    return Drum(
        key=key,
        name=name,
        patch=params.clean(values, f"{where}: drum {key} ({name})"),
        pan=0.0 if pan is None else min(max(pan / 100.0, -1.0), 1.0),
        choke=_choke(f),
        output=(f.text("output") or "A").strip()[:8],
        line=block.line,
    )


def _mod_rate(f: _Fields, mode: int) -> float | None:
    """ModRate in Hz: a time (ms, s; Decay mode writes them) becomes 1000/ms as in the original reader,
    so the engine's decay lasts ms/2000 s; "inf ms" is the slowest rate (a held offset, Microtonic's
    meaning, where the original lost the sweep) and "0 ms" the fastest, both as meant, so no warning
    says they were clamped. A bare number is read in the unit the mode uses (ms for Decay, Hz
    otherwise)."""
    text = f.text("modrate")
    if text is None:
        return None
    try:
        value, unit = number(text)
    except ValueError:
        raise f.fail("ModRate", f"{text!r} is not a number") from None
    unit = unit.lower() or ("ms" if mode == 0 else "hz")
    if unit in ("hz", "khz"):
        return value * (1000.0 if unit == "khz" else 1.0)
    if unit in ("ms", "s"):
        ms = abs(value) * _MS[unit]
        rate = params.BY_NAME["modRate"]
        return rate.maximum if ms == 0 else rate.minimum if math.isinf(ms) else 1000.0 / ms
    raise f.fail("ModRate", f"unit {unit!r} not understood (expected ms or Hz)")


def _choke(f: _Fields) -> int | None:
    text = (f.text("choke") or "off").strip().lower()
    if text in ("off", "none", "no", "", "0"):
        return None
    if text == "on":
        return 1
    try:
        value, _ = number(text)
    except ValueError:
        raise f.fail("Choke", f"{text!r} is not Off or a group number") from None
    if not (1 <= value <= 8):
        raise f.fail("Choke", f"group {value:g} is not 1..8")
    return int(value)


def _key(text: str, line: int, where: str) -> int:
    try:
        k = int(text.strip())
    except ValueError:
        k = 0
    if k not in DRUM_KEYS:
        raise PresetError(f"{where}:{line}: drum {text!r}: drums are numbered 1..8")
    return k


def _steps(f: _Fields, key: str) -> str:
    text = f.text(key)
    if text is None:
        return ""
    if len(text) > MAX_STEPS:
        raise f.fail(key, f"more than {MAX_STEPS} steps")
    return text


def _patterns(block: Block, where: str) -> dict[str, Pattern]:
    out = {}
    for name, value, line in block.entries:
        if name.lower() not in PATTERN_NAMES or len(name) != 1 or not isinstance(value, Block):
            log.debug("%s:%d: pattern %r ignored (patterns are blocks a..l)", where, line, name)
            continue
        f = _Fields(value, where)
        length = f.number("length", {"": 1.0})
        if length is not None and not (1 <= length <= MAX_STEPS):
            raise f.fail("Length", f"{length:g} is not 1..{MAX_STEPS}")
        chained = (f.text("chained") or "false").strip().lower() in ("true", "on", "yes", "1")
        trig, acc, fill = {}, {}, {}
        for k, v, kline in value.entries:
            if not isinstance(v, Block):
                continue
            d = _key(k, kline, where)
            df = _Fields(v, where)
            trig[d], acc[d], fill[d] = _steps(df, "Triggers"), _steps(df, "Accents"), _steps(df, "Fills")
        out[name.lower()] = Pattern(name.lower(), int(length or 16), chained, trig, acc, fill)
    return out


def _mutes(f: _Fields) -> tuple[bool, ...]:
    v = f.block.get("mutes")
    if v is None:
        return ()
    if not isinstance(v, Block) or v.entries:
        raise f.fail("Mutes", "expected a list like { Off, On, ... }")
    out = []
    for item in v.items[: len(DRUM_KEYS)]:
        t = item.text.strip().lower()
        if t not in ("on", "off", "true", "false"):
            raise PresetError(f"{f.where}:{item.line}: Mutes: {item.text!r} is not On or Off")
        out.append(t in ("on", "true"))
    return tuple(out)


def parse(text: str, where: str = "<preset>", name: str = "") -> Preset:
    """The preset in ``text`` (``where`` names the file in errors, ``name`` is the preset's name)."""
    header, body = _Reader(text, where).document()
    kind = header.lower()
    if "drumpatch" in kind:
        drum = _drum(body, 1, where)
        return Preset(name or drum.name, (drum,), single=True)
    if "preset" not in kind or "microtonic" not in kind:
        raise PresetError(f"{where}:{body.line}: not a Microtonic preset (header {header!r})")
    f = _Fields(body, where)
    patches = body.get("drumpatches")
    if not isinstance(patches, Block) or not patches.entries:
        raise f.fail("DrumPatches", "missing (a kit needs drum blocks \"1\"..\"8\")")
    drums, seen = [], {}
    for k, v, line in patches.entries:
        if not isinstance(v, Block):
            raise PresetError(f"{where}:{line}: drum {k!r}: expected a block {{ ... }}")
        key = _key(k, line, where)
        if key in seen:
            raise PresetError(f"{where}:{line}: drum {key}: defined twice (also on line {seen[key]})")
        seen[key] = line
        drums.append(_drum(v, key, where))
    patterns = body.get("patterns")
    active = (f.text("pattern") or "a").strip().lower()
    if active not in PATTERN_NAMES or len(active) != 1:
        raise f.fail("Pattern", f"{active!r} is not a..l")
    tempo = f.number("tempo", {"": 1.0, "bpm": 1.0})
    swing = f.number("swing", {"": 1.0, "%": 1.0})
    fill_rate = f.number("fillrate", {"": 1.0, "x": 1.0})
    return Preset(
        name=name or where,
        drums=tuple(drums),
        patterns=_patterns(patterns, where) if isinstance(patterns, Block) else {},
        active=active,
        tempo=tempo if tempo is not None and math.isfinite(tempo) else None,
        swing=0.0 if swing is None or not math.isfinite(swing) else swing,
        step_rate=(f.text("steprate") or "1/16").strip(),
        fill_rate=fill_rate if fill_rate is not None and math.isfinite(fill_rate) and fill_rate > 0 else 0.0,
        mutes=_mutes(f),
    )
