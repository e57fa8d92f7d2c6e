"""The page's WebSocket against hostile input, over real sockets to gridtonic's running server:
generated JSON and structured-hostile messages (hypothesis, bounded, derandomized), and a frame
declared 1 GB. Afterwards the page still edits the session and gets frames."""

from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from trio_websocket import ConnectionClosed
from webrig import ask, next_of, rig, until, ws_client

from gridtonic.core import params
from gridtonic.core.actions import STEP_FIELDS
from gridtonic.core.session import (
    CONDITIONS,
    FOCUS_RANGE,
    MAX_CHAIN,
    MAX_FILL_EVERY,
    MAX_NUDGE,
    MAX_RATCHET,
    MAX_STEPS,
    NEXT_BAR_MODES,
    SPEEDS,
    Session,
    Steps,
)
from gridtonic.io import store
from gridtonic.web import protocol
from gridtonic.web import server as web

MB = 1 << 20
TYPES = ["key", "param", "morph", "select", "mute", "introspect", "generate", "transport", "tap", "tempo",
         "preset", "save", "load", "release", "step", "level", "step_field", "lock", "track_field", "chain",
         "fill", "fill_every", "introspection", "groove", "kit", "master"]
FIELDS = ["x", "y", "down", "track", "slot", "name", "value", "basis", "target", "bpm", "step", "on", "lane",
          "field", "slots", "held", "bars", "db"]


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GRIDTONIC_DATA", str(tmp_path))
    return tmp_path


def rss() -> int:
    """This process's resident memory in bytes: the server runs in it."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_a_frame_declared_1_gb_is_never_buffered(data):
    """200 MB of a text frame whose header says 1 GB, streamed to the server: hypercorn refuses it at
    its message cap and gridtonic's RSS stays within +50 MB (hypercorn 0.18 alone kept it all)."""
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        good = await ws_client(url, n)
        await next_of(good, "state")
        host, port = url.split("/")[2].split(":")
        stream = await trio.open_tcp_stream(host, int(port))
        path = web.socket_url(url).split(port, 1)[1]
        await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        assert (await stream.receive_some(4096)).startswith(b"HTTP/1.1 101")
        before = peak = rss()
        await stream.send_all(bytes([0x81, 0x80 | 127]) + struct.pack(">Q", 1 << 30) + bytes(4))
        chunk = b"a" * (64 * 1024)
        with trio.fail_after(120):  # a hang guard, not a timing assertion
            for i in range(200 * MB // len(chunk)):
                await stream.send_all(chunk)
                if i % 64 == 0:
                    peak = max(peak, rss())
        peak = max(peak, rss())
        print(f"RSS {before / MB:.0f} MB before, peak {peak / MB:.0f} MB while 200 MB streamed")
        assert peak - before < 50 * MB
        await stream.aclose()
        await ask(good, {"type": "mute", "track": 1})  # the other page plays on
        await until(lambda: inst.session.tracks[1].mute, "the good page's mute")
        n.cancel_scope.cancel()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
HOSTILE_VALUE = st.one_of(
    st.integers(), st.integers(min_value=10**300, max_value=10**400), st.integers(max_value=-10**300),
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -0.0, 5e-324]),
    st.floats(), st.text(max_size=50), st.text("xy 0", min_size=4000, max_size=5000), st.booleans(),
    st.none(),
    st.sampled_from(list(params.BY_NAME) + ["a", "b", "both", "velocity", "probability", "../../etc/passwd",
                     ".hidden", "x\x00y", *STEP_FIELDS, "length", "speed", *CONDITIONS[::7]]),
    st.integers(1, 40).map(lambda d: json.loads("[" * d + "]" * d)), JSON)
