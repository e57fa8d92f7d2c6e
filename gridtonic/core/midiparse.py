"""MIDI bytes → messages, for any chunking of the stream and whatever garbage it carries.

Real-time bytes (clock, Start, Continue, Stop) may sit inside other messages, even inside SysEx;
they come out at once and leave the message around them intact. Running status is kept for channel
messages. Stray data bytes and undefined status bytes are dropped with a debug line, never raised:
a cable's noise must not stop the clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

CLOCK, START, CONTINUE, STOP = 0xF8, 0xFA, 0xFB, 0xFC
SONG_POSITION = 0xF2
NOTE_OFF, NOTE_ON, CONTROL_CHANGE = 0x80, 0x90, 0xB0
SYSEX, SYSEX_END = 0xF0, 0xF7
MAX_SYSEX = 4096  # longer SysEx is dropped (nothing here reads it)

_DATA_LENGTH = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_COMMON_LENGTH = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0}
_REALTIME = {0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF}


class Parser:
    """Feed it bytes; it returns whole messages as tuples of ints."""

    def __init__(self) -> None:
        self._status: int | None = None  # status of the message being read (or running status)
        self._data: list[int] = []
        self._sysex: list[int] | None = None

    def feed(self, data: Iterable[int]) -> list[tuple[int, ...]]:
        out: list[tuple[int, ...]] = []
        for byte in data:
            message = self._byte(byte & 0xFF)
            if message is not None:
                out.append(message)
        return out

    def _byte(self, b: int) -> tuple[int, ...] | None:
        if b >= 0xF8:
            if b in _REALTIME:
                return (b,)
            log.debug("undefined real-time byte 0x%02X ignored", b)
            return None
        if b >= 0x80:
            return self._status_byte(b)
        if self._sysex is not None:
            if len(self._sysex) < MAX_SYSEX:
                self._sysex.append(b)
            return None
        if self._status is None:
            log.debug("data byte 0x%02X without a status ignored", b)
            return None
        self._data.append(b)
        if len(self._data) < self._length(self._status):
            return None
        message = (self._status, *self._data)
        self._data = []
        if self._status >= 0xF0:  # system common: no running status
            self._status = None
        return message

    def _status_byte(self, b: int) -> tuple[int, ...] | None:
        if self._data:
            log.debug("message 0x%02X cut short by 0x%02X; dropped", self._status or 0, b)
        self._data = []
        sysex, self._sysex = self._sysex, None
        if b == SYSEX_END:
            self._status = None
            return (SYSEX, *sysex, SYSEX_END) if sysex is not None and len(sysex) < MAX_SYSEX else None
        if b == SYSEX:
            self._status, self._sysex = None, []
            return None
        if b >= 0xF0 and b not in _COMMON_LENGTH:
            log.debug("undefined status byte 0x%02X ignored", b)
            self._status = None
            return None
        self._status = b
        if self._length(b) == 0:
            self._status = None
            return (b,)
        return None

    @staticmethod
    def _length(status: int) -> int:
        return _COMMON_LENGTH[status] if status >= 0xF0 else _DATA_LENGTH[status & 0xF0]
