"""The monome grid: serialosc keys into a surface, the surface's frames out as changed quads.

Thin glue. A grid plugged in (at start or mid-performance) gets the layout for its size and its
whole frame at once; unplugging it only stops its LED task, never the music; the next grid found
takes over with the same surface (pattern slots and selection survive a replug).

Rotation is set at every connect (0 unless configured): the shipped layouts are landscape, and a
grid left turned by another app would otherwise report 8×16. The layout follows the size the grid
reports after rotation (a 128 at 90° gets the 8×8 layout on its top half).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import trio

from gridtonic.core import layout
from gridtonic.core.frame import Frame, changed_quads, four_levels
from gridtonic.core.surface import Surface
from gridtonic.grid.serialosc import DEFAULT_PORT, Device, SerialOsc

log = logging.getLogger(__name__)


@dataclass
class GridConfig:
    serialosc_port: int = DEFAULT_PORT
    want: str | None = None  # serial of the grid to use; None: the first one found
    rotation: int | None = 0  # 0, 90, 180, 270, set at connect; None: as serialosc has it
    layout: Path | None = None  # None: the built-in layout for the grid's size
    four_levels: bool = False  # a 2011 grid (4 brightness levels)
    bind: str = "127.0.0.1"


class Grid:
    def __init__(self, surface: Surface, config: GridConfig):
        self.surface = surface
        self.config = config
        self.client = SerialOsc(port=config.serialosc_port, want=config.want, rotation=config.rotation,
                                bind=config.bind)
        self.client.on_key = surface.key
        self.client.on_ready = self._ready
        self.client.on_gone = self._gone
        self._custom = layout.load(config.layout) if config.layout else None
        self._nursery: trio.Nursery | None = None
        self._scope: trio.CancelScope | None = None

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as n:
            self._nursery = n
            await n.start(self.client.run)
            task_status.started()

    def _ready(self, dev: Device) -> None:
        lay = self._custom
        if lay is None or (lay.width, lay.height) != (dev.width, dev.height):
            if lay is not None:
                log.error("layout %s is %dx%d but grid %s is %dx%d: using the built-in one",
                          lay.name, lay.width, lay.height, dev.id, dev.width, dev.height)
            lay = layout.builtin(dev.width, dev.height)
        self.surface.use_layout(lay)
        if self._scope is not None:
            self._scope.cancel()
        self._scope = trio.CancelScope()
        assert self._nursery is not None
        self._nursery.start_soon(self._show, lay, self._scope)

    def _gone(self, dev: Device) -> None:
        self.surface.use_layout(self.surface.gestures.layout)  # nothing of a gone grid stays held
        if self._scope is not None:
            self._scope.cancel()

    async def _show(self, lay: layout.Layout, scope: trio.CancelScope) -> None:
        sent: Frame | None = None

        def send(frame: Frame) -> None:
            nonlocal sent
            out = four_levels(frame) if self.config.four_levels else frame
            for (x, y), levels in changed_quads(sent, out, lay.width, lay.height):
                self.client.led_level_map(x, y, levels)
            sent = out

        with scope:
            await self.surface.show(send)


async def serve(surface: Surface, config: GridConfig,
                task_status: trio.TaskStatus[Grid] = trio.TASK_STATUS_IGNORED) -> None:
    """The surface's tasks and the grid; reports the Grid. The prior sampler is the caller's to
    give the surface (the Instrument loads one for every surface)."""
    async with trio.open_nursery() as n:
        await n.start(surface.run)
        g = Grid(surface, config)
        await n.start(g.run)
        task_status.started(g)


def add_arguments(run: argparse.ArgumentParser) -> None:
    """``gridtonic run``'s grid options."""
    g = run.add_argument_group("grid (serialosc)")
    g.add_argument("--no-grid", action="store_true", help="do not look for a monome grid")
    g.add_argument("--serialosc-port", type=int, default=DEFAULT_PORT,
                   help="serialoscd's port (default %(default)s)")
    g.add_argument("--grid-id", help="use this grid (serial, e.g. m1000123); default: the first found")
    g.add_argument("--rotation", type=int, choices=(0, 90, 180, 270), default=0,
                   help="grid rotation set at connect (default %(default)s; 90/270 swap a 128's size)")
    g.add_argument("--layout", type=Path, help="layout TOML (default: layouts/grid<W>x<H>.toml)")
    g.add_argument("--grid-levels", type=int, choices=(16, 4), default=16,
                   help="brightness levels: 4 for 2011 grids (default 16)")


def config_from_args(args: argparse.Namespace) -> GridConfig | None:
    if args.no_grid:
        return None
    if args.layout is not None:
        layout.load(args.layout)  # a bad file stops here with one line, before anything starts
    return GridConfig(args.serialosc_port, args.grid_id, args.rotation, args.layout, args.grid_levels == 4)
