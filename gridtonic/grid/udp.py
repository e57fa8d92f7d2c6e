"""Non-blocking UDP for trio tasks that must also send from plain callbacks.

A trio socket's ``sendto`` is a coroutine; LED updates and key events are sent from synchronous
callbacks on the trio thread, and a UDP send to localhost never waits, so a stdlib non-blocking
socket serves both: ``receive`` awaits readability the trio way, ``send`` drops what cannot go now.
"""

from __future__ import annotations

import logging
import socket

import trio

log = logging.getLogger(__name__)

Address = tuple[str, int]


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A non-blocking UDP socket bound to ``host:port`` (0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    """A UDP port nobody holds right now (for servers started with an explicit port)."""
    with bind(host) as sock:
        return sock.getsockname()[1]


async def receive(sock: socket.socket) -> tuple[bytes, Address]:
    """The next datagram and its sender."""
    while True:
        await trio.lowlevel.wait_readable(sock)
        try:
            return sock.recvfrom(65536)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError as e:  # e.g. an ICMP "port unreachable" reported for an earlier send
            log.debug("receive: %s", e)


def send(sock: socket.socket, data: bytes, address: Address) -> bool:
    """Send at once; False (logged at debug level) when the datagram could not go (also to a port
    out of range, which ``sendto`` refuses with OverflowError)."""
    try:
        sock.sendto(data, address)
        return True
    except (OSError, OverflowError) as e:
        log.debug("send to %s:%d failed: %s", *address, e)
        return False
