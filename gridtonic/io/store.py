"""Session files: atomic saves, loading with clear errors, and the autosave task.

A save writes a temporary file in the same directory, fsyncs it and renames it over the old one,
so a crash or ``kill -9`` at any moment leaves either the old file or the new one, never half.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import platformdirs
import trio

from gridtonic.core.session import Session, SessionError, default_session

log = logging.getLogger(__name__)

AUTOSAVE_PERIOD = 0.5  # s: at most this much editing is lost on kill -9


def data_dir() -> Path:
    """The user data dir (``GRIDTONIC_DATA`` overrides, for tests and portable set-ups)."""
    override = os.environ.get("GRIDTONIC_DATA")
    return Path(override) if override else Path(platformdirs.user_data_dir("gridtonic"))


def default_path() -> Path:
    return data_dir() / "session.json"


def dumps(session: Session) -> str:
    return json.dumps(session.to_dict(), indent=1) + "\n"


def save(session: Session, path: Path) -> None:
    save_text(dumps(session), path)


def save_text(text: str, path: Path) -> None:
    """Write ``text`` to ``path`` atomically."""
    replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def replace_atomically(path: Path, produce: Callable[[Path], None]) -> None:
    """Have ``produce`` write a temp file next to ``path``, fsync it, rename it over ``path`` and
    fsync the directory: after a crash or power loss ``path`` is the old file or the new one, whole.
    A failing ``produce`` leaves ``path`` as it was and no temp file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        produce(tmp)
        _fsync(tmp, os.O_RDWR)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent, os.O_RDONLY)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: Path) -> Session:
    """Read a session file; SessionError (one line, naming the file) when it cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SessionError(f"{path}: cannot read ({e.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SessionError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None
    return Session.from_dict(data, where=str(path))


def open_session(path: Path) -> Session:
    """The saved session, or the default one. A file that cannot be used is moved aside (never
    overwritten by autosave) with one line saying where it went."""
    if not path.exists():
        return default_session()
    try:
        return load(path)
    except SessionError as e:
        aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, aside)
        log.error("%s; moved it to %s and started the default session", e, aside)
        return default_session()


async def autosave(session: Session, path: Path, period: float = AUTOSAVE_PERIOD) -> None:
    """Save the session whenever its text changed (a missing file at once), at most every ``period`` s."""
    await keep_saved(lambda: dumps(session), path, dumps(session) if path.exists() else None, period)


async def keep_saved(text: Callable[[], str], path: Path, last: str | None,
                     period: float = AUTOSAVE_PERIOD) -> None:
    """Write ``text()`` to ``path`` whenever it differs from what was last written (``last``: what
    the file holds now), at most every ``period`` seconds, and once more when cancelled (the
    performance is stopping); never raises on a failed write (logged, retried next time) so the
    performance goes on. The text is taken on the trio thread, so the worker thread never sees
    state being edited."""

    async def flush() -> None:
        nonlocal last
        now = text()
        if now == last:
            return
        try:
            await trio.to_thread.run_sync(save_text, now, path)
            last = now
        except OSError as e:
            log.error("autosave to %s failed: %s", path, e)

    try:
        while True:
            await trio.sleep(period)
            await flush()
    finally:
        with trio.CancelScope(shield=True):
            await flush()
