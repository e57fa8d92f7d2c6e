"""Novation Launchpads: which model a port or an inquiry reply names, which port to use, and where
each pad and button sits. Pure: names, bytes and coordinates in, answers out.

A Launchpad is seen as a 9×9 block of keys: ``(0..7, 0)`` the top row of buttons, ``(0..7, 1..8)``
the pads (row 1 at the top), ``(8, 1..8)`` the side column; ``(8, 0)`` is the logo on X and Mini
MK3. Several units side by side make one surface: unit ``i`` of ``n`` keeps its pads and top row at
``x + 8·i`` and puts its side column at ``8·n + i``, so the step area stays contiguous (16 wide for
two) and every button still has a place the layout can name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from gridtonic.core.midiparse import CONTROL_CHANGE, NOTE_OFF, NOTE_ON, SYSEX, SYSEX_END

NOVATION = (0x00, 0x20, 0x29)
INQUIRY = (SYSEX, 0x7E, 0x7F, 0x06, 0x01, SYSEX_END)  # Universal Device Inquiry, to every device ID
UNIT = 9  # keys a unit is wide and tall (8 pads and one button row/column)

Local = tuple[int, int]  # a key inside one unit (0–8, 0–8)
T = TypeVar("T")


@dataclass(frozen=True)
class Model:
    name: str
    kind: str  # "gen3" (X, Mini MK3, Pro MK3: programmer mode, RGB 0–127), "mk2" (RGB 0–63), "s" (red/green)
    device: int | None  # SysEx device byte after F0 00 20 29 02; None: the model has no SysEx for LEDs
    family: tuple[int, int] | None  # device inquiry family code
    names: tuple[str, ...]  # lower-case name parts that identify it in a port name
    interface: str | None = None  # lower-case name part of the USB MIDI interface to use ("lpx midi")
    position: int = 0  # that interface's index among the unit's ports, when names do not tell
    interfaces: int = 1  # USB MIDI interfaces a unit shows
    others: tuple[int, ...] = ()  # LED indices outside the 9×9 keys: never drawn, cleared (``every_led``)


# Most specific names first ("launchpad mini mk3" before "launchpad mini", "pro mk3" before "pro").
# Inquiry families: X 03 01, Mini MK3 13 01, MK2 69 00, S 20 00 from Novation's references;
# Pro MK3 23 01 and Mini MK2 36 00 are unverified. The Pro MK3's LEDs beyond the 9×9 (its
# programmer reference's layout, as launchpad.py draws it): Shift 90 and the logo 99 at either end
# of the top row, the left column 80…10, the two rows below the pads 101–108 and 1–8.
PRO_MK3_OTHERS = (90, 99, *range(80, 0, -10), *range(101, 109), *range(1, 9))
X = Model("Launchpad X", "gen3", 0x0C, (0x03, 0x01), ("launchpad x", "lpx"), "lpx midi", 1, 2)
MINI_MK3 = Model("Launchpad Mini MK3", "gen3", 0x0D, (0x13, 0x01), ("launchpad mini mk3", "lpminimk3"),
                 "lpminimk3 midi", 1, 2)
PRO_MK3 = Model("Launchpad Pro MK3", "gen3", 0x0E, (0x23, 0x01), ("launchpad pro mk3", "lppromk3"),
                "lppromk3 midi", 0, 3, PRO_MK3_OTHERS)
MK2 = Model("Launchpad MK2", "mk2", 0x18, (0x69, 0x00), ("launchpad mk2",))
S = Model("Launchpad S", "s", None, (0x20, 0x00), ("launchpad s",))
MINI = Model("Launchpad Mini", "s", None, (0x36, 0x00), ("launchpad mini",))
ORIGINAL = Model("Launchpad", "s", None, None, ("launchpad",))
MODELS = (X, MINI_MK3, PRO_MK3, MK2, S, MINI, ORIGINAL)
UNSUPPORTED = ("launchpad pro", "launchpad control", "launchkey")  # names that would match too eagerly

_WORD_END = r"(?![a-z0-9])"


def from_name(name: str) -> Model | None:
    """The model a port name names, or None (not a Launchpad, or one gridtonic cannot drive)."""
    low = name.lower()
    for m in MODELS:
        if any(re.search(re.escape(part) + _WORD_END, low) for part in m.names):
            if m is ORIGINAL and any(u in low for u in UNSUPPORTED):
                return None
            return m
    return None


def from_inquiry(message: tuple[int, ...]) -> Model | None:
    """The model an inquiry reply (F0 7E id 06 02 00 20 29 fam fam …) names; None for anything else."""
    if len(message) < 11 or message[:2] != (SYSEX, 0x7E) or message[3:5] != (0x06, 0x02):
        return None
    if message[5:8] != NOVATION:
        return None
    return next((m for m in MODELS if m.family == message[8:10]), None)


@dataclass(frozen=True)
class Found:
    """One Launchpad: its model (None: only an inquiry can tell) and the two ports to use."""

    model: Model | None
    input: str  # the port we read its keys from
    output: str  # the port we send its LEDs to


def choose(names: list[str]) -> list[tuple[Model, str]]:
    """(model, port) for each unit among ``names``, in the order they are listed.

    A unit's ports carry its interface name (X: "LPX DAW", "LPX MIDI"; ALSA may cut it to "LPX MI");
    the model's interface is the one to use, and while only the others show (a unit's ports appear
    one by one) there is none yet. Names without interface names (a bridge that numbers them) are
    taken a unit at a time: the model's position among each run of ``interfaces`` ports.
    """
    picked: list[tuple[int, Model, str]] = []
    for m in MODELS:
        mine = [(i, n) for i, n in enumerate(names) if from_name(n) is m]
        labelled = [(i, n, label) for i, n in mine if (label := _interface(m, n)) is not None]
        if labelled:
            use = (m.interface or "").partition(" ")[2]
            picked += [(i, m, n) for i, n, label in labelled if use.startswith(label)]
            continue
        for k in range(0, len(mine), m.interfaces):
            run = mine[k:k + m.interfaces]
            i, n = run[min(m.position, len(run) - 1)]
            picked.append((i, m, n))
    return [(m, n) for _, m, n in sorted(picked, key=lambda p: p[0])]


def _interface(m: Model, name: str) -> str | None:
    """The interface word after the model's port prefix ("… LPX DAW In" → "daw"), or None."""
    if not m.interface:
        return None
    found = re.search(re.escape(m.interface.partition(" ")[0]) + r" ([a-z]+)", name.lower())
    return found.group(1) if found else None


