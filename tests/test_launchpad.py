"""Launchpads end to end over real JACK MIDI ports (jackd dummy): emulated Launchpads (lpemulator)
on one side, gridtonic's Launchpad glue, the surface and the real prior sampler on the other."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
import trio
from test_grid import until

from gridtonic.app import Instrument
from gridtonic.core import layout
from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import Sequencer
from gridtonic.core.session import default_session
from gridtonic.core.surface import Surface
from gridtonic.grid import udp
from gridtonic.io import midiports
from gridtonic.launchpad import models, sysex
from gridtonic.launchpad.emulator import EmulatedLaunchpad
from gridtonic.launchpad.host import LaunchpadConfig, Launchpads, builtin, listing
from gridtonic.launchpad.models import MINI_MK3, MK2, MODELS, PRO_MK3, S, X
from gridtonic.launchpad.sysex import LIVE, PROGRAMMER
from gridtonic.prior import sampler

L8 = builtin(1)


@pytest.fixture(scope="module")
def prior_sampler():
    return sampler.load_file()


@pytest.fixture(autouse=True)
def quick_looks(jack_server, monkeypatch):
    monkeypatch.setattr(midiports, "WATCH", 0.1)


def device_colour(model, rgb):
    if model.kind == "gen3":
        return sysex.scale(rgb, 127)
    return sysex.scale(rgb, 63) if model.kind == "mk2" else sysex.red_green(rgb)


def shows(lp: EmulatedLaunchpad, surface: Surface, lps: Launchpads) -> bool:
    """The emulated Launchpad lights its part of the surface's current frame, in the layout's colours."""
    units = [u.found.output for u in lps.order]
    mine = [i for i, name in enumerate(units) if lp.used in name and (lp.client or lp.model.name) in name]
    if len(mine) != 1:
        return False
    lay = surface.gestures.layout
    want = models.unit_colours(lp.model, mine[0], len(units), surface.frame(trio.current_time()), lay.width,
                                 layout.colours(lay))
    return all(lp.colour(local) == device_colour(lp.model, want[i]) for local, i in models.leds(lp.model))


@asynccontextmanager
async def rig(*pads: EmulatedLaunchpad, sampler=None, config: LaunchpadConfig | None = None):
    """Launchpads plugged in, then gridtonic's surface and Launchpad glue (stopped before the pads)."""
    session = default_session()
    for t in session.tracks:
        t.set_pattern("-")
    surface = Surface(L8, session, Sequencer(session, InternalClock(120)), sampler=sampler)
    async with trio.open_nursery() as devices:
        for p in pads:
            await devices.start(p.run)
        async with trio.open_nursery() as n:
            await n.start(surface.run)
            lps = Launchpads(surface, config or LaunchpadConfig())
            await n.start(lps.run)
            yield devices, surface, lps
            n.cancel_scope.cancel()
        await until(lambda: all(restored(p) for p in pads), "every Launchpad cleared and its mode back")
        devices.cancel_scope.cancel()


def restored(lp: EmulatedLaunchpad) -> bool:
    return not any(any(c) for c in lp.leds.values()) and (lp.model.kind != "gen3" or lp.mode == LIVE)


async def tap(lp, x, y):
    lp.press((x, y), True)
    lp.press((x, y), False)


def clean(lp: EmulatedLaunchpad) -> bool:
    """Nothing but SysEx on the interface in use, nothing on the others, nothing unreadable."""
    return lp.notes == 0 and not lp.moving and not lp.elsewhere and lp.bad == 0


async def test_an_x_paints_introspects_pages_and_shows_the_session(prior_sampler):
    lp = EmulatedLaunchpad(X)
    async with rig(lp, sampler=prior_sampler) as (_, surface, lps):
        s = surface.session
        await until(lambda: len(lps.order) == 1 and shows(lp, surface, lps), "the first frame")
        assert lp.mode == PROGRAMMER and surface.gestures.layout.name == "launchpad 8x8"
        lp.press((0, 1), True)  # hold the kick's step 1, press step 8: paint the span
        await tap(lp, 7, 1)
        lp.press((0, 1), False)
        await until(lambda: s.tracks[0].pattern()[:9] == "x" * 8 + "-", "the painted kick")
        await tap(lp, 1, 1)
        await tap(lp, 2, 1)
        await until(lambda: s.tracks[0].pattern()[:8] == "x--xxxxx", "two toggled off")
        await until(lambda: shows(lp, surface, lps), "the painted row lit")
        ix, iy = L8.keys["introspect"]  # top row: hold it, the kick row is the basis, the snare row follows
        lp.press((ix, iy), True)
        await tap(lp, 0, 1)
        await tap(lp, 0, 2)
        lp.press((ix, iy), False)
        await until(lambda: 1 in surface.flashes and not surface.pending, "the introspected snare")
        await until(lambda: shows(lp, surface, lps), "the snare lit")
        await tap(lp, *L8.keys["page_3"])  # steps 17-24
        await until(lambda: surface.gestures.page == 2 and shows(lp, surface, lps), "page 3")
        surface.sequencer.start()
        await until(lambda: surface.playhead(trio.current_time()) is not None and shows(lp, surface, lps),
                    "the playhead")
        surface.sequencer.stop()
        assert clean(lp)
    assert lp.mode == LIVE and not any(any(c) for c in lp.leds.values())  # Live mode back, our LEDs off


