"""OSC packets for scsynth: messages, time-stamped bundles, NRT score files, reply parsing.

python-osc builds and parses messages; bundles are packed here because scsynth's NRT mode wants
time tags in seconds from 0 (python-osc always adds the NTP epoch) and realtime bundles want the
tag computed from our own clock mapping.

Inbound OSC comes from any local process: ``parse`` and ``check`` turn anything malformed, of the
wrong type or out of range into one ``BadMessage`` (readers log it through ``tasks.Dropped``, so
a flood stays a handful of lines).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence

from pythonosc.osc_message import OscMessage
from pythonosc.parsing import osc_types

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
IMMEDIATE = 1  # OSC's "now" time tag

OscArg = int | float | str | bytes


def _padded(b: bytes) -> bytes:
    """OSC's strings and blobs end on a 4-byte boundary (a string with at least one NUL)."""
    return b + b"\0" * (4 - len(b) % 4)


def _string(s: str) -> bytes:
    return _padded(s.encode())


def message(address: str, *args: OscArg) -> bytes:
    """One OSC message; Python ints go as int32, floats as float32, bytes as blobs.

    Packed here rather than by python-osc's builder, which parses every message it builds back
    (two thirds of the cost of a voice's ``/s_new``, on the sequencer's path); a test checks the
    bytes are python-osc's."""
    tags, data = [","], []
    for a in args:
        if isinstance(a, bool | int):
            tags.append("i")
            data.append(struct.pack(">i", int(a)))
        elif isinstance(a, float):
            tags.append("f")
            data.append(struct.pack(">f", a))
        elif isinstance(a, str):
            tags.append("s")
            data.append(_string(a))
        elif isinstance(a, bytes | bytearray):
            tags.append("b")
            blob = bytes(a)
            data.append(struct.pack(">i", len(blob)) + (blob + b"\0" * (-len(blob) % 4)))
        else:
            raise TypeError(f"OSC argument of type {type(a).__name__} not supported")
    return _string(address) + _string("".join(tags)) + b"".join(data)


def timetag(seconds: float) -> int:
    """64-bit fixed-point time tag for ``seconds`` (already in the tag's epoch)."""
    whole = int(seconds // 1)
    frac = int(round((seconds - whole) * (1 << 32)))
    if frac >= 1 << 32:
        whole, frac = whole + 1, frac - (1 << 32)
    return (whole << 32) | frac


def unix_timetag(unix_seconds: float) -> int:
    """Time tag for a realtime bundle due at ``unix_seconds`` (time.time() scale)."""
    return timetag(unix_seconds + NTP_EPOCH_OFFSET)


def bundle(tag: int, packets: Iterable[bytes]) -> bytes:
    """An OSC bundle with the raw 64-bit time ``tag`` holding ``packets`` (messages or bundles)."""
    parts = [b"#bundle\0", struct.pack(">Q", tag)]
    for p in packets:
        parts.append(struct.pack(">i", len(p)))
        parts.append(p)
    return b"".join(parts)


def nrt_score(events: Sequence[tuple[float, Sequence[bytes]]]) -> bytes:
    """scsynth -N score: each (seconds from 0, messages) as a length-prefixed bundle, in time order."""
    out = []
    for t, msgs in sorted(events, key=lambda e: e[0]):
        b = bundle(timetag(t), msgs)
        out.append(struct.pack(">i", len(b)))
        out.append(b)
    return b"".join(out)


INT32 = (-(2**31), 2**31 - 1)
TYPE_TAGS = frozenset("ihfdsbrmtTFN[]")  # what python-osc parses; it logs every other tag to root


class BadMessage(ValueError):
    """An inbound OSC message that cannot be used: dropped by its reader."""


def parse(datagram: bytes) -> tuple[str, list]:
    """(address, args) of one OSC message; raises BadMessage on anything malformed."""
    try:
        _, index = osc_types.get_string(datagram, 0)
        if datagram[index:] and not set(osc_types.get_string(datagram, index)[0][1:]) <= TYPE_TAGS:
            raise BadMessage("unknown OSC type tag")
        m = OscMessage(datagram)
        return m.address, list(m.params)
    except BadMessage:
        raise
    except Exception as e:  # python-osc raises several types on garbage
        raise BadMessage(f"malformed OSC message: {e}") from None


def check(args: Sequence, *kinds: type) -> tuple:
    """The first ``len(kinds)`` of ``args``, each of its kind, or BadMessage: ``int`` an int32 (not
    a bool), ``float`` a finite number (ints too), ``str`` a string, ``bytes`` a blob."""
    if len(args) < len(kinds):
        raise BadMessage(f"{len(args)} arguments, {len(kinds)} wanted")
    out = []
    for a, kind in zip(args, kinds, strict=False):
        if kind is int:
            ok = type(a) is int and INT32[0] <= a <= INT32[1]
        elif kind is float:
            ok = type(a) in (int, float) and math.isfinite(a) and abs(a) < 2.0**64
            a = float(a) if ok else a
        else:
            ok = isinstance(a, kind)
        if not ok:
            raise BadMessage(f"{a!r:.40} where {kind.__name__} was wanted")
        out.append(a)
    return tuple(out)
