"""The grid end to end over real UDP: the serialosc + grid emulator, gridtonic's serialosc client,
the surface and the prior sampler (built from a tiny MIDI corpus written here)."""

from __future__ import annotations

import socket
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from test_prior import groove, write_midi

from gridtonic import analysis
from gridtonic.app import Instrument
from gridtonic.core import frame, layout, params
from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import Sequencer
from gridtonic.core.session import default_session
from gridtonic.core.surface import Surface
from gridtonic.grid import serialosc, udp
from gridtonic.grid.emulator import SHADES, EmulatedGrid, SerialOscEmulator, picture
from gridtonic.grid.host import Grid, GridConfig
from gridtonic.io import osc
from gridtonic.prior import database
from gridtonic.prior.sampler import Sampler

L16 = layout.builtin(16, 8)


@pytest.fixture(scope="module")
def sampler(tmp_path_factory) -> Sampler:
    root = tmp_path_factory.mktemp("corpus")
    groove(root / "a_beat.mid")
    write_midi(root / "b_four.mid", [(t * 120, 36, 100) for t in range(0, 64, 4)]
               + [(t * 120, 38, 100) for t in range(4, 64, 8)])
    counts, _ = database.build([database.parse_source(str(root))], None, 1, None)
    return Sampler(counts)


async def until(condition, what: str) -> None:
    """Wait for ``condition()`` (a hang guard of 5 s, not a timing assertion)."""
    with trio.move_on_after(5):
        while not condition():
            await trio.sleep(0.005)
        return
    raise AssertionError(f"gave up waiting for {what}")


def shows(g: EmulatedGrid, surface: Surface) -> bool:
    """The emulated grid lights exactly the surface's current frame where the layout lies (in the
    app's coordinates: a rotated grid shows it turned)."""
    lay, (w, h) = surface.gestures.layout, g.size
    if lay.width > w or lay.height > h:
        return False
    view = g.view()
    return tuple(view[y * w + x] for y in range(lay.height) for x in range(lay.width)) == surface.frame(
        trio.current_time())


@asynccontextmanager
async def rig(sampler=None, *grids: EmulatedGrid, **config):
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
        grid = Grid(surface, GridConfig(serialosc_port=port, **config))
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


async def test_serialoscd_and_the_grid_restarted_on_new_ports_are_repainted_and_play():
    g = EmulatedGrid()
    async with rig(None, g) as (emu, surface, grid):
        await until(lambda: shows(g, surface) and any(g.leds), "the first frame")
        await emu.stop()  # killed: no /serialosc/remove, the device's port closes
        port = g.port
        while port == g.port:
            port = udp.free_port()
        async with trio.open_nursery() as n:
            again = SerialOscEmulator(emu.port)  # serialoscd's well-known port; the grid's is new
            await n.start(again.run)
            back = await again.plug(EmulatedGrid(port=port))  # fresh: /monome, app port 8000, dark
            await until(lambda: shows(back, surface) and any(back.leds), "the grid on its new port repainted")
            await tap(back, 7, 0)
            await until(lambda: surface.session.tracks[0].steps[7] and shows(back, surface), "a key on it")
            n.cancel_scope.cancel()


async def test_a_grid_that_stops_answering_is_let_go(monkeypatch):
    monkeypatch.setattr(serialosc, "RETRY", 0.1)
    g = EmulatedGrid()
    async with rig(None, g) as (emu, surface, grid):
        await until(lambda: shows(g, surface) and grid.client.device is not None, "the first frame")
        await emu.stop()  # nobody says so: only the unanswered /sys/info pings tell
        await until(lambda: grid.client.device is None, "the silent grid dropped")
        assert grid._scope is not None and grid._scope.cancel_called  # its LED task stopped


async def test_a_grid_that_lost_the_handshake_on_the_same_port_is_set_up_again(monkeypatch):
    monkeypatch.setattr(serialosc, "RETRY", 0.1)
    g = EmulatedGrid()
    async with rig(None, g) as (emu, surface, grid):
        await until(lambda: shows(g, surface) and any(g.leds), "the first frame")
        # a serialoscd restart that gave the device its old port: defaults again, LEDs dark
        g.handle("/sys/prefix", ["/monome"])
        g.handle("/sys/port", [8000])
        g.leds = [0] * len(g.leds)
        await until(lambda: g.prefix == "/gridtonic" and any(g.leds) and shows(g, surface), "set up again")


