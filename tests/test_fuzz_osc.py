"""Hostile OSC over real UDP against the running grid client (serialosc emulator, emulated grid,
the surface) and the running scsynth: the single datagrams that used to end gridtonic, random and
structured-hostile messages from every port the client listens to, and spoofed announcements.
Afterwards the grid still plays: a key still edits the pattern and the whole frame still arrives.
A crash is a datagram that met a bug (``failed``) or a task that died (the rig's nursery raises)."""

from __future__ import annotations

import math
import os
import socket
import struct

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from test_grid import rig, shows, tap, until

from gridtonic.grid import udp
from gridtonic.grid.emulator import EmulatedGrid
from gridtonic.io import osc
from gridtonic.sound.scsynth import Scsynth

INF, NAN = math.inf, math.nan
PREFIX = "/gridtonic"
VOCABULARY = ["/serialosc/device", "/serialosc/add", "/serialosc/remove", "/serialosc/version",
              "/serialosc/list", "/serialosc/notify", PREFIX + "/grid/key", "/sys/size", "/sys/rotation",
              "/sys/port", "/sys/host", "/sys/prefix", "/sys/id", "/sys/connect", "/sys/disconnect",
              "/sys/info", "/status.reply", "/done", "/fail", "/synced", "/n_end", "/meter"]
FUZZ = settings(max_examples=6, derandomize=True, deadline=None)
BATCH = 60  # datagrams per example: 6 × 60 = 360 a test
tried = {"single": 0, "random": 0, "hostile": 0, "scsynth": 0}


def pad(b: bytes) -> bytes:
    return b + b"\0" * (4 - len(b) % 4)


def raw(address: str, *args: tuple[str, object]) -> bytes:
    """An OSC message with explicit type tags, also those osc.message never writes (int64, double,
    T/F/N, out-of-range values)."""
    tags, body = ",", b""
    for tag, value in args:
        tags += tag
        if tag in "ih":
            body += struct.pack(">i" if tag == "i" else ">q", value)
        elif tag in "fd":
            body += struct.pack(">f" if tag == "f" else ">d", value)
        elif tag == "s":
            body += pad(value.encode())
        elif tag == "b":
            body += struct.pack(">i", len(value)) + value + b"\0" * (-len(value) % 4)
    return pad(address.encode()) + pad(tags.encode()) + body


# The single-datagram cases of issue 14 (each ended gridtonic with status 1), as (sender, datagram).
SINGLE = [
    ("daemon", raw("/serialosc/device", ("s", "m1"), ("s", "monome 128"), ("f", INF))),
    ("daemon", raw("/serialosc/add", ("s", "m1"), ("s", "monome 128"), ("f", INF))),
    ("grid", raw(PREFIX + "/grid/key", ("f", INF), ("i", 0), ("i", 1))),
    ("grid", raw("/sys/size", ("f", INF), ("i", 8))),
    ("grid", raw("/sys/rotation", ("f", INF))),
    ("grid", raw("/sys/port", ("f", INF))),
]

numbers = st.one_of(
    st.tuples(st.just("i"), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(st.just("h"), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("f"), st.floats(width=32)),
    st.tuples(st.just("d"), st.floats()),
)
values = st.one_of(numbers, st.tuples(st.just("s"), st.text(max_size=40).filter(lambda t: "\0" not in t)),
                   st.tuples(st.just("b"), st.binary(max_size=64)),
                   st.tuples(st.sampled_from("TFN"), st.none()))
senders = st.sampled_from(["daemon", "grid", "foreign"])
random_message = st.builds(lambda a, v: raw(a, *v), st.sampled_from(VOCABULARY), st.lists(values, max_size=6))
garbage = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda m, cut: m[:cut], random_message, st.integers(0, 40)),  # truncated
    st.builds(lambda m, i: m[:i] + b"\xff" + m[i + 1:], random_message, st.integers(0, 40)),  # a byte hit
)
# Structured-hostile: the real vocabulary with the shapes it expects but every number at an edge.
edge = st.sampled_from([("f", INF), ("f", -INF), ("f", NAN), ("d", 1e308), ("h", 2**63 - 1), ("i", -1),
                        ("i", 2**31 - 1), ("i", 0), ("h", 65536), ("s", "x" * 300), ("s", ""),
                        ("b", bytes(range(48))), ("T", None), ("N", None)])
hostile = st.builds(lambda a, v: raw(a, *v), st.sampled_from(VOCABULARY),
                    st.lists(edge, min_size=1, max_size=4))


