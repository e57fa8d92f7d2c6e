"""crow's wire format: the 64-byte rule, line splitting and the ``^^event`` parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridtonic.crowwire import (
    MAX_CHUNK,
    MAX_LINE,
    Event,
    LineSplitter,
    WireError,
    frames,
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
    assert split.feed(b"x" * (MAX_LINE + 1)) == []
    assert split.dropped == MAX_LINE + 1


def test_events():
    assert parse_event("identity('0x2f0043')") == Event("identity", ("0x2f0043",))
    assert parse_event("stream(1, -2.5e-1)") == Event("stream", (1, -0.25))
    assert parse_event("ii.jf({name='speed',device=1,arg=0}, 3)") == Event(
        "ii.jf", ("{name='speed',device=1,arg=0}", 3))
    assert parse_event("pub('a,b', true, nil)") == Event("pub", ("a,b", True, None))
    assert parse_event("ready()") == Event("ready", ())
    assert split_line("hi ^^ready()^^change(1,1)") == ("hi", ["ready()", "change(1,1)"])


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