HOSTILE = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.one_of(st.sampled_from(TYPES), JSON),
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), HOSTILE_VALUE, max_size=3))
# every message fits the server's frame cap (16,384 characters; over it a page is closed, tested
# in test_web and by the 1 GB frame here): long strings of plain letters, three fields at most
TEXTS = st.one_of(
    JSON.map(json.dumps), HOSTILE.map(json.dumps), st.text(max_size=200),
    st.integers(1, 5000).map(lambda d: "[" * d + "]" * d),  # deep nesting, over the length limit too
    st.integers(300, 4000).map(lambda d: '{"type": "tempo", "bpm": 1%s}' % ("0" * d)),
    st.binary(max_size=100))
EXAMPLES = 1000


@pytest.fixture
def unlimited(monkeypatch):
    """No rate limit on the page's socket (it has its own test): every message reaches the parser."""
    monkeypatch.setattr(web, "RATE", 1e6)
    monkeypatch.setattr(web, "BURST", 1e6)


async def fuzz_socket(url: str, n: trio.Nursery, strategy, examples: int, encode=lambda m: m):
    """A page socket sent ``examples`` messages drawn by hypothesis (in a worker thread, each over the
    real WebSocket, its answers drained); returns the socket and what was sent."""
    fuzz = await ws_client(url, n)
    await next_of(fuzz, "state")
    n.start_soon(_drain, fuzz)
    sent = []

    @settings(max_examples=examples, derandomize=True, database=None)
    @given(strategy)
    def send(msg) -> None:
        sent.append(msg)
        trio.from_thread.run(fuzz.send_message, encode(msg))

    await trio.to_thread.run_sync(send)
    return fuzz, sent


async def test_hostile_and_random_messages_never_crash_the_page(data, caplog, unlimited):
    """Hypothesis runs in a worker thread and sends each message over a real WebSocket; the server
    must answer every one (an error, a state or nothing) and keep the connection, log no failure,
    and play on."""
    caplog.set_level(logging.WARNING)
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        fuzz, tried = await fuzz_socket(url, n, TEXTS, EXAMPLES)
        good = await ws_client(url, n)
        await next_of(good, "state")
        for down in (True, False):
            await ask(good, {"type": "key", "x": 12, "y": 3, "down": down})
        await until(lambda: inst.session.tracks[3].steps[12], "a step set after the fuzzing")
        frame = await next_of(good, "frame")
        assert len(frame["levels"]) == 16 * 8
        await fuzz.send_message("still there?")  # the fuzzed page too
        n.cancel_scope.cancel()
    crashes = [r for r in caplog.records if crashed(r)]
    print(f"web page: {len(tried)} messages tried, {len(crashes)} crashes")
    assert len(tried) >= EXAMPLES and not crashes, [r.getMessage() for r in crashes]


# the step inspector's messages with every field in place and values near, at and past their limits
# (and of every other type), so most reach the session and the rest are refused on a value
NEAR = st.one_of(
    st.integers(1, MAX_RATCHET), st.integers(-MAX_NUDGE, MAX_NUDGE), st.floats(-1.0, 1.0),
    st.sampled_from(CONDITIONS),
    st.integers(-2 * MAX_NUDGE, MAX_STEPS + 2), st.floats(),
    st.sampled_from([*CONDITIONS, None, "", "FILL ", "9:9"]),
    st.sampled_from([*SPEEDS, 0.3, 1.25, 3.0, 1e308]), st.booleans(), st.none(),
    st.integers(10**300, 10**301), st.lists(st.integers(-2, 20), max_size=70), JSON)
WHERE = {"track": st.integers(-1, 5), "step": st.integers(-1, MAX_STEPS)}
VALID = {"ratchet": st.integers(1, MAX_RATCHET), "ramp": st.floats(-1.0, 1.0),
         "nudge": st.integers(-MAX_NUDGE, MAX_NUDGE), "condition": st.sampled_from([*CONDITIONS, None]),
         "accent": st.booleans(), "length": st.integers(1, MAX_STEPS), "speed": st.sampled_from(SPEEDS),
         "focus": st.floats(*FOCUS_RANGE) | st.sampled_from([*FOCUS_RANGE, 0.0499, 5.0001, 0.0]),
         "groove": st.floats(0.0, 1.0) | st.sampled_from([-0.0, -1e-9, 1.0 + 1e-9]),
         "next_bar": st.sampled_from(NEXT_BAR_MODES) | st.sampled_from(["Likely", "", "old"])}


