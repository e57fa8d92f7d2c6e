"""The grid against the real serialoscd (built from ../shared/peers/serialosc) and a pty grid
speaking mext: discovery, keys, LED maps, unplug/replug, daemon restarts with and without saved
settings, the daemon away for 5 s, rotation, two grids; and the emulator answering as it does."""

from __future__ import annotations

import shutil
import signal

import pytest
import trio
from serialoscd import PORT, Daemon, rig, shows, until

from gridtonic.grid import serialosc
from gridtonic.grid.emulator import EmulatedGrid, SerialOscEmulator
from gridtonic.io import osc


async def tap(g, x: int, y: int) -> None:
    g.press(x, y, True)
    await trio.sleep(0.01)
    g.press(x, y, False)


async def test_a_plugged_grid_is_found_lit_and_plays(tmp_path):
    async with rig(tmp_path) as (daemon, surface, grid, heard):
        g = daemon.grid()
        g.plug()
        try:
            await until(lambda: shows(g, surface), "the first frame on the real device")
            dev = grid.client.device
            assert (dev.id, dev.type, dev.width, dev.height) == ("m1000001", "m1000001", 16, 8)
            await tap(g, 4, 0)
            await until(lambda: surface.session.tracks[0].steps[4], "a key from the pty")
            await until(lambda: shows(g, surface) and g.level(4, 0) >= 4, "its step lit")
            assert (daemon.config / "m1000001.conf").exists() is False  # saved only when it ends
        finally:
            g.unplug()


@pytest.mark.parametrize("away", [0.05, 2.0])  # a quick replug and a slow one
async def test_unplug_and_replug_repaints(tmp_path, away):
    async with rig(tmp_path) as (daemon, surface, grid, heard):
        g = daemon.grid()
        g.plug()
        await until(lambda: shows(g, surface), "the first frame")
        g.unplug()
        await until(lambda: grid.client.device is None, "the unplug noticed")
        surface.key(3, 2, True)  # edited meanwhile from another surface
        surface.key(3, 2, False)
        await trio.sleep(away)
        g.plug()
        try:
            await until(lambda: shows(g, surface) and g.level(3, 2) > 0, "the frame on the replugged grid")
            assert heard.count("/serialosc/add") == 2 and heard.count("/serialosc/remove") == 1
            # the device said goodbye, and came back pointed at us (its saved settings)
            assert heard.count("/sys/disconnect") == 1 and heard.count("/sys/connect") == 1
        finally:
            g.unplug()


@pytest.mark.parametrize(("saved", "away"), [(True, 0.0), (False, 0.0), (True, 5.0)])
async def test_a_restarted_daemon_brings_the_grid_back_lit(tmp_path, saved, away):
    """The service restarted (away for ``away`` s) with the settings its device saved at the last
    unplug (its port, our host/port/prefix) or with them wiped: the new device process blanks the
    grid and, pointed at us, says /sys/connect, or comes up on a port of its own; either way the
    grid is repainted and plays, and a quick replug after it is still seen (the notify
    registration the restart lost is made again)."""
    async with rig(tmp_path) as (daemon, surface, grid, heard):
        g = daemon.grid()
        g.plug()
        try:
            await until(lambda: shows(g, surface), "the first frame")
            g.unplug()  # serialosc-device saves its settings
            g.plug()
            await until(lambda: shows(g, surface), "the frame after a replug")
            port = grid.client.device.port
            daemon.stop()
            assert (daemon.config / "m1000001.conf").exists()
            if not saved:
                shutil.rmtree(daemon.config)
                daemon.config.mkdir()
            await trio.sleep(away)
            g.levels = [0] * len(g.levels)  # the grid keeps what it showed until a device clears it
            daemon.start()
            (daemon.present / "again").write_text(g.devnode + "\n")  # the detector finds it plugged
            await until(lambda: shows(g, surface), "the grid repainted after the restart")
            if saved:
                assert grid.client.device.port == port and "/sys/connect" in heard
            await tap(g, 6, 0)
            await until(lambda: surface.session.tracks[0].steps[6], "a key after the restart")
            await trio.sleep(0.5)
            adds = heard.count("/serialosc/add")
            g.unplug()  # a quick replug half a second after the restart
            g.plug()
            await until(lambda: heard.count("/serialosc/add") == adds + 1, "the replug announced")
            await until(lambda: shows(g, surface), "the replugged grid lit")
            await trio.sleep(0.3)
            assert heard.count("/serialosc/add") <= adds + 2  # at most one extra registration
        finally:
            g.unplug()


async def test_waiting_for_a_grid_keeps_one_notify_registration(tmp_path, monkeypatch):
    monkeypatch.setattr(serialosc, "RETRY", 0.05)
    async with rig(tmp_path) as (daemon, surface, grid, heard):
        await trio.sleep(1.5)  # 30 discovery rounds with no grid
        g = daemon.grid()
        g.plug()
        try:
            await until(lambda: shows(g, surface), "the grid lit")
            await trio.sleep(0.3)
            assert heard.count("/serialosc/add") == 1  # serialoscd tells each registration once
        finally:
            g.unplug()