async def test_two_side_by_side_are_a_16x8_and_follow_unplugging():
    left, right = EmulatedLaunchpad(X), EmulatedLaunchpad(MINI_MK3)
    async with rig(left, right) as (devices, surface, lps):
        await until(lambda: len(lps.order) == 2, "both Launchpads")
        assert surface.gestures.layout.name == "two launchpads 16x8"
        await tap(right, 0, 1)  # the right unit's first pad: step 9 of track 1
        await tap(left, 0, 2)
        await until(lambda: surface.session.tracks[0].steps[8] and surface.session.tracks[1].steps[0], "keys")
        await tap(right, 0, 0)  # the right unit's top row: slot 1, saved with shift (left unit, top row)
        await until(lambda: shows(left, surface, lps) and shows(right, surface, lps), "both lit")
        right.unplug()
        await until(lambda: len(lps.order) == 1 and shows(left, surface, lps), "the left one alone, 8x8")
        assert surface.gestures.layout.name == "launchpad 8x8"
        await devices.start(right.run)  # plugged back in: dark, in Live mode
        await until(lambda: len(lps.order) == 2 and shows(left, surface, lps) and shows(right, surface, lps),
                    "16x8 again")
        assert right.mode == PROGRAMMER and clean(left) and clean(right)


@pytest.mark.parametrize("model", [m for m in MODELS if m.kind == "gen3"], ids=lambda m: m.name)
async def test_every_led_is_cleared_on_attach_and_on_exit(model):
    """The Pro MK3's LEDs no layout reaches (Shift, logo, left column, the rows below the pads) kept
    what another program had left on them, flashing, through the whole set and after it."""
    red = (127, 0, 0)
    lp = EmulatedLaunchpad(model, lit=red)  # plugged in with every LED it has lit and flashing
    async with rig(lp) as (_, surface, lps):
        await until(lambda: len(lps.order) == 1 and shows(lp, surface, lps), "the first frame")
        assert {lp.leds[i] for i in model.others} <= {(0, 0, 0)} and not lp.moving  # cleared on attach
        lp.leds, lp.moving = dict.fromkeys(models.every_led(model), red), set(models.every_led(model))
    assert set(lp.leds) == set(models.every_led(model)) and restored(lp) and not lp.moving  # and on exit


async def test_mk2_and_s_draw_in_their_own_messages():
    mk2, s = EmulatedLaunchpad(MK2), EmulatedLaunchpad(S)
    async with rig(mk2, s) as (_, surface, lps):
        await until(lambda: len(lps.order) == 2, "both")
        await tap(mk2, 3, 1)
        await tap(s, 3, 1)
        await tap(mk2, 8, 4)  # MK2's side column (notes): the left unit's, free in this layout
        steps = surface.session.tracks[0].steps
        await until(lambda: steps[3] and steps[11], "keys")
        await until(lambda: shows(mk2, surface, lps) and shows(s, surface, lps), "both lit")
        assert mk2.notes == 0 and mk2.mode == 0 and s.mode == 1  # MK2 session layout, S X-Y layout
        assert any(v != (0, 0) for v in s.leds.values())