@pytest.mark.parametrize(("wanted", "was", "name"), [
    (180, 0, "grid 16x8"),  # cable on the other side: same size, the picture turned round
    (0, 90, "grid 16x8"),  # left turned by another app: gridtonic sets its own at connect
    (90, 0, "grid 8x8"),  # a 128 turned upright is 8×16: the 8×8 layout fits on it
])
async def test_a_rotated_grid_shows_the_frame_turned_and_its_keys_are_turned_back(wanted, was, name):
    g = EmulatedGrid(rotation=was)
    async with rig(None, g, **({"rotation": wanted} if wanted else {})) as (emu, surface, grid):  # 0: default
        await until(lambda: g.rotation == wanted and shows(g, surface) and any(g.leds), "the turned frame")
        assert surface.gestures.layout.name == name and grid.client.device.rotation == wanted
        assert g.size == ((8, 16) if wanted in (90, 270) else (16, 8))
        x, y = g.physical(0, 0)  # the physical key under the app's kick step 1
        await tap(g, x, y)
        await until(lambda: surface.session.tracks[0].steps[0] and g.level(x, y) == 11, "step 1 lit there")
        await until(lambda: shows(g, surface), "the frame with it")


async def test_a_grid_plugged_in_later_is_lit_at_once_and_the_named_one_wins():
    first = EmulatedGrid(id="m0000001")
    second = EmulatedGrid(id="m0000002", width=8, height=8, type="monome 64")
    async with rig(None, want="m0000002") as (emu, surface, grid):
        heard = []
        handle = grid.client.handle
        grid.client.handle = lambda data, sender: (heard.append(osc.parse(data)[0]), handle(data, sender))
        await emu.plug(first)
        await until(lambda: "/serialosc/add" in heard, "the first grid announced to gridtonic")
        await trio.sleep(0)
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
        # from the grid's own port, which the sender filter lets through: malformed key messages
        for args in [("x", 1, 1), (1,), (), (99, 99, 1), (-1, 0, 1), (1, "y", 0), (1, 0, "down")]:
            g.send("/gridtonic/grid/key", *args)
        g.send("/sys/size", "big", 8)
        g.send("/sys/rotation")
        await tap(g, 7, 0)
        await until(lambda: surface.session.tracks[0].steps[7] and shows(g, surface), "a key after the junk")
        assert sum(sum(t.steps) for t in surface.session.tracks) == 1
        assert grid.client.device is not None and grid.client.device.port == g.port
        assert grid.client.dropped.count >= 7  # each malformed one from the grid was counted and dropped


async def test_four_level_grids_get_the_mapped_frame():
    g = EmulatedGrid()
    async with rig(None, g) as (emu, surface, grid):
        grid.config.four_levels = True
        await until(lambda: any(g.leds), "the grid ready")
        await tap(g, 0, 0)
        want = lambda: frame.four_levels(surface.frame(trio.current_time()))  # noqa: E731
        await until(lambda: tuple(g.leds) == want() and g.level(0, 0) == 12, "the four-level frame")


async def hold(g: EmulatedGrid, name: str, *keys: tuple[int, int]) -> None:
    """Hold a function key of the 16×8 layout and tap ``keys`` meanwhile."""
    x, y = L16.keys[name]
    g.press(x, y, True)
    for k in keys:
        await tap(g, *k)
    g.press(x, y, False)