@pytest.mark.parametrize("rotation", [90, 180])
async def test_a_rotated_grid_shows_the_frame_turned_and_its_keys_turned_back(tmp_path, rotation):
    async with rig(tmp_path, rotation=rotation) as (daemon, surface, grid, heard):
        g = daemon.grid()
        g.plug()
        try:
            await until(lambda: shows(g, surface, rotation), "the turned frame")
            assert surface.gestures.layout.name == ("grid 8x8" if rotation == 90 else "grid 16x8")
            x, y = EmulatedGrid(rotation=rotation).physical(0, 0)  # under the app's kick step 1
            await tap(g, x, y)
            await until(lambda: surface.session.tracks[0].steps[0], "the turned key")
            await until(lambda: shows(g, surface, rotation), "its frame")
        finally:
            g.unplug()


async def test_of_two_grids_the_named_one_is_used(tmp_path):
    async with rig(tmp_path, want="m1000002") as (daemon, surface, grid, heard):
        first, second = daemon.grid("m1000001"), daemon.grid("m1000002", 8, 8)
        first.plug()
        await until(lambda: "/serialosc/add" in heard, "the first grid announced")
        second.plug()
        try:
            await until(lambda: shows(second, surface), "the named 8x8 lit")
            assert grid.client.device.id == "m1000002" and surface.gestures.layout.name == "grid 8x8"
            assert first.led_bytes <= 64 and not any(first.levels)  # only serialosc's own clear
        finally:
            first.unplug()
            second.unplug()


# ---------------------------------------------------------------- the emulator answers as serialoscd
PROBES = [  # (the daemon or its device, address, args): each place the emulator once differed
    ("daemon", "/serialosc/version", ("127.0.0.1", "ME")),
    ("daemon", "/serialosc/status", ("127.0.0.1", "ME")),
    ("device", "/sys/info", ()),
    ("device", "/sys/info", ("ME",)),
    ("device", "/sys/info/id", ()),
    ("device", "/sys/info/size", ()),
    ("device", "/sys/info/rotation", ("127.0.0.1", "ME")),
    ("device", "/sys/prefix", ("test",)),  # becomes /test
    ("device", "/sys/host", ("127.0.0.1",)),
    ("device", "/sys/rotation", (180,)),
    ("device", "/sys/rotation", (180,)),  # unchanged: no reply
    ("device", "/sys/rotation", (275,)),  # n / 90
    ("device", "/test/grid/led/level/map", (0, 0, 1, 2)),  # short: dropped, nothing lit
    ("device", "/sys/info/prefix", ()),
]


async def conversation(daemon_port: int) -> list[list[tuple]]:
    """Each probe's replies from the daemon on ``daemon_port`` and its one device, our port shown
    as ME, the device's as DEV, the daemon's git commit as *."""
    with trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM) as s:
        await s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]

        async def ask(port: int, address: str, *args) -> list[tuple]:
            await s.sendto(osc.message(address, *(me if a == "ME" else a for a in args)), ("127.0.0.1", port))
            out = []
            with trio.move_on_after(0.3):
                while True:
                    out.append(tuple(osc.parse(await s.recv(4096))))
            return out

        listing = await ask(daemon_port, "/serialosc/list", "127.0.0.1", me)
        device = listing[0][1][2]
        replies = [listing, await ask(device, "/sys/port", me)]  # pointed at us, as an app does
        for target, address, args in PROBES:
            replies.append(await ask(daemon_port if target == "daemon" else device, address, *args))
    names = {me: "ME", device: "DEV"}
    return [[(a, *(("*" if a == "/serialosc/version" and i == 1 else names.get(v, v))
                   for i, v in enumerate(values))) for a, values in r] for r in replies]


async def test_the_emulator_answers_as_the_real_daemon_does(tmp_path):
    daemon = Daemon(tmp_path / "serialosc")
    daemon.start()
    g = daemon.grid()
    g.plug()
    try:
        await until(lambda: g.log, "the device opening the pty")
        await trio.sleep(0.5)
        real = await conversation(PORT)
        assert not any(g.levels), (g.levels, g.log)
    finally:
        g.unplug()
        daemon.stop(signal.SIGKILL)
    async with trio.open_nursery() as n:
        emu = SerialOscEmulator()
        grid = await emu.plug(EmulatedGrid(id="m1000001")) if await n.start(emu.run) else None
        emulated = await conversation(emu.port)
        assert not any(grid.leds)
        n.cancel_scope.cancel()
    assert real[0] == [("/serialosc/device", "m1000001", "m1000001", "DEV")]
    assert emulated == real
