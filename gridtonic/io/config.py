"""Settings a user keeps: ``config.toml`` in the user config dir, defaults for any command's options.

Sessions, presets and mappings are data and stay in the data dir; what a player sets once for a
machine (ports, devices, latency, clock, log level) belongs in the config dir, where platformdirs
puts it (``~/.config/gridtonic`` on Linux; ``GRIDTONIC_CONFIG`` names another file). A table per
command holds its options by their long names (``web-port`` or ``web_port``), checked by the
option's own parser; the command line wins over the file::

    log_level = "warning"
    [run]
    latency = 0.05
    web-port = 8810
    midi-in = "MPK mini"
    [mapping.midi]        # what midi.json holds (that file, beside the session, is read when
    input = "MPK mini"    # this table is absent); [mapping.crow] likewise for crow.json
    [[mapping.midi.tracks]]
    out = {channel = 10, note = 36}

A value that is no use (unknown name, wrong type, out of range) is dropped with one warning naming
the file, table and key; a file that cannot be read at all is one warning, and nothing of it is used.
"""

from __future__ import annotations

import argparse
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from gridtonic.core.fields import shown
from gridtonic.io import store

FILE = "config.toml"


def path() -> Path:
    override = os.environ.get("GRIDTONIC_CONFIG")
    return Path(override) if override else Path(platformdirs.user_config_dir("gridtonic")) / FILE


@dataclass
class Settings:
    """The file's tables, and the warnings found reading and applying them (logged once logging is
    set up, which the file's own ``log_level`` decides)."""

    where: Path
    tables: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def log_level(self) -> str | None:
        level = self.tables.get("log_level")
        if level is None or level in ("debug", "info", "warning", "error"):
            return level
        self.problems.append(f"{self.where}: log_level = {shown(level)}: use debug, info, warning or "
                             "error; ignored")
        return None


def load(where: Path | None = None) -> Settings:
    """The settings in ``where`` (default :func:`path`); empty when there is no file."""
    where = where or path()
    settings = Settings(where)
    if not where.exists():
        return settings
    try:
        settings.tables = tomllib.loads(store.read_capped(where, store.MAX_CONFIG_BYTES).decode("utf-8"))
    except (store.FileError, ValueError, RecursionError) as e:  # TOML, UTF-8, a >4300-digit integer
        settings.problems.append(f"{where}: not used ({e})")
    return settings


def apply(settings: Settings, commands: dict[str, argparse.ArgumentParser]) -> None:
    """Each table's values as defaults of the command it is named after."""
    for name, table in settings.tables.items():
        if name in ("log_level", "mapping"):
            continue
        at = f"{settings.where}: [{_key(name)}]"
        command = commands.get(name)
        if command is None or not isinstance(table, dict):
            settings.problems.append(f"{at} is no command's table; ignored")
            continue
        options = {a.dest: a for a in command._actions if a.option_strings}
        for key, value in table.items():
            action = options.get(key.replace("-", "_"))
            if action is None or action.dest == "help":
                settings.problems.append(f"{at} {_key(key)}: gridtonic {name} has no such option; ignored")
                continue
            try:
                command.set_defaults(**{action.dest: _value(action, value)})
            except (argparse.ArgumentTypeError, ValueError, TypeError) as e:
                settings.problems.append(f"{at} {key} = {shown(value)}: {e}; ignored")


def _key(key: str) -> str:
    """A key for a warning: as written when it is a plain name, else quoted and cut short."""
    return key if re.fullmatch(r"[\w-]{1,40}", key) else shown(key)


def _value(action: argparse.Action, value: Any) -> Any:
    """``value`` checked as the option would check it on the command line."""
    if action.nargs == 0:  # a flag
        if not isinstance(value, bool):
            raise TypeError("must be true or false")
        return value if action.const is not False else not value
    if isinstance(action, argparse._AppendAction):
        if not isinstance(value, list):
            raise TypeError("must be a list")
        return [_one(action, v) for v in value]
    return _one(action, value)


def _one(action: argparse.Action, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError("must be a string or a number")
    try:
        converted = action.type(str(value)) if callable(action.type) else str(value)
    except (TypeError, ValueError):  # as argparse words it (its ArgumentTypeErrors pass as they are)
        kind = getattr(action.type, "__name__", "a")
        raise ValueError(f"invalid {kind} value: {shown(value)}") from None
    if action.choices is not None and converted not in action.choices:
        raise ValueError(f"must be one of {', '.join(map(str, action.choices))}")
    return converted


def mapping(kind: str, where: Path | None = None) -> tuple[Any, str] | None:
    """The ``[mapping.<kind>]`` table ("midi", "crow") and where it is, for that mapping's own
    checks; None when the settings have none (the old JSON file in the data dir is read then)."""
    settings = load(where)
    table = settings.tables.get("mapping", {})
    if not isinstance(table, dict) or kind not in table:
        return None
    return table[kind], f"{settings.where} [mapping.{kind}]"
