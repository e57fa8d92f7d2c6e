"""The bytes gridtonic sends a Launchpad: mode changes and LED updates, per model. Pure.

LEDs go out only as SysEx on models that have it (gen-3: RGB 0–127, 81 LEDs a message; MK2: RGB
0–63, 80 a message), so one message repaints a whole unit and no stray note can leave a pad
flashing or pulsing. The S and the Minis before MK3 have no SysEx: a note (pads, side column) or a
CC (top row) whose velocity holds red and green, 0–3 each.
"""

from __future__ import annotations

from collections.abc import Iterable

from gridtonic.core.midiparse import CONTROL_CHANGE, NOTE_ON, SYSEX, SYSEX_END
from gridtonic.launchpad import models
from gridtonic.launchpad.models import NOVATION, Model

RGB = tuple[int, int, int]  # 0–255 each
Message = list[int]

GEN3_LEDS, GEN3_SPECS = 0x03, 81  # LED lighting command, specs a message (Novation: "up to 81")
GEN3_STATIC, GEN3_RGB = 0x00, 0x03  # spec types: palette colour (static), RGB
GEN3_MODE = 0x0E  # programmer/live switch: 1 programmer, 0 live
LIVE, PROGRAMMER = 0, 1
MK2_RGB, MK2_ALL, MK2_LAYOUT, MK2_SPECS = 0x0B, 0x0E, 0x22, 80
S_RESET, S_XY_LAYOUT = [CONTROL_CHANGE, 0, 0], [CONTROL_CHANGE, 0, 1]
S_NORMAL = 12  # velocity flags "copy + clear": the colour shows at once, in both buffers


def sysex(model: Model, *data: int) -> Message:
    """F0 00 20 29 02 <device> data… F7."""
    assert model.device is not None, f"{model.name} has no SysEx"
    return [SYSEX, *NOVATION, 0x02, model.device, *data, SYSEX_END]


def _batched(model: Model, command: int, specs: list[tuple[int, ...]], n: int) -> list[Message]:
    """One SysEx ``command`` a run of up to ``n`` specs."""
    return [sysex(model, command, *(b for s in specs[k:k + n] for b in s)) for k in range(0, len(specs), n)]


def scale(rgb: RGB, top: int) -> RGB:
    """0–255 components as 0–``top`` (127 for gen-3, 63 for MK2), rounding half up."""
    return tuple((c * top + 127) // 255 for c in rgb)  # type: ignore[return-value]


def red_green(rgb: RGB) -> tuple[int, int]:
    """The nearest S/Mini colour (red, green: 0–3 each): the brightest component sets the level,
    blue counts half to each, so no colour of a palette goes dark on a red/green pad."""
    r, g, b = rgb
    level = (max(rgb) * 3 + 127) // 255
    red, green = r + b / 2, g + b / 2
    top = max(red, green)
    if level == 0 or top == 0:
        return 0, 0
    return round(level * red / top), round(level * green / top)


def leds(model: Model, colours: Iterable[tuple[int, RGB]]) -> list[Message]:
    """The messages that set LEDs (index, colour 0–255) on ``model``, batched where it can be."""
    items = list(colours)
    if model.kind == "gen3":
        return _batched(model, GEN3_LEDS, [(GEN3_RGB, i, *scale(c, 127)) for i, c in items], GEN3_SPECS)
    if model.kind == "mk2":
        return _batched(model, MK2_RGB, [(i, *scale(c, 63)) for i, c in items], MK2_SPECS)
    out = []
    for i, c in items:
        red, green = red_green(c)
        status = CONTROL_CHANGE if i >= 104 else NOTE_ON
        out.append([status, i, 16 * green + red + S_NORMAL])
    return out


def clear(model: Model, indices: Iterable[int]) -> list[Message]:
    """Every LED off and static: a gen-3 LED left flashing or pulsing (by another program) stops."""
    if model.kind == "gen3":
        return _batched(model, GEN3_LEDS, [(GEN3_STATIC, i, 0) for i in indices], GEN3_SPECS)
    if model.kind == "mk2":
        return [sysex(model, MK2_ALL, 0)]
    return [S_RESET]


def start(model: Model) -> list[Message]:
    """Into the mode where pads send 11–88 and LEDs take SysEx (programmer mode, MK2 session
    layout, S X-Y layout), every LED off (also those no layout reaches: ``models.every_led``)."""
    if model.kind == "gen3":
        return [sysex(model, GEN3_MODE, PROGRAMMER), *clear(model, models.every_led(model))]
    if model.kind == "mk2":
        return [sysex(model, MK2_LAYOUT, 0), *clear(model, ())]
    return [S_RESET, S_XY_LAYOUT]


def mode_query(model: Model) -> Message | None:
    """The gen-3 read-back of the live/programmer mode (the command without its value)."""
    return sysex(model, GEN3_MODE) if model.kind == "gen3" else None


def mode_reply(model: Model, message: tuple[int, ...]) -> int | None:
    """The mode in a read-back reply (F0 00 20 29 02 <dev> 0E <mode> F7), else None."""
    if model.kind != "gen3" or len(message) != 9:
        return None
    head = tuple(sysex(model, GEN3_MODE)[:-1])
    return message[7] if message[:7] == head and message[8] == SYSEX_END else None


def restore(model: Model, previous: int | None) -> list[Message]:
    """Every LED off and back to the mode the device was in before (gen-3; Live when unknown); MK2
    and S to their power-on layout."""
    if model.kind == "gen3":
        back = LIVE if previous is None else previous
        return [*clear(model, models.every_led(model)), sysex(model, GEN3_MODE, back)]
    if model.kind == "mk2":
        return [*clear(model, ()), sysex(model, MK2_LAYOUT, 0)]
    return [S_RESET]