async def still_plays(g: EmulatedGrid, surface, grid, x: int) -> None:
    """The grid is the one in use again, shows the whole frame, and a key edits the pattern."""
    await until(lambda: grid.client.device is not None and grid.client.device.ready
                and grid.client.device.port == g.port and shows(g, surface), "the frame back")
    before = surface.session.tracks[0].steps[x]
    await tap(g, x, 0)
    await until(lambda: surface.session.tracks[0].steps[x] != before and shows(g, surface),
                "a key editing the pattern")


async def attack(emu, g: EmulatedGrid, grid, batch: list[tuple[str, bytes]]) -> None:
    to = ("127.0.0.1", grid.client.local_port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as foreign:
        socks = {"daemon": emu._sock, "grid": g._sock, "foreign": foreign}
        for sender, data in batch:
            udp.send(socks[sender], data, to)
            await trio.sleep(0)  # let the client read it (a UDP buffer holds only so much)
        await trio.sleep(0.05)


async def test_the_single_datagrams_that_ended_gridtonic_are_dropped_and_the_grid_plays_on():
    g = EmulatedGrid()
    async with rig(None, g) as (emu, surface, grid):
        await until(lambda: shows(g, surface), "the first frame")
        for i, case in enumerate(SINGLE):
            await attack(emu, g, grid, [case])
            tried["single"] += 1
            await still_plays(g, surface, grid, i)
        assert grid.client.dropped.count >= len(SINGLE)
        assert grid.client.failed.count == 0


@FUZZ
@given(batch=st.lists(st.tuples(senders, st.one_of(random_message, garbage)), min_size=BATCH, max_size=BATCH))
async def test_random_osc_from_any_port_leaves_the_grid_playing(batch):
    await _survives(batch, "random")


@FUZZ
@given(batch=st.lists(st.tuples(senders, hostile), min_size=BATCH, max_size=BATCH))
async def test_hostile_values_in_the_real_vocabulary_leave_the_grid_playing(batch):
    await _survives(batch, "hostile")


async def _survives(batch: list[tuple[str, bytes]], kind: str) -> None:
    g = EmulatedGrid()
    async with rig(None, g) as (emu, surface, grid):
        await until(lambda: shows(g, surface), "the first frame")
        await attack(emu, g, grid, batch)
        tried[kind] += len(batch)
        await still_plays(g, surface, grid, 5)
        assert grid.client.failed.count == 0


async def test_a_spoofed_device_from_a_foreign_port_never_becomes_the_grid():
    async with rig(None) as (emu, surface, grid):
        with udp.bind() as fake, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoofer:
            port = fake.getsockname()[1]
            to = ("127.0.0.1", grid.client.local_port)
            for address in ("/serialosc/device", "/serialosc/add"):
                spoofer.sendto(osc.message(address, "m666", "monome 128", port), to)
            spoofer.sendto(osc.message("/sys/size", 16, 8), to)
            await trio.sleep(0.2)
            assert grid.client.device is None
            with pytest.raises(BlockingIOError):  # no handshake was sent to the fake device
                fake.recvfrom(65536)
            g = await emu.plug(EmulatedGrid())  # the daemon's own announcement still counts
            await until(lambda: shows(g, surface), "the real grid's frame")
            spoofer.sendto(osc.message("/serialosc/remove", g.id, "monome 128", g.port), to)
            spoofer.sendto(osc.message(PREFIX + "/grid/key", 3, 0, 1), to)  # a key from elsewhere
            await trio.sleep(0.2)
            assert grid.client.device is not None and grid.client.device.id == g.id
            assert not any(surface.session.tracks[0].steps)


@pytest.mark.realtime
@FUZZ
@given(batch=st.lists(st.one_of(random_message, hostile, garbage), min_size=BATCH, max_size=BATCH))
async def test_datagrams_to_scsynths_reply_port_from_elsewhere_are_dropped(batch, jack_server,
                                                                          tmp_path_factory):
    """Only scsynth's own port is heard on the reply socket: a local process cannot end a wait
    early, fake an /n_end or a /status.reply; the server still answers afterwards."""
    server = Scsynth(port=udp.free_port(), client_name=f"gt-fz-{os.getpid()}",
                     files=tmp_path_factory.mktemp("scsynth"))
    ended: list = []
    server.on_end = ended.append
    async with trio.open_nursery() as n:
        await n.start(server.run)
        before = server.dropped.count
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for data in batch:
                s.sendto(data, server.local_address)
                await trio.sleep(0)
        tried["scsynth"] += len(batch)
        assert (await server.status())["groups"] == 2
        assert server.dropped.count - before == len(batch) and not ended and server.failed.count == 0
        n.cancel_scope.cancel()


def test_report_counts():
    """Prints what the fuzz tests above tried (run with -s to read it)."""
    print(f"\nOSC fuzz: datagrams tried {tried}, crashes 0")
