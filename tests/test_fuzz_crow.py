"""The crow host fuzzed over a real pty (tests/crowemu.py): random and hostile lines from crow
(overlong, invalid UTF-8, ``^^`` events with inf/nan/huge numbers, partial events), then it still
plays a hit, answers a handshake, and no handler raised on any line.

Hypothesis draws the bytes (bounded, derandomized) in a worker thread that writes them to the
emulator's pty master while trio runs the host reading the other end.
"""

from __future__ import annotations

import logging

import trio
from crowemu import CrowEmulator
from hypothesis import given, settings
from hypothesis import strategies as st
from test_crow import emu, playing, wait_for  # noqa: F401 (emu: the fixture)
from test_sequencer import session_with

from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import Hit, Sequencer
from gridtonic.crow import host as crow
from gridtonic.crow.mapping import CrowConfig, Output
from gridtonic.crow.wire import MAX_LINE

EXAMPLES = 300
numbers = st.sampled_from(["inf", "-inf", "nan", "1e999", "-1e400", "9" * 4000, "0x" + "f" * 4000, "1e-400",
                           "0", "-0.0", ".5", "1.", "+1", "0x", "1e", "١٢", "NaN"])
names = st.sampled_from(["identity", "version", "change", "stream", "ready", "pub", "ii.jf", "pupdate", "x"])
args = st.lists(st.one_of(numbers, st.text(max_size=8).map(repr), st.just("{1,{2,3}}"), st.just("nil")),
                max_size=5).map(", ".join)
closes = st.sampled_from([")", "", ",", "))", "("])
event = st.builds(lambda n, a, end: f"^^{n}({a}{end}", names, args, closes)
line = st.one_of(
    st.binary(max_size=300),  # anything, invalid UTF-8 included
    st.lists(event, min_size=1, max_size=4).map(lambda es: "".join(es).encode()),
    st.builds(lambda n: b"^^change(" + b"9" * n, st.integers(MAX_LINE - 20, MAX_LINE + 20)),  # near the limit
    st.sampled_from([b"\\lua: x", b"repl:1: y", b"!chunk too long!", b"^^", b"^^^^", b"^^(",
                     b"\x00\xff\xfe"]),
)
ends = st.sampled_from([b"\n\r", b"\r\n", b"\n", b"\r", b""])


async def test_random_and_hostile_lines_leave_the_host_playing(emu: CrowEmulator, caplog):  # noqa: F811
    caplog.set_level(logging.WARNING, logger="gridtonic.crow")
    seq = Sequencer(session_with("x"), InternalClock())
    host = crow.Crow(CrowConfig(port=str(emu.link), outputs={1: Output("trigger", track=0)}), seq)
    sent = {"lines": 0, "bytes": 0}

    @settings(max_examples=EXAMPLES, derandomize=True, database=None)
    @given(st.lists(st.tuples(line, ends), min_size=1, max_size=4))
    def fuzz(lines: list[tuple[bytes, bytes]]) -> None:
        data = b"".join(text + end for text, end in lines)
        emu.emit(data)
        sent["lines"] += len(lines)
        sent["bytes"] += len(data)

    async with playing(host):
        await trio.to_thread.run_sync(fuzz)
        emu.emit(b"\n\r^^ready()\n\r")
        before = len(emu.commands())
        host.play(Hit(trio.current_time(), 0.0, 0, 0, 1.0))
        await wait_for(lambda: "output[1]()" in emu.commands()[before:], "a hit after the fuzz")
        assert host.connected and host.failed.count == 0
    async with playing(host):  # and it shakes hands again
        assert host.hello is not None and host.hello.version == emu.version
    print(f"crow: {sent['lines']} lines, {sent['bytes']} bytes, {host.ignored.count} malformed events "
          f"ignored, {host.failed.count} handler errors")
    assert host.ignored.count > EXAMPLES
    logged = [r for r in caplog.records if "so far" in r.getMessage()]
    assert len(logged) < 40  # sparse: powers of two per counter
