"""The grid end to end over real UDP: the serialosc + grid emulator, gridtonic's serialosc client,
the surface and the prior sampler (built from a tiny MIDI corpus written here)."""

from __future__ import annotations

import socket
from contextlib import asynccontextmanager

import pytest
import trio
from test_prior import groove, write_midi

from gridtonic import frame, layout, osc, prior, udp
from gridtonic.app import Instrument
from gridtonic.clock import InternalClock
from gridtonic.grid import Grid, GridConfig
from gridtonic.gridemulator import SHADES, EmulatedGrid, SerialOscEmulator, picture
from gridtonic.sampler import Sampler
from gridtonic.sequencer import Sequencer
from gridtonic.session import default_session
from gridtonic.surface import Surface

L16 = layout.builtin(16, 8)


@pytest.fixture(scope="module")
def sampler(tmp_path_factory) -> Sampler:
    root = tmp_path_factory.mktemp("corpus")
    groove(root / "a_beat.mid")
    write_midi(root / "b_four.mid", [(t * 120, 36, 100) for t in range(0, 64, 4)]
               + [(t * 120, 38, 100) for t in range(4, 64, 8)])
    counts, _ = prior.build([prior.parse_source(str(root))], None, 1, None)
    return Sampler(counts)


async def until(condition, what: str) -> None:
    """Wait for ``condition()`` (a hang guard of 5 s, not a timing assertion)."""
    with trio.move_on_after(5):
        while not condition():
            await trio.sleep(0.005)
        return
    raise AssertionError(f"gave up waiting for {what}")


def shows(g: EmulatedGrid, surface: Surface) -> bool:
    """The emulated grid lights exactly the surface's current frame."""
    return tuple(g.leds) == surface.frame(trio.current_time())


@asynccontextmanager
async def rig(sampler=None, *grids: EmulatedGrid, want: str | None = None):
    session = default_session()
    for t in session.tracks:
        t.set_pattern("-")
    seq = Sequencer(session, InternalClock(120))
    surface = Surface(L16, session, seq, sampler=sampler)
    async with trio.open_nursery() as n:
        emu = SerialOscEmulator()
        port = await n.start(emu.run)
        for g in grids:
            await emu.plug(g)
        await n.start(surface.run)
        grid = Grid(surface, GridConfig(serialosc_port=port, want=want))
        await n.start(grid.run)
        yield emu, surface, grid
        n.cancel_scope.cancel()


async def tap(g, x, y):
    g.press(x, y, True)
    g.press(x, y, False)


async def test_paint_introspect_generate_and_the_leds_follow(sampler):
    g = EmulatedGrid()
    async with rig(sampler, g) as (_, surface, _grid):
        s = surface.session
        await until(lambda: shows(g, surface), "the first frame")
        assert g.prefix == "/gridtonic" and g.app[1] != 8000  # the /sys handshake happened
        # paint the kick: hold step 1, press 5, 9 and 13 (each fills the span), release
        g.press(0, 0, True)
        for x in (4, 8, 12):
            await tap(g, x, 0)
        g.press(0, 0, False)
        await until(lambda: s.tracks[0].pattern()[:16] == "x" * 13 + "---", "the painted kick")
        await tap(g, 1, 0)
        await tap(g, 2, 0)  # toggles: clear two of them again
        await until(lambda: s.tracks[0].pattern()[:16] == "x--" + "x" * 10 + "---", "toggles")
        await until(lambda: shows(g, surface), "LEDs of the painted row")
        # introspect the snare (row 2) from the kick (row 1) while holding the introspect key
        ix, iy = L16.keys["introspect"]
        before = s.tracks[1].pattern()
        g.press(ix, iy, True)
        await tap(g, 0, 0)
        await tap(g, 0, 1)
        g.press(ix, iy, False)
        await until(lambda: s.tracks[1].pattern() != before, "the introspected snare")
        assert surface.flashes.get(1) is not None
        await until(lambda: shows(g, surface), "LEDs of the snare")
        # steps 17-32 of the kick from its 1-16
        gx, gy = L16.keys["generate"]
        first_half = s.tracks[0].pattern()[:16]
        second = s.tracks[0].pattern()[16:]
        g.press(gx, gy, True)
        await tap(g, 5, 0)
        g.press(gx, gy, False)
        await until(lambda: s.tracks[0].pattern()[16:] != second, "generated steps 17-32")
        assert s.tracks[0].pattern()[:16] == first_half
        await tap(g, *L16.keys["page_2"])  # page 2 shows them
        await until(lambda: surface.gestures.page == 1 and shows(g, surface), "page 2 on the LEDs")
        calm = lambda: not surface.status(trio.current_time()).flashing  # noqa: E731
        await until(lambda: calm() and shows(g, surface), "the flash over")
        assert [g.level(x, 0) >= 4 for x in range(16)] == [c == "x" for c in s.tracks[0].pattern()[16:]]


