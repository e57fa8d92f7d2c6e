"""Session files: atomic saves, loading with clear errors, and the autosave task.

A save writes a temporary file in the same directory, fsyncs it and renames it over the old one,
so a crash or ``kill -9`` at any moment leaves either the old file or the new one, never half.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs
import trio

from gridtonic.core.session import Session, SessionError, default_session

log = logging.getLogger(__name__)

AUTOSAVE_PERIOD = 0.5  # s: at most this much editing is lost on kill -9
MAX_SESSION_BYTES = 10 << 20  # a full session is about 30 KB; anything near this is not one
MAX_CONFIG_BYTES = 1 << 20  # crow.json, midi.json, the CC map: a few KB when written by hand


class FileError(ValueError):
    """A file that cannot be used at all: unreadable, too large, not UTF-8 or not JSON (one line
    naming it)."""


def data_dir() -> Path:
    """The user data dir (``GRIDTONIC_DATA`` overrides, for tests and portable set-ups)."""
    override = os.environ.get("GRIDTONIC_DATA")
    return Path(override) if override else Path(platformdirs.user_data_dir("gridtonic"))


def files(directory: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The files in ``directory`` whose suffix (lower case; "" for none) is one of ``suffixes``,
    sorted by name, case-blind; hidden files skipped, none when it cannot be read. The page lists
    them on every state check, so a file's type comes from its directory entry (no stat per file)."""
    try:
        with os.scandir(directory) as entries:
            found = [p for e in entries if not e.name.startswith(".")
                     and (p := Path(e.path)).suffix.lower() in suffixes and e.is_file()]
    except OSError:
        return []
    return sorted(found, key=lambda p: p.name.lower())


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


def read_capped(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, refused (FileError) before reading when it holds
    more than ``limit`` or is no regular file (a FIFO would block, a device never end); never more
    than ``limit`` + 1 bytes are read, even from a file that grows."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise FileError(f"{path}: not a regular file")
        if st.st_size > limit:
            raise FileError(f"{path}: {st.st_size:,} bytes, more than the {limit:,} a usable one has")
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise FileError(f"{path}: cannot read ({e.strerror or e})") from None
    if len(data) > limit:
        raise FileError(f"{path}: more than the {limit:,} bytes a usable one has")
    return data


def read_json(path: Path, limit: int) -> Any:
    """The JSON value in ``path`` (at most ``limit`` bytes of UTF-8); FileError, one line naming
    the file, for anything that stops it being read: size, encoding, syntax, nesting too deep for
    the parser, an integer too long to convert."""
    data = read_capped(path, limit)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise FileError(f"{path}: byte {e.start}: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise FileError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None
    except (ValueError, RecursionError) as e:  # >4300-digit integers; nesting deeper than the stack
        raise FileError(f"{path}: not usable JSON ({_short(e)})") from None


def unusable(path: Path, e: Exception) -> str:
    """One line for why ``path`` cannot be used: our own errors already name the file; anything
    else (a damaged file reaching a check we lack) is named with its type, cut short."""
    if isinstance(e, FileError | SessionError) and str(e).startswith(str(path)):
        return str(e)
    return f"{path}: cannot be used ({type(e).__name__}: {_short(e)})"


def _short(e: BaseException, limit: int = 160) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit] + "…"


def load(path: Path) -> Session:
    """Read a session file; SessionError (one line, naming the file) when it cannot be used."""
    try:
        data = read_json(path, MAX_SESSION_BYTES)
    except FileError as e:
        raise SessionError(str(e)) from None
    return Session.from_dict(data, where=str(path))


def open_session(path: Path) -> Session:
    """The saved session, or the default one. A file that cannot be used, for whatever reason, is
    moved aside (never overwritten by autosave, never read again at the next start) with one line
    saying where it went."""
    if not path.exists():
        return default_session()
    try:
        return load(path)
    except Exception as e:  # noqa: BLE001 - any failure of one file must not stop every start
        reason = unusable(path, e)
    try:
        aside = move_aside(path)
    except OSError as e:
        log.error("%s; could not move it aside (%s); started the default session", reason, e.strerror)
    else:
        log.error("%s; moved it to %s and started the default session", reason, aside)
    return default_session()


def move_aside(path: Path) -> Path:
    """Rename an unusable file to a fresh ``.broken-<time>`` name beside it, so nothing reads it
    again at the next start and nothing overwrites it; OSError when it cannot be moved."""
    aside = _aside(path)
    os.replace(path, aside)
    return aside


def _aside(path: Path) -> Path:
    """A name beside ``path`` for a broken copy that no earlier one already has."""
    stem = f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}"
    aside, n = path.with_name(stem), 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{stem}-{n}")
    return aside


async def autosave(session: Session, path: Path, saved: str | None = None,
                   period: float = AUTOSAVE_PERIOD) -> None:
    """Save the session whenever its text differs from ``saved`` (what the file held when it was
    read, before the command line changed tempo or kit; None: the session as it is now, or a
    missing file, written at once), at most every ``period`` s."""
    if saved is None and path.exists():
        saved = dumps(session)
    await keep_saved(lambda: dumps(session), path, saved, period)


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