@pytest.mark.realtime
async def test_the_instrument_plays_what_the_grid_painted_introspected_and_generated(jack_server, tmp_path,
                                                                                   without_xruns):
    """gridtonic run's Instrument (realtime scsynth) driven from the emulated grid over UDP: paint the
    kick, introspect the snare from it, generate the kick's 17–32, mute the snare, play. The LEDs show
    the session, the sequencer plays its kick steps and nothing else, and the recording holds one
    kick click at each of those hits (the kick is a click so every onset is sharp). Again after an
    xrun: it moves the audio against the time tags (conftest.without_xruns)."""

    async def measure(attempt: int) -> tuple[list[float], Any]:
        session = default_session()
        for t in session.tracks:
            t.set_pattern("-")
        session.tracks[0].patch_a = params.clean(analysis.CLICK)
        session.groove = 0.0  # generated steps keep full velocity and the grid: every click is found
        kick, snare = session.tracks[0], session.tracks[1]
        g = EmulatedGrid()
        hits: list = []
        played: list[float] = []
        seconds = 6.5  # setup ~1 s, then one 4 s cycle of 32 steps at 120 BPM

        async def perform(start: float) -> None:
            surface = inst.surface
            await until(lambda: shows(g, surface) and surface.sampler is not None,
                        "the instrument and its prior")
            await tap(g, *L16.keys["play"])  # it started playing: this stops it
            await until(lambda: not inst.sequencer.playing, "stop from the grid")
            g.press(0, 0, True)
            await tap(g, 8, 0)  # paint steps 1–9
            g.press(0, 0, False)
            await tap(g, 2, 0)
            await tap(g, 5, 0)
            await until(lambda: kick.pattern()[:16] == "xx-xx-xxx-------", "the painted kick")
            await hold(g, "introspect", (0, 0), (0, 1))
            await until(lambda: 1 in surface.flashes and not surface.pending, "the snare introspected")
            await hold(g, "generate", (5, 0))
            await until(lambda: 0 in surface.flashes and not surface.pending, "the kick's 17–32")
            assert kick.pattern()[:16] == "xx-xx-xxx-------"
            await hold(g, "mute", (0, 1))
            await until(lambda: snare.mute, "the snare muted")
            await tap(g, *L16.keys["page_2"])
            calm = lambda: not surface.status(trio.current_time()).flashing  # noqa: E731
            await until(lambda: surface.gestures.page == 1 and calm() and shows(g, surface),
                        "page 2 on the LEDs")
            assert [g.level(x, 0) >= 4 for x in range(16)] == kick.steps[16:32]
            await tap(g, *L16.keys["play"])
            played.append(trio.current_time())
            assert played[0] < start + seconds - 4.1, "setup took too long for a whole cycle"

        async with trio.open_nursery() as n:
            emu = SerialOscEmulator()
            port = await n.start(emu.run)
            await emu.plug(g)
            inst = Instrument(session, port=udp.free_port(), jack_server=jack_server,
                              grid=GridConfig(serialosc_port=port))
            inst.sequencer.sinks.append(hits.append)
            path = tmp_path / f"grid{attempt}.wav"
            start, rate = await analysis.capture(inst, path, seconds, during=perform)
            n.cancel_scope.cancel()
        assert played and not any(h.time < played[0] for h in hits)  # nothing played before
        assert {h.track for h in hits} == {0}  # the snare is muted, the others empty
        assert sorted({h.step for h in hits if h.step < 32}) == [s for s in range(32) if kick.steps[s]]
        assert all(kick.steps[h.step % 32] for h in hits)
        recorded = sorted(h.time - start for h in hits if 0 <= h.time - start < seconds - 0.1)
        found = analysis.onsets(path, threshold=0.05, min_gap=0.05) / rate
        return recorded, found[found < seconds - 0.1]  # the same window: a hit in the last 0.1 s sounds

    # the recording: one onset per hit it covers, each within 5 ms of the hit's ideal time (onset
    # detection, control-block recording start, the measured sample rate: all well under 2 ms)
    recorded, found = await without_xruns(measure)
    assert len(found) == len(recorded) >= 9
    assert max(abs(f - t) for f, t in zip(found, recorded, strict=True)) < 0.005


async def test_the_terminal_emulator_draws_the_leds():
    g = EmulatedGrid()
    async with rig(None, g) as (emu, surface, grid):
        await until(lambda: any(g.leds), "the first frame")
        await tap(g, 0, 0)
        await until(lambda: g.level(0, 0) == 11, "the step lit")
        text = picture(g).splitlines()
        assert len(text) == 8 and all(len(row) == 16 for row in text)
        assert text[0][0] == SHADES[11 * 9 // 15]  # the kick on step 1 at full velocity