async def test_unplug_keeps_playing_and_replug_restores_the_leds():
    g = EmulatedGrid()
    async with rig(None, g) as (emu, surface, grid):
        surface.sequencer.start()
        await until(lambda: shows(g, surface) and any(g.leds), "the first frame")
        emu.unplug(g.id)
        await until(lambda: grid.client.device is None, "the unplug noticed")
        surface.key(3, 2, True)  # an edit while no grid is there (from another surface)
        surface.key(3, 2, False)
        assert surface.sequencer.playing
        await emu.plug(g)  # dark again, on a new port
        assert not any(g.leds)
        await until(lambda: shows(g, surface) and g.level(3, 2) > 0, "the frame on the replugged grid")
        surface.sequencer.stop()


async def test_a_grid_plugged_in_later_is_lit_at_once_and_the_named_one_wins():
    first = EmulatedGrid(id="m0000001")
    second = EmulatedGrid(id="m0000002", width=8, height=8, type="monome 64")
    async with rig(None, want="m0000002") as (emu, surface, grid):
        await emu.plug(first)
        await trio.sleep(0.1)
        assert grid.client.device is None and not any(first.leds)  # not the one asked for
        await emu.plug(second)
        await until(lambda: shows(second, surface) and any(second.leds), "the 8x8 lit")
        assert surface.gestures.layout.name == "grid 8x8"
        assert first.led_messages == 0


async def test_garbage_datagrams_are_ignored():
    g = EmulatedGrid()
    async with rig(None, g) as (emu, surface, grid):
        await until(lambda: shows(g, surface), "the first frame")
        junk = [b"", b"\x00" * 7, b"/gridtonic/grid/key\x00", b"#bundle\x00garbage",
                osc.message("/gridtonic/grid/key", "x", 1, 1), osc.message("/gridtonic/grid/key", 99, 99, 1),
                osc.message("/gridtonic/grid/key", 1), osc.message("/serialosc/device", 1),
                osc.message("/sys/size", "big"), osc.message("/something/else", 1.5)]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for data in junk:
                s.sendto(data, ("127.0.0.1", grid.client.local_port))
                s.sendto(data, ("127.0.0.1", emu.port))
                s.sendto(data, ("127.0.0.1", g.port))
        await tap(g, 7, 0)
        await until(lambda: surface.session.tracks[0].steps[7] and shows(g, surface), "a key after the junk")
        assert sum(surface.session.tracks[0].steps) == 1


async def test_four_level_grids_get_the_mapped_frame():
    g = EmulatedGrid()
    async with rig(None, g) as (emu, surface, grid):
        grid.config.four_levels = True
        await until(lambda: any(g.leds), "the grid ready")
        await tap(g, 0, 0)
        want = lambda: frame.four_levels(surface.frame(trio.current_time()))  # noqa: E731
        await until(lambda: tuple(g.leds) == want() and g.level(0, 0) == 12, "the four-level frame")


@pytest.mark.realtime
async def test_the_instrument_plays_from_the_grid(jack_server):
    """gridtonic run's Instrument with the realtime engine: keys edit what scsynth plays."""
    g = EmulatedGrid()
    async with trio.open_nursery() as n:
        emu = SerialOscEmulator()
        port = await n.start(emu.run)
        await emu.plug(g)
        inst = Instrument(default_session(), port=udp.free_port(), jack_server=jack_server,
                          grid=GridConfig(serialosc_port=port))
        hits = []
        inst.sequencer.sinks.append(hits.append)
        await n.start(inst.run)
        await until(lambda: shows(g, inst.surface), "the running instrument's frame")
        await tap(g, *L16.keys["play"])  # it started playing: this stops it
        await until(lambda: not inst.sequencer.playing, "stop from the grid")
        await tap(g, 1, 0)
        await tap(g, *L16.keys["play"])
        await until(lambda: inst.sequencer.playing and inst.session.tracks[0].steps[1], "play from the grid")
        await until(lambda: any(h.track == 0 and h.step % 32 == 1 for h in hits), "the new step played")
        await until(lambda: shows(g, inst.surface), "the playhead on the LEDs")
        n.cancel_scope.cancel()


async def test_the_terminal_emulator_draws_the_leds():
    g = EmulatedGrid()
    async with rig(None, g) as (emu, surface, grid):
        await until(lambda: any(g.leds), "the first frame")
        await tap(g, 0, 0)
        await until(lambda: g.level(0, 0) == 11, "the step lit")
        text = picture(g).splitlines()
        assert len(text) == 8 and all(len(row) == 16 for row in text)
        assert text[0][0] == SHADES[11 * 9 // 15]  # the kick on step 1 at full velocity
