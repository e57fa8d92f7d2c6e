"""Who may play the instrument from a page, and how much: the page's secret token, each page's
message rate (``core.bucket``), a WebSocket message cap that holds, and frames sent as they are.

The server listens on 127.0.0.1 only, but every local process and user can reach that, with or
without an ``Origin``: knowing the token (in the page's URL, like Jupyter's) is what makes a page
gridtonic's. It lives in the data dir (``web-token``, readable by its owner only), so a bookmark
keeps working while the instrument runs and after a restart; delete the file for a new one.
"""

from __future__ import annotations

import hmac
import re
import secrets
from io import BytesIO, StringIO
from pathlib import Path

from hypercorn.protocol import ws_stream
from wsproto.events import Message, TextMessage
from wsproto.extensions import PerMessageDeflate

from gridtonic.io import store

TOKEN_FILE = "web-token"
TOKEN = re.compile(r"[\w-]{32,128}")  # what token_urlsafe makes


def token(path: Path | None = None) -> str:
    """The page's token from ``path`` (the data dir's ``web-token``), made and saved (mode 0600)
    when there is none, it is not one, or others could read it (then it is no secret)."""
    path = path or store.data_dir() / TOKEN_FILE
    try:
        if not path.stat().st_mode & 0o077:
            with path.open("rb") as f:
                text = f.read(256).decode("ascii").strip()
            if TOKEN.fullmatch(text):
                return text
    except (OSError, UnicodeDecodeError):
        pass
    text = secrets.token_urlsafe(32)
    store.save_text(text + "\n", path)  # a temp file made 0600, renamed
    return text


def matches(given: str, expected: str) -> bool:
    """``given`` is the token, compared in constant time (a local process could time guesses)."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


class CappedBuffer(ws_stream.WebsocketBuffer):
    """hypercorn's message buffer, counting before it keeps anything. hypercorn 0.18 writes each
    piece of a message before checking the size and keeps it after refusing the message, so the
    rest of a 1 GB frame was buffered whole (RSS +1 GB) after the close frame had gone out."""

    def extend(self, event: Message) -> None:
        self.length += len(event.data)
        if self.length > self.max_length:
            self.value = None
            raise ws_stream.FrameTooLargeError()
        if self.value is None:
            self.value = StringIO() if isinstance(event, TextMessage) else BytesIO()
        self.value.write(event.data)


def cap_websocket_messages() -> None:
    """Make hypercorn's ``websocket_max_message_size`` hold (its streams look the buffer up here)."""
    ws_stream.WebsocketBuffer = CappedBuffer


class Uncompressed(PerMessageDeflate):
    """permessage-deflate, refused. hypercorn accepts it whenever a browser offers it (Chromium
    always does), and then zlib (and wsproto's Python around it) ran on every message both ways in
    the trio thread: most of the cost of sending a frame, for bytes that only cross the loopback."""

    def accept(self, offer: str) -> None:
        return None


def uncompressed_websockets() -> None:
    """Make hypercorn turn down permessage-deflate (its streams look the extension up here)."""
    ws_stream.PerMessageDeflate = Uncompressed