def _value(name: str) -> st.SearchStrategy:
    """A value for ``name`` (a step field, track field or parameter): in range half the time."""
    if name in params.BY_NAME:
        p = params.BY_NAME[name]
        valid = st.integers(0, len(p.choices) - 1) if p.discrete else st.floats(p.minimum, p.maximum)
        return _half(valid | st.none())
    return _half(VALID.get(name, NEAR))


def _half(valid: st.SearchStrategy) -> st.SearchStrategy:
    """``valid`` or NEAR, even odds (``st.one_of`` would flatten NEAR's dozen branches beside it)."""
    return st.tuples(st.booleans(), valid, NEAR).map(lambda t: t[1] if t[0] else t[2])


INSPECTOR = st.one_of(
    st.sampled_from([*STEP_FIELDS, "velocity", "locks"]).flatmap(lambda name: st.fixed_dictionaries(
        {"type": st.just("step_field"), **WHERE, "field": st.just(name), "value": _value(name)})),
    st.sampled_from([*params.BY_NAME, "bogus"]).flatmap(lambda name: st.fixed_dictionaries(
        {"type": st.just("lock"), **WHERE, "name": st.just(name), "value": _value(name)})),
    st.sampled_from(["length", "speed", "swing"]).flatmap(lambda name: st.fixed_dictionaries(
        {"type": st.just("track_field"), "track": WHERE["track"], "field": st.just(name),
         "value": _value(name)})),
    st.fixed_dictionaries({"type": st.just("chain"),
                           "slots": st.lists(st.integers(0, 9), max_size=MAX_CHAIN + 2) | NEAR}),
    st.fixed_dictionaries({"type": st.just("fill"), "held": st.booleans() | NEAR}),
    st.fixed_dictionaries({"type": st.just("fill_every"), "bars": st.integers(0, MAX_FILL_EVERY) | NEAR}),
    st.sampled_from(["focus", "groove", "next_bar", "wild"]).flatmap(lambda name: st.fixed_dictionaries(
        {"type": st.just("introspection"), "field": st.just(name), "value": _value(name)})),
)
INSPECTOR_EXAMPLES = 800


def in_range(session: Session) -> list[str]:
    """Whatever in the session is not as the session model allows (empty: all of it is)."""
    bad = []
    for i, t in enumerate(session.tracks):
        conditions = zip(t.condition, t.probability, strict=True)
        lists = {"ratchet": all(type(r) is int and 1 <= r <= MAX_RATCHET for r in t.ratchet),
                 "ramp": all(-1.0 <= r <= 1.0 for r in t.ramp),
                 "nudge": all(type(n) is int and abs(n) <= MAX_NUDGE for n in t.nudge),
                 "condition": all(c is None or c in CONDITIONS for c in t.condition),
                 "accent": all(type(a) is bool for a in t.accent),
                 "locks": all(name in params.BY_NAME and params.BY_NAME[name].clamp(v) == v
                              for lock in t.locks for name, v in lock.items()),
                 "one condition a step": all(c is None or p == 1.0 for c, p in conditions),
                 "length": 1 <= t.length <= MAX_STEPS, "speed": t.speed in SPEEDS}
        bad += [f"track {i + 1} {name}" for name, ok in lists.items() if not ok]
        bad += [f"track {i + 1}: {len(getattr(t, n))} {n}" for n in ("steps", *Steps.LISTS)
                if len(getattr(t, n)) != MAX_STEPS]
    if not all(type(s) is int and 0 <= s < len(session.slots) for s in session.chain):
        bad.append(f"chain {session.chain}")
    if not (type(session.fill_every) is int and 0 <= session.fill_every <= MAX_FILL_EVERY):
        bad.append(f"fill every {session.fill_every!r} bars")
    if not (type(session.focus) is float and FOCUS_RANGE[0] <= session.focus <= FOCUS_RANGE[1]):
        bad.append(f"focus {session.focus!r}")
    if not (type(session.groove) is float and 0.0 <= session.groove <= 1.0):
        bad.append(f"groove {session.groove!r}")
    if session.next_bar not in NEXT_BAR_MODES:
        bad.append(f"17-32 mode {session.next_bar!r}")
    return bad


