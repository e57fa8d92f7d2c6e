"""crow's wire format: the 64-byte rule, line splitting and the ``^^event`` parser."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridtonic.crow.wire import (
    MAX_CHUNK,
    MAX_LINE,
    Event,
    LineSplitter,
    WireError,
    frames,
    is_error,
    parse_event,
    split_line,
)


def test_a_write_of_a_multiple_of_64_bytes_gets_one_more_newline():
    line = "x" * 63  # + "\n" = 64 bytes
    assert frames([line]) == [line.encode() + b"\n\n"]
    assert frames(["output[1]()"]) == [b"output[1]()\n"]


@given(st.lists(st.text(alphabet="abc()[]=.,0123456789", max_size=200), max_size=40))
def test_frames_keep_every_line_and_never_end_on_a_packet_boundary(lines):
    out = frames(lines)
    assert all(len(f) % 64 != 0 and len(f) <= MAX_CHUNK + 1 for f in out)
    assert [x for x in b"".join(out).split(b"\n") if x] == [s.encode() for s in lines if s]


def test_lines_split_on_crows_newlines():
    split = LineSplitter()
    assert split.feed(b"hello\n\r^^ready()") == ["hello"]
    assert split.feed(b"\n\r") == ["^^ready()"]


def test_an_overlong_line_is_dropped_whole_and_logged_once(caplog):
    caplog.set_level(logging.WARNING, logger="gridtonic.crow.wire")
    split = LineSplitter()
    assert split.feed(b"x" * (MAX_LINE + 1)) == []
    assert split.feed(b"x" * 1000) == []  # still the same line
    assert split.feed(b"yy\n\r^^ready()\n\r") == ["^^ready()"]  # its tail is not a line either
    assert (split.dropped, split.overlong.count) == (MAX_LINE + 1003, 1)
    assert [r.getMessage()[:44] for r in caplog.records] == ["crow: ignored a line over 4096 bytes startin"]
    assert split.feed(b"z" * (MAX_LINE + 1) + b"\nok\n") == ["ok"]  # whole, in one read
    assert len(caplog.records) == 2


def test_overlong_lines_are_logged_at_a_falling_rate(caplog):
    caplog.set_level(logging.WARNING, logger="gridtonic.crow.wire")
    split = LineSplitter()
    for _ in range(100):
        split.feed(b"x" * (MAX_LINE + 1) + b"\n")
    assert split.overlong.count == 100
    assert [r.getMessage().split("(")[-1] for r in caplog.records] == [
        f"{n} so far)" for n in (1, 2, 4, 8, 16, 32, 64)]


@given(st.lists(st.sampled_from([b"\n", b"\r", b"^^ready()", b"x" * 1000, b"x" * MAX_LINE]), max_size=20),
       st.integers(1, 3000))
def test_how_bytes_are_cut_into_reads_does_not_change_the_lines(pieces, cut):
    data = b"".join(pieces)
    whole, parts = LineSplitter(), LineSplitter()
    got = [line for i in range(0, len(data), cut) for line in parts.feed(data[i:i + cut])]
    assert got == whole.feed(data)
    assert (parts.dropped, parts.overlong.count) == (whole.dropped, whole.overlong.count)
    assert all(len(line) <= MAX_LINE for line in got)


def test_events():
    assert parse_event("identity('0x2f0043')") == Event("identity", ("0x2f0043",))
    assert parse_event("stream(1, -2.5e-1)") == Event("stream", (1, -0.25))
    assert parse_event("ii.jf({name='speed',device=1,arg=0}, 3)") == Event(
        "ii.jf", ("{name='speed',device=1,arg=0}", 3))
    assert parse_event("pub('a,b', true, nil)") == Event("pub", ("a,b", True, None))
    assert parse_event("ready()") == Event("ready", ())
    assert split_line("hi ^^ready()^^change(1,1)") == ("hi", ["ready()", "change(1,1)"])


@pytest.mark.parametrize(("text", "error"), [
    ("repl:1: attempt to call a nil value (field 'play_voice')", True),  # crow v4, a line from the host
    ("lua: lib/asl.lua:12: bad argument", True),  # crow v4, from crow's own Lua
    ("\\lua: [string \"eval\"]:1: attempt to call a nil value", True),  # older firmware
    ("!chunk too long!", True),
    ("error count 0", False), ("hello", False), ("", False)])
def test_crows_error_lines(text, error):
    assert is_error(text) is error


@pytest.mark.parametrize("text", ["change(1,", "(((", "stream(1,2", "pub('x)", "x(1,{2)", "x(os.exit)",
                                  "9x(1)", "x(})", ""])
def test_bad_events_are_wire_errors(text):
    with pytest.raises(WireError):
        parse_event(text)


@given(st.text(max_size=80))
def test_any_text_parses_or_is_a_wire_error(text):
    try:
        event = parse_event(text)
    except WireError:
        return
    assert isinstance(event, Event)


@given(st.binary(max_size=300), st.integers(1, 50))
def test_any_bytes_split_without_error(data, cut):
    split = LineSplitter()
    for i in range(0, len(data), cut):
        for line in split.feed(data[i:i + cut]):
            split_line(line)
