"""Novation Launchpads: models and where their pads sit (``models``), the bytes they take
(``sysex``), the host that plays a surface on one or two units (``host``) and an emulated Launchpad
on real JACK ports (``emulator``).

Imports ``core`` and ``io``; never another device package. What ``app`` and ``cli`` use:
"""

from gridtonic.launchpad.host import (
    LaunchpadConfig,
    Launchpads,
    add_arguments,
    builtin,
    config_from_args,
    listing,
)

__all__ = ["LaunchpadConfig", "Launchpads", "add_arguments", "builtin", "config_from_args", "listing"]