def _named(part: str, names: list[str]) -> str | None:
    """The port of the first unit whose names contain ``part`` (its model's interface), else the
    first such name that names no Launchpad (a Launchpad's other interfaces are not a fallback)."""
    mine = [n for n in names if part.lower() in n.lower()]
    units = choose(mine)
    return units[0][1] if units else next((n for n in mine if from_name(n) is None), None)


def pair(inputs: list[str], outputs: list[str], want: tuple[str, ...] = ()) -> list[Found]:
    """The Launchpads to drive, left to right: with ``want`` (name parts, ignoring case) the ports
    they name in that order, model from the name if it tells; else every unit found, the n-th
    input of a model with its n-th output."""
    if want:
        found = []
        for part in want:
            i, o = (_named(part, names) for names in (inputs, outputs))
            if i is not None and o is not None:
                found.append(Found(from_name(i) or from_name(o), i, o))
        return found
    outs: dict[Model, list[str]] = {}
    for m, n in choose(outputs):
        outs.setdefault(m, []).append(n)
    seen: dict[Model, int] = {}
    found = []
    for m, n in choose(inputs):
        k = seen[m] = seen.get(m, -1) + 1
        if k < len(outs.get(m, [])):
            found.append(Found(m, n, outs[m][k]))
    return found


# -- keys ---------------------------------------------------------------------------------------

