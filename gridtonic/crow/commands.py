"""``gridtonic crow`` (is crow there, what will it play) and ``gridtonic run --crow``.

The mapping lives in ``crow.json`` beside the session (``gridtonic crow map > FILE`` writes a
starting point); without one, tracks 1–4 gate outputs 1–4 like the original supertonic.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

from gridtonic.crow import host, mapping
from gridtonic.crow.mapping import CrowConfig, CrowConfigError
from gridtonic.io import config as settings
from gridtonic.io import store

log = logging.getLogger(__name__)


def default_path() -> Path:
    return store.data_dir() / "crow.json"


def config_from(args: argparse.Namespace) -> CrowConfig | None:
    """The mapping ``run`` plays: None with ``--crow off``; a broken file is reported in one line
    and the default mapping plays instead."""
    port = getattr(args, "crow", None)
    if port == "off":
        return None
    path = getattr(args, "crow_map", None) or default_path()
    config = mapping.default_config()
    table = None if getattr(args, "crow_map", None) else settings.mapping("crow")  # config.toml's
    if table or path.exists():
        try:
            config = mapping.from_dict(*table) if table else mapping.load(path)
        except CrowConfigError as e:
            log.error("%s; using the default crow mapping", e)
    return replace(config, port=port) if port else config


def add_commands(sub: argparse._SubParsersAction) -> None:
    run = sub.choices["run"]
    run.add_argument("--crow", metavar="PORT|off",
                     help="crow's serial port, or off (default: find crow by USB id, any time it is plugged)")
    run.add_argument("--crow-map", type=Path, help=f"crow/Just Friends mapping (default {default_path()})")
    p = sub.add_parser("crow", help="crow over USB: status, mapping")
    p.add_argument("what", choices=("status", "map"), help="status: find crow and say hello; "
                   "map: print the mapping in use as JSON (a starting point for crow.json)")
    p.add_argument("--crow", metavar="PORT", help="crow's serial port (default: by USB id)")
    p.add_argument("--crow-map", type=Path, help=f"mapping file (default {default_path()})")
    p.set_defaults(func=_crow)


def _crow(args: argparse.Namespace) -> int:
    config = config_from(args)
    assert config is not None
    if args.what == "map":
        print(json.dumps(config.to_dict(), indent=1))
        return 0
    for line in mapping.uses(config):
        print(line)
    paths = host.find_ports(config.port)
    if not paths:
        print(f"crow: not found ({config.port or 'no USB device 0483:5740'})")
    for path in paths:
        try:
            port, hello = host.connect(path)
        except (host.CrowError, OSError) as e:
            print(f"crow: {path}: {e}")
            continue
        port.close()
        print(f"crow: {hello.version} {hello.identity} on {path}, "
              f"serial latency {hello.latency * 1e3:.2f} ms (half the median ^^v round trip)")
        if mapping.for_firmware(config, hello.version) != config:
            print(f"crow: {host.fallback_note(hello.version)}")
        if config.serial_latency is not None:
            print(f"crow: configured serial latency {config.serial_latency * 1e3:.2f} ms used")
        return 0
    return 1
