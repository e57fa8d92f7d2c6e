"""The monome grid: a native serialosc client (``serialosc``, ``udp``), the grid host that plays a
surface on it (``host``) and an emulated serialosc with grids (``emulator``).

Imports ``core``, ``io`` and ``sound``; never another device package. What ``app`` and ``cli`` use:
"""

from gridtonic.grid.host import Grid, GridConfig, add_arguments, config_from_args, serve

__all__ = ["Grid", "GridConfig", "add_arguments", "config_from_args", "serve"]