def _pad(note: int) -> Local | None:
    """Programmer-mode numbering: row r (1–8 from the bottom), column c → 10·r + c."""
    r, c = divmod(note, 10)
    if 1 <= r <= 8 and 1 <= c <= 9:
        return c - 1, 9 - r  # column 9 is the side column
    return None


def key(model: Model, message: tuple[int, ...]) -> tuple[Local, bool] | None:
    """The key a note or CC message from the device is about, and whether it went down."""
    if len(message) != 3:
        return None
    kind, number, value = message[0] & 0xF0, message[1], message[2]
    if kind not in (NOTE_ON, NOTE_OFF, CONTROL_CHANGE):
        return None
    down = kind != NOTE_OFF and value > 0
    where: Local | None = None
    if model.kind == "s":
        if kind == CONTROL_CHANGE:
            where = (number - 104, 0) if 104 <= number <= 111 else None
        elif number % 16 <= 8 and number // 16 <= 7:
            where = (number % 16, number // 16 + 1)
    elif kind == CONTROL_CHANGE:
        if model.kind == "gen3" and 91 <= number <= 98:
            where = (number - 91, 0)
        elif model.kind == "mk2" and 104 <= number <= 111:
            where = (number - 104, 0)
        elif model.kind == "gen3" and number % 10 == 9:
            where = _pad(number)
    elif number % 10 != 9 or model.kind == "mk2":  # MK2's side column sends notes
        where = _pad(number)
    return None if where is None else (where, down)


def press(model: Model, local: Local, down: bool) -> list[int]:
    """The message the device sends for a key (what an emulated Launchpad plays; ``key`` reads it)."""
    i = led(model, local)
    assert i is not None and local != (8, 0), f"no key at {local}"
    x, y = local
    cc = y == 0 or (x == 8 and model.kind == "gen3")
    if cc:
        return [CONTROL_CHANGE, i, 127 if down else 0]
    return [NOTE_ON, i, 127 if down else 0]


def led(model: Model, local: Local) -> int | None:
    """The LED index (SysEx; a note or CC number on S/Mini) of a key, None where there is no LED."""
    x, y = local
    if not (0 <= x < UNIT and 0 <= y < UNIT):
        return None
    if y == 0:
        if x == 8:
            return 99 if model.kind == "gen3" and model is not PRO_MK3 else None  # the logo
        return {"gen3": 91, "mk2": 104, "s": 104}[model.kind] + x
    if model.kind == "s":
        return 16 * (y - 1) + x
    return 10 * (9 - y) + x + 1


def leds(model: Model) -> tuple[tuple[Local, int], ...]:
    """Every (key, LED index) of the model, row by row."""
    out = ((xy, led(model, xy)) for xy in ((x, y) for y in range(UNIT) for x in range(UNIT)))
    return tuple((xy, i) for xy, i in out if i is not None)


def every_led(model: Model) -> tuple[int, ...]:
    """Every LED index the device has: its keys' (``leds``), then the ones no layout reaches, which
    another program may have left lit and gridtonic clears on attach and on exit."""
    return (*(i for _, i in leds(model)), *model.others)


# -- several units as one surface ----------------------------------------------------------------

def place(unit: int, units: int, local: Local) -> tuple[int, int]:
    """Surface (x, y) of unit ``unit``'s key ``local`` when ``units`` sit side by side."""
    x, y = local
    return (8 * units + unit if x == 8 else 8 * unit + x), y


def unit_colours(model: Model, unit: int, units: int, frame: tuple[int, ...], width: int,
                 table: tuple[tuple[T, ...], ...]) -> dict[int, T]:
    """LED index → colour of unit ``unit``'s keys in ``frame`` (levels), ``table`` giving each
    surface key's colour per level."""
    out = {}
    for local, i in leds(model):
        x, y = place(unit, units, local)
        k = y * width + x
        out[i] = table[k][frame[k]]
    return out


def size(units: int) -> tuple[int, int]:
    """The surface ``units`` Launchpads make: 9×9 for one, 18×9 for two."""
    return UNIT * units, UNIT
