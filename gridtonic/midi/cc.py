"""CC learn: a controller's knobs on track parameters, bound by moving them, kept beside the session.

``gridtonic run --cc-learn kick:oscFreq`` arms learning: the next CC that moves binds to that
parameter; several ``--cc-learn`` bind in order, one knob each (a knob sends a stream of values,
so a CC learnt once in a run is not learnt again). Bindings live in ``<session>.cc.json`` beside
the session file and are loaded at start; a file that cannot be used is reported in one line and
the map starts empty. Pure except :func:`open_map`.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridtonic.core import params
from gridtonic.io import store

log = logging.getLogger(__name__)

FORMAT = "gridtonic-cc"


class CcError(ValueError):
    """A CC map file that cannot be used at all."""


def cc_value(name: str, value: int) -> float:
    """A 0–127 CC value as a value of parameter ``name``: linear over its range, on a log scale
    for exponential ones (a knob's middle is the geometric mean: 632 Hz for 20 Hz–20 kHz)."""
    return params.BY_NAME[name].at(min(max(value, 0), 127) / 127.0)


@dataclass
class CcMap:
    """(channel 0-15, CC) → (track index, parameter); ``learning`` lists the targets waiting for a knob."""

    bindings: dict[tuple[int, int], tuple[int, str]] = field(default_factory=dict)
    learning: list[tuple[int, str]] = field(default_factory=list)
    _learnt: set[tuple[int, int]] = field(default_factory=set)  # CCs bound by learning in this run

    def learn(self, track: int, name: str) -> None:
        """The next CC that moves (and was not learnt already in this run) binds to ``name`` of ``track``."""
        if name not in params.BY_NAME:
            raise ValueError(f"no parameter {name!r}")
        self.learning.append((track, name))

    def target(self, channel: int, cc: int) -> tuple[int, str] | None:
        key = (channel, cc)
        if self.learning and key not in self._learnt:
            self.bindings[key] = self.learning.pop(0)
            self._learnt.add(key)
            log.info("CC %d on channel %d → track %d %s", cc, channel + 1, self.bindings[key][0] + 1,
                     self.bindings[key][1])
        return self.bindings.get(key)

    def to_dict(self) -> dict[str, Any]:
        """Channels and tracks count from 1 in the file, as on the devices and in the UI."""
        rows = [{"channel": ch + 1, "cc": cc, "track": track + 1, "param": name}
                for (ch, cc), (track, name) in sorted(self.bindings.items())]
        return {"format": FORMAT, "bindings": rows}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> CcMap:
        """Bindings from a file's data; a bad row is dropped with a warning naming it."""
        if not isinstance(d, dict) or d.get("format") != FORMAT or not isinstance(d.get("bindings"), list):
            raise CcError(f'{where}: not a gridtonic CC map (want "format": "{FORMAT}", "bindings")')
        cc = cls()
        for i, row in enumerate(d["bindings"]):
            try:
                channel, number, track, name = (row["channel"], row["cc"], row["track"], row["param"])
                numbers = (channel, number, track)
                if not (all(type(v) is int for v in numbers) and 1 <= channel <= 16 and 0 <= number <= 127
                        and track >= 1 and name in params.BY_NAME):
                    raise ValueError
            except (TypeError, KeyError, ValueError):
                log.warning("%s: bindings[%d] %r is not {channel 1-16, cc 0-127, track ≥1, param}; ignored",
                            where, i, row)
                continue
            cc.bindings[(channel - 1, number)] = (track - 1, name)
        return cc


def dumps(cc: CcMap) -> str:
    return json.dumps(cc.to_dict(), indent=1) + "\n"


def path_for(session: Path) -> Path:
    """The CC map beside a session file: ``session.json`` → ``session.cc.json``."""
    return session.with_name(f"{session.stem}.cc.json")


def open_map(path: Path) -> CcMap:
    """The saved map, or an empty one: missing silently, unusable with one error line."""
    if not path.exists():
        return CcMap()
    try:
        return CcMap.from_dict(store.read_json(path, store.MAX_CONFIG_BYTES), str(path))
    except Exception as e:  # noqa: BLE001 - a broken file means no bindings, not no music
        log.error("%s; starting with no CC mappings (learning overwrites the file)",
                  e if isinstance(e, CcError) else store.unusable(path, e))
        return CcMap()


def learn_target(text: str) -> tuple[str, str]:
    """``TRACK:PARAM`` from the command line (track by number from 1 or by name): (track, param)."""
    track, sep, name = text.rpartition(":")
    if not sep or not track:
        raise argparse.ArgumentTypeError(f"{text!r}: expected TRACK:PARAM, e.g. kick:oscFreq or 1:level")
    found = next((p for p in params.BY_NAME if p.lower() == name.lower()), None)
    if found is None:
        have = ", ".join(params.BY_NAME)
        raise argparse.ArgumentTypeError(f"{text!r}: no parameter {name!r} (have {have})")
    return track, found


def track_index(track: str, names: list[str]) -> int | None:
    """A track given by number (from 1) or by name (ignoring case), as an index; None if not there."""
    if track.isdigit():
        return int(track) - 1 if 1 <= int(track) <= len(names) else None
    lowered = [n.lower() for n in names]
    return lowered.index(track.lower()) if track.lower() in lowered else None