async def test_the_inspectors_messages_keep_the_session_in_range(data, caplog, unlimited):
    """Hypothesis sends step_field, lock, track_field, chain, fill, fill_every and introspection
    messages near and past every limit: none crashes the page or logs a failure, the session never
    has to clamp what the page's check let through (its clamps warn), each introspection setting is
    the last one accepted, what was applied is in range, and the saved session loads
    back without a single warning, in range, and saves the same again."""
    caplog.set_level(logging.WARNING)
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        fuzz, sent = await fuzz_socket(url, n, INSPECTOR, INSPECTOR_EXAMPLES, json.dumps)
        await ask(fuzz, {"type": "lock", "track": 0, "step": 63, "name": "level", "value": -6})  # the last
        await until(lambda: inst.session.tracks[0].locks[63].get("level") == -6.0, "the last message applied")
        fuzzed = list(caplog.records)
        s = inst.session
        accepted = sum(_parses(json.dumps(msg), inst) for msg in sent)
        applied = sum(v != default for t in s.tracks for name, (default, _) in protocol.STEP_LISTS.items()
                      for v in getattr(t, name))
        assert in_range(s) == []
        last = {m["field"]: m["value"] for m in sent
                if m["type"] == "introspection" and _parses(json.dumps(m), inst)}
        assert set(last) == {"focus", "groove", "next_bar"}
        assert {name: getattr(s, name) for name in last} == last
        caplog.clear()
        again = Session.from_dict(json.loads(store.dumps(s)))  # a value within 1e-9 of a bound loads as it
        assert not caplog.records, [r.getMessage() for r in caplog.records]
        assert in_range(again) == [] and [t.steps for t in again.tracks] == [t.steps for t in s.tracks]
        assert store.dumps(Session.from_dict(json.loads(store.dumps(again)))) == store.dumps(again)
        n.cancel_scope.cancel()
    crashes = [r for r in fuzzed if crashed(r)
               or r.name.startswith("gridtonic.core")]  # the session had to clamp what the page let through
    print(f"inspector: {len(sent)} messages, {accepted} of them valid, {applied} step values left off their "
          f"default, {len(crashes)} crashes")
    assert accepted > len(sent) // 8 and applied > 0 and not crashes, [r.getMessage() for r in crashes]


def _parses(text: str, inst) -> bool:
    """The page's check accepts ``text`` (the fuzzing must reach the session, not only the refusals)."""
    try:
        protocol.parse(text, inst.session, inst.page.gestures.layout)
    except protocol.BadMessage:
        return False
    return True


def crashed(record: logging.LogRecord) -> bool:
    """A log line that means the server failed: an error, or a message a handler raised on (a
    refused message's own line, "web page message: ignored …", is the check working)."""
    return record.levelno >= logging.ERROR or (record.name.startswith("gridtonic.web")
                                               and record.getMessage().startswith("web page: ignored"))


async def _drain(ws) -> None:
    """Read the fuzzed page's answers so it never lags; a closed connection fails the test."""
    try:
        while True:
            await ws.get_message()
    except ConnectionClosed as e:
        raise AssertionError(f"the server closed the fuzzed page: {e.reason}") from None