async def test_the_previous_mode_comes_back_after_a_crash():
    lp = EmulatedLaunchpad(PRO_MK3)
    session = default_session()
    surface = Surface(L8, session, Sequencer(session, InternalClock(120)))
    lps = Launchpads(surface, LaunchpadConfig())

    async def crash():
        await until(lambda: len(lps.order) == 1 and shows(lp, surface, lps), "the first frame")
        raise RuntimeError("a bug elsewhere in gridtonic")

    async with trio.open_nursery() as devices:
        await devices.start(lp.run)
        lp.mode = PROGRAMMER  # another program left it in programmer mode, showing something
        lp.leds[11] = (5, 5, 5)
        with pytest.raises(ExceptionGroup):
            async with trio.open_nursery() as n:
                await n.start(surface.run)
                n.start_soon(lps.run)
                n.start_soon(crash)
        await until(lambda: not any(any(c) for c in lp.leds.values()), "our LEDs cleared")
        assert lp.mode == PROGRAMMER and not lp.elsewhere  # its mode back (not Live); the first interface
        devices.cancel_scope.cancel()


async def test_garbage_from_the_device_is_ignored():
    lp = EmulatedLaunchpad(MINI_MK3)
    async with rig(lp) as (_, surface, lps):
        await until(lambda: len(lps.order) == 1 and shows(lp, surface, lps), "the first frame")
        for junk in ([0xF0, 0x01, 0x02], [0x90, 11], [0xA0, 11, 5], [0xF4], [0x85], [0x7F, 0x7F],
                     [0xF0, 0x7E, 0x00, 0x06, 0x02, 0xF7], [*sysex.sysex(MINI_MK3, 0x0E, 0x01)],
                     [0xB0, 5, 5], [0xB0, 99, 127], [0x90, 0, 127], [0x90, 99, 127], [0xF8], [0xFF],
                     [0xF0, *([0x55] * 5000), 0xF7], [0xC0, 3], [0xE0, 0, 64]):
            lp.send(junk)
        await tap(lp, 5, 1)
        await until(lambda: surface.session.tracks[0].steps[5] and shows(lp, surface, lps), "a key")
        assert sum(sum(t.steps) for t in surface.session.tracks) == 1 and clean(lp)


async def test_named_ports_and_the_devices_listing():
    a, b = EmulatedLaunchpad(X, client="LP left"), EmulatedLaunchpad(X, client="LP right")
    async with rig(a, b, config=LaunchpadConfig(want=("lp right",))) as (_, surface, lps):
        await until(lambda: len(lps.order) == 1 and shows(b, surface, lps), "the named one")
        rows = await trio.to_thread.run_sync(listing)
        assert sum("Launchpad X: in LP" in v for _, v in rows) == 2
        assert not any(a.leds.values()) and a.mode == LIVE


@pytest.mark.realtime
async def test_the_instrument_plays_from_a_launchpad(jack_server):
    """gridtonic run's Instrument with the realtime engine: the Launchpad starts, stops and edits."""
    lp = EmulatedLaunchpad(X)
    async with trio.open_nursery() as n:
        await n.start(lp.run)
        inst = Instrument(default_session(), port=udp.free_port(), jack_server=jack_server,
                          launchpad=LaunchpadConfig())
        hits = []
        inst.sequencer.sinks.append(hits.append)
        await n.start(inst.run)
        await until(lambda: lp.mode == PROGRAMMER and any(any(c) for c in lp.leds.values()), "lit")
        await tap(lp, *L8.keys["play"])  # it started playing: this stops it
        await until(lambda: not inst.sequencer.playing, "stop from the Launchpad")
        await tap(lp, 1, 1)
        await tap(lp, *L8.keys["play"])
        await until(lambda: inst.sequencer.playing and inst.session.tracks[0].steps[1], "play")
        await until(lambda: any(h.track == 0 and h.step % 32 == 1 for h in hits), "the new step played")
        n.cancel_scope.cancel()


async def test_keys_are_polled_never_a_callback_on_jacks_thread(monkeypatch):
    """An rtmidi callback runs Python on JACK's process thread, which then waits for the GIL (and
    scsynth's cycle with it: 3 ms shifts). Launchpad input is polled like MIDI in; a callback set
    anywhere here fails the test."""
    import rtmidi

    class NoCallbacks(rtmidi.MidiIn):
        def set_callback(self, *args):
            raise AssertionError("an rtmidi callback was set")

    monkeypatch.setattr(rtmidi, "MidiIn", NoCallbacks)
    lp = EmulatedLaunchpad(X)
    async with rig(lp) as (_, surface, lps):
        await until(lambda: len(lps.order) == 1 and shows(lp, surface, lps), "the first frame")
        await tap(lp, 0, 1)
        await until(lambda: surface.session.tracks[0].steps[0], "the kick's step 1 set by a polled key")
