"""crow's serial wire format: lines out (druid's 64-byte rule), lines and ``^^events`` in.

Pure (it only logs). Bytes from crow are outside input: anything that is not a well-formed event
becomes a :class:`WireError` with one line saying why, which the host logs and ignores; an overlong
line is dropped and logged here. Event arguments are read the way druid reads them (split on ``(``
and top-level ``,``), never evaluated.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from gridtonic.io.tasks import Dropped

PACKET = 64  # USB full-speed bulk packet: a write of a multiple of it stalls without a ZLP
MAX_CHUNK = 1024  # bytes per write, well under crow's 2048-byte receive buffer
MAX_LINE = 4096  # a longer run without a newline is garbage, dropped
# How crow's error lines start: v4's Lua errors (``repl:1: …``, ``lua: …``), older firmware's
# leading backslash, and crow's own complaints (``!chunk too long!``).
ERROR_STARTS = ("repl:", "lua:", "\\", "!")

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
_NUMBER = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\Z")


class WireError(ValueError):
    """Bytes from crow that are not what the protocol says."""


@dataclass(frozen=True)
class Event:
    name: str  # e.g. "identity", "ii.jf"
    args: tuple[int | float | str | bool | None, ...]


def frames(lines: Iterable[str]) -> list[bytes]:
    """Lines joined into writes of at most MAX_CHUNK bytes; a write whose length is a multiple of
    64 gets one more newline (druid does the same)."""
    out: list[bytes] = []
    chunk = b""
    for line in lines:
        data = line.encode("ascii") + b"\n"
        if chunk and len(chunk) + len(data) > MAX_CHUNK:
            out.append(chunk)
            chunk = b""
        chunk += data
    if chunk:
        out.append(chunk)
    return [c + b"\n" if len(c) % PACKET == 0 else c for c in out]


class LineSplitter:
    """Bytes in, complete lines out; crow ends lines with ``\\n\\r``, druid-style hosts ``\\r\\n``.

    A line longer than MAX_LINE is garbage: dropped whole (up to its newline, however it was cut
    into reads) and logged sparsely (:class:`Dropped`), so a babbling port cannot flood the log."""

    def __init__(self) -> None:
        self._buf = b""
        self._skipping = False  # inside an overlong line: its bytes are dropped up to its newline
        self.dropped = 0  # bytes thrown away as overlong lines
        self.overlong = Dropped(log, "crow")

    def feed(self, data: bytes) -> list[str]:
        *done, rest = (self._buf + data).replace(b"\r", b"\n").split(b"\n")
        lines = []
        for raw in done:
            if self._skipping:  # the end of an overlong line, already counted and logged
                self.dropped += len(raw)
                self._skipping = False
            elif len(raw) > MAX_LINE:
                self._drop(raw)
            elif raw.strip():
                lines.append(raw.decode("utf-8", errors="replace"))
        if self._skipping:
            self.dropped += len(rest)
            rest = b""
        elif len(rest) > MAX_LINE:
            self._drop(rest)
            self._skipping, rest = True, b""
        self._buf = rest
        return lines

    def _drop(self, raw: bytes) -> None:
        self.dropped += len(raw)
        self.overlong(f"a line over {MAX_LINE} bytes starting {raw[:20]!r}")


def is_error(text: str) -> bool:
    """Whether printed text from crow (see :func:`split_line`) is one of crow's error lines."""
    return text.startswith(ERROR_STARTS)


def split_line(line: str) -> tuple[str, list[str]]:
    """(printed text, event texts): ``^^`` may start anywhere, several may share a line."""
    text, *events = line.split("^^")
    return text.strip(), [e.strip() for e in events if e.strip()]


def _split_args(text: str) -> list[str]:
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise WireError("unbalanced '}'")
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if quote or depth:
        raise WireError("unterminated string or table")
    parts.append("".join(cur).strip())
    return parts


def _value(text: str) -> int | float | str | bool | None:
    if text in ("nil", "true", "false"):
        return {"nil": None, "true": True, "false": False}[text]
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text.startswith("{"):
        return text  # a Lua table (ii getters): kept as text, never evaluated
    if _NUMBER.match(text):
        if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", text):
            return int(text, 16)
        return int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)
    raise WireError(f"unreadable argument {text[:40]!r}")


def parse_event(text: str) -> Event:
    """``name(args)`` (the text after ``^^``) → Event; WireError for anything else."""
    name, paren, rest = text.partition("(")
    name = name.strip()
    if not paren or not _NAME.match(name):
        raise WireError(f"not an event: ^^{text[:60]!r}")
    if not rest.rstrip().endswith(")"):
        raise WireError(f"partial event: ^^{text[:60]!r}")
    inner = rest.rstrip()[:-1].strip()
    args = () if not inner else tuple(_value(a) for a in _split_args(inner))
    return Event(name, args)
