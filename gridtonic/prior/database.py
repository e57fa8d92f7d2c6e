"""The prior database: counts of 16-step patterns from corpora, written to and read from SQLite.

Three count tables (schema in the README): ``pattern`` (how often each instrument class plays a
pattern in a bar), ``pair`` (two classes' patterns in the same bar; P(B | A) is a row of it) and
``adjacent`` (one class's bar → the next bar). Counting is vectorised with numpy and the rows are
written in key order with fixed page settings and no timestamps, so the same corpora give the
same tables; ``checksum`` hashes a canonical dump, which is what the reproducibility test compares.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gridtonic import __version__
from gridtonic.io import store
from gridtonic.prior.corpus import Hit, Run, Stats, corpus_files, read_file
from gridtonic.prior.drums import CLASSES
from gridtonic.prior.groove import OUTPUTS, WEIGHTS, learn

FORMAT = "gridtonic-prior"
SCHEMA_VERSION = 1
BUILDER = f"gridtonic {__version__} prior-builder {SCHEMA_VERSION}"
PAGE_SIZE = 4096
# The shipped prior is 1.8 MB; reading one holds its rows in memory several times over, so a file
# far larger is refused from its size, before SQLite reads a page of it.
MAX_PRIOR_BYTES = 64 << 20
# What a damaged file raises on its way out of SQLite: its own errors, and Python's when a value
# in a damaged row cannot be converted (text that is not UTF-8, an integer column holding text).
DAMAGE = (sqlite3.Error, ValueError, OverflowError)

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE instrument(ins INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE corpus(id INTEGER PRIMARY KEY, name TEXT NOT NULL, licence TEXT NOT NULL,
    weight INTEGER NOT NULL, files INTEGER NOT NULL, bars INTEGER NOT NULL, stats TEXT NOT NULL);
CREATE TABLE pattern(ins INTEGER, pid INTEGER, n INTEGER NOT NULL, PRIMARY KEY(ins, pid)) WITHOUT ROWID;
CREATE TABLE pair(ins1 INTEGER, pid1 INTEGER, ins2 INTEGER, pid2 INTEGER, n INTEGER NOT NULL,
    PRIMARY KEY(ins1, pid1, ins2, pid2)) WITHOUT ROWID;
CREATE TABLE adjacent(ins INTEGER, pid1 INTEGER, pid2 INTEGER, n INTEGER NOT NULL,
    PRIMARY KEY(ins, pid1, pid2)) WITHOUT ROWID;
CREATE TABLE groove(ins INTEGER, output INTEGER, k INTEGER, w REAL NOT NULL,
    PRIMARY KEY(ins, output, k)) WITHOUT ROWID;
"""
TABLES = ("meta", "instrument", "corpus", "pattern", "pair", "adjacent", "groove")
# A groove weight is a velocity (0..1), an offset in steps (-0.5..0.5) or a correction of one.
GROOVE_LIMIT = 4.0


class PriorError(Exception):
    """A prior that cannot be built or used (one line, naming the file)."""


class ImpossibleData(PriorError):
    """A gridtonic prior holding rows no build can make (a negative or fractional count, a pattern
    outside 16 bits): damaged or edited, so it is moved aside rather than played."""


# What a row of each count table must hold: (columns, SQL condition true of a possible row).
_POSSIBLE = {
    "pattern": ("ins, pid, n", "{ins} AND {pid}"),
    "pair": ("ins1, pid1, ins2, pid2, n", "{ins1} AND {ins2} AND ins1 < ins2 AND {pid1} AND {pid2}"),
    "adjacent": ("ins, pid1, pid2, n", "{ins} AND {pid1} AND {pid2}"),
}


@dataclass
class Counts:
    """Count tables as sorted numpy columns (int64)."""

    pattern: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))  # ins, pid, n
    pair: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), np.int64))  # ins1<ins2, pid1, pid2
    adjacent: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))  # ins, pid1, pid2, n
    # (classes, outputs, weights) of the groove; all zero without performances (drummy, old priors)
    groove: np.ndarray = field(default_factory=lambda: np.zeros((len(CLASSES), len(OUTPUTS), WEIGHTS)))


@dataclass
class Corpus:
    name: str
    licence: str
    weight: int
    stats: Stats


def _tally(keys: list[np.ndarray], weights: list[np.ndarray], min_count: int,
           ) -> tuple[np.ndarray, np.ndarray]:
    """Unique packed keys (sorted) with their summed weights, rows under ``min_count`` dropped."""
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    uniq, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    n = np.bincount(inverse, weights=np.concatenate(weights)).astype(np.int64)
    keep = n >= min_count
    return uniq[keep], n[keep]


class Tally:
    """Accumulates runs of bars from several corpora (each with an integer weight)."""

    def __init__(self) -> None:
        self._keys: dict[str, list[np.ndarray]] = {"pattern": [], "pair": [], "adjacent": []}
        self._weights: dict[str, list[np.ndarray]] = {"pattern": [], "pair": [], "adjacent": []}

    def _add(self, table: str, key: np.ndarray, weight: int) -> None:
        self._keys[table].append(key)
        self._weights[table].append(np.full(len(key), weight, np.int64))

    def add(self, runs: list[Run], weight: int, present: list[int]) -> None:
        """Count ``runs``; classes not in ``present`` (absent from that whole corpus, e.g. drummy has
        no clap) are left out rather than counted as empty bars."""
        bars = np.array([bar for run in runs for bar in run], np.int64).reshape(-1, len(CLASSES))
        firsts = np.array([bar for run in runs for bar in run[:-1]], np.int64).reshape(-1, len(CLASSES))
        seconds = np.array([bar for run in runs for bar in run[1:]], np.int64).reshape(-1, len(CLASSES))
        for a in present:
            self._add("pattern", a << 16 | bars[:, a], weight)
            self._add("adjacent", a << 32 | firsts[:, a] << 16 | seconds[:, a], weight)
            for b in present:
                if a < b:
                    self._add("pair", a << 36 | bars[:, a] << 20 | b << 16 | bars[:, b], weight)

    def counts(self, min_count: int = 1) -> Counts:
        m = 0xFFFF
        k, n = _tally(self._keys["pattern"], self._weights["pattern"], 1)
        pattern = np.stack([k >> 16, k & m, n], axis=1)
        k, n = _tally(self._keys["pair"], self._weights["pair"], min_count)
        pair = np.stack([k >> 36, k >> 20 & m, k >> 16 & 0xF, k & m, n], axis=1)
        k, n = _tally(self._keys["adjacent"], self._weights["adjacent"], min_count)
        adjacent = np.stack([k >> 32, k >> 16 & m, k & m, n], axis=1)
        return Counts(pattern, pair, adjacent)


def licence_of(root: Path) -> str:
    """First line of the corpus's LICENSE file (or 'unknown')."""
    folder = root if root.is_dir() else root.parent
    for name in ("LICENSE", "LICENSE.txt", "LICENCE", "COPYING"):
        try:
            lines = (folder / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        first = next((ln.strip() for ln in lines if ln.strip()), "")
        return first[:200] or "unknown"
    return "unknown"


def parse_source(text: str) -> tuple[Path, int]:
    """``PATH`` or ``PATH:WEIGHT`` (an integer ≥ 1 multiplying that corpus's counts)."""
    path, sep, weight = text.rpartition(":")
    if sep and weight.isdigit() and int(weight) >= 1:
        return Path(path), int(weight)
    return Path(text), 1


def build(
    sources: Iterable[tuple[Path, int]],
    split: str | None = None,
    min_count: int = 1,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[Counts, list[Corpus]]:
    """Read and count every corpus, and learn the groove from the MIDI performances among them;
    ``progress(done, total, file)`` after each file (and once more, named "groove", at the end)."""
    sources = list(sources)
    tally = Tally()
    performances: list[list[Hit]] = []
    corpora = []
    listed = []
    for root, weight in sources:
        if not root.exists():
            raise PriorError(f"{root}: no such corpus file or folder")
        stats = Stats()
        listed.append((root, weight, stats, corpus_files(root, split, stats)))
    total = sum(len(files) for *_, files in listed)
    done = 0
    for root, weight, stats, files in listed:
        runs: list[Run] = []
        for path in files:
            runs.extend(read_file(path, stats, performances=performances))
            done += 1
            if progress:
                progress(done, total, path.name)
        present = [i for i, c in enumerate(CLASSES) if stats.hits[c]]
        tally.add(runs, weight, present)
        corpora.append(Corpus(root.resolve().name, licence_of(root), weight, stats))
    counts = tally.counts(min_count)
    if not len(counts.pattern):
        raise PriorError("no usable bars in " + ", ".join(str(r) for r, _ in sources))
    if performances:
        counts.groove = learn(performances)
        if progress:
            progress(done, total, "groove")
    return counts, corpora


def write(path: Path, counts: Counts, corpora: list[Corpus], settings: dict[str, object]) -> None:
    """Write the prior atomically (``store.replace_atomically``: a crash never leaves half a prior
    where the instrument loads it); rows in key order, no timestamps."""
    store.replace_atomically(path, lambda tmp: _write_sqlite(tmp, counts, corpora, settings))


def _write_sqlite(path: Path, counts: Counts, corpora: list[Corpus], settings: dict[str, object]) -> None:
    con = sqlite3.connect(path)
    try:
        con.execute(f"PRAGMA page_size={PAGE_SIZE}")
        con.execute("PRAGMA journal_mode=OFF")
        con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        con.executescript(SCHEMA)
        meta = {
            "format": FORMAT,
            "schema_version": str(SCHEMA_VERSION),
            "builder": BUILDER,
            "encoding": "16-step pattern as integer: step j (0-based) adds 2**j",
            "settings": json.dumps(settings, sort_keys=True),
        }
        con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        con.executemany("INSERT INTO instrument VALUES (?, ?)", list(enumerate(CLASSES)))
        con.executemany("INSERT INTO corpus VALUES (?, ?, ?, ?, ?, ?, ?)", [
            (i, c.name, c.licence, c.weight, c.stats.files, c.stats.bars,
             json.dumps(c.stats.to_dict(), sort_keys=True))
            for i, c in enumerate(corpora)
        ])
        con.executemany("INSERT INTO pattern VALUES (?, ?, ?)", counts.pattern.tolist())
        con.executemany("INSERT INTO pair VALUES (?, ?, ?, ?, ?)", counts.pair.tolist())
        con.executemany("INSERT INTO adjacent VALUES (?, ?, ?, ?)", counts.adjacent.tolist())
        g = counts.groove
        con.executemany("INSERT INTO groove VALUES (?, ?, ?, ?)",
                        [(c, o, k, float(w)) for (c, o, k), w in np.ndenumerate(g) if np.any(g[c])])
        con.commit()
        con.execute("VACUUM")
    finally:
        con.close()


def connect(path: Path) -> sqlite3.Connection:
    """Open a prior read-only and check it is one; PriorError (one line) when it is not."""
    if not path.is_file():
        raise PriorError(f"{path}: no such prior file")
    if (size := path.stat().st_size) > MAX_PRIOR_BYTES:
        raise PriorError(f"{path}: {size:,} bytes, more than the {MAX_PRIOR_BYTES:,} a usable prior has")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            fmt = con.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except DAMAGE:
            con.close()
            raise
    except DAMAGE as e:
        raise PriorError(f"{path}: not a gridtonic prior ({e})") from None
    if fmt != (FORMAT,) or version != (str(SCHEMA_VERSION),):
        con.close()
        raise PriorError(f"{path}: not a gridtonic prior of schema {SCHEMA_VERSION}")
    return con


def _integer(col: str, low: int, high: int) -> str:
    return f"(typeof({col}) = 'integer' AND {col} BETWEEN {low} AND {high})"


def _check_possible(con: sqlite3.Connection, path: Path) -> None:
    """ImpossibleData naming the first impossible row, when a table has one."""
    ranges = {c: _integer(c, 0, len(CLASSES) - 1) for c in ("ins", "ins1", "ins2")}
    ranges |= {c: _integer(c, 0, 0xFFFF) for c in ("pid", "pid1", "pid2")}
    for table, (cols, possible) in _POSSIBLE.items():
        where = f"NOT ({possible.format(**ranges)} AND {_integer('n', 1, 2**62)})"
        row = con.execute(f"SELECT {cols} FROM {table} WHERE {where} LIMIT 1").fetchone()
        if row is not None:
            shown = ", ".join(f"{c}={v!r}" for c, v in zip(cols.split(", "), row, strict=True))
            raise ImpossibleData(f"{path}: damaged prior, impossible {table} row ({shown}): counts are "
                                 f"whole numbers ≥ 1, patterns 0..65535, instruments 0..{len(CLASSES) - 1}")


def _groove(con: sqlite3.Connection, path: Path) -> np.ndarray:
    """The groove weights (zeros for a prior built before there was a groove, or without MIDI)."""
    weights = Counts().groove
    if not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'groove'").fetchone():
        return weights
    possible = (f"{_integer('ins', 0, len(CLASSES) - 1)} AND {_integer('output', 0, len(OUTPUTS) - 1)} AND "
                f"{_integer('k', 0, WEIGHTS - 1)} AND typeof(w) IN ('real', 'integer') AND "
                f"w BETWEEN {-GROOVE_LIMIT} AND {GROOVE_LIMIT}")
    bad = con.execute(f"SELECT ins, output, k, w FROM groove WHERE NOT ({possible}) LIMIT 1").fetchone()
    if bad is not None:
        shown = ", ".join(f"{c}={v!r}" for c, v in zip(("ins", "output", "k", "w"), bad, strict=True))
        raise ImpossibleData(f"{path}: damaged prior, impossible groove row ({shown}): weights are numbers "
                             f"within ±{GROOVE_LIMIT:g}")
    for c, o, k, w in con.execute("SELECT ins, output, k, w FROM groove"):
        weights[c, o, k] = w
    return weights


def read_counts(path: Path) -> Counts:
    """The count tables and groove of a prior file; ImpossibleData when a row could not come from
    a build."""
    con = connect(path)
    try:
        _check_possible(con, path)
        return Counts(*(
            np.array(con.execute(f"SELECT {cols} FROM {table} ORDER BY {cols}").fetchall(), np.int64)
            .reshape(-1, width)
            for table, cols, width in (
                ("pattern", "ins, pid, n", 3),
                ("pair", "ins1, pid1, ins2, pid2, n", 5),
                ("adjacent", "ins, pid1, pid2, n", 4),
            )
        ), groove=_groove(con, path))
    except DAMAGE as e:
        raise PriorError(f"{path}: damaged prior ({e})") from None
    finally:
        con.close()


def info(path: Path) -> dict[str, object]:
    """Provenance and sizes of a prior: meta, corpora, row counts."""
    con = connect(path)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta ORDER BY key"))
        corpora = [
            {"name": n, "licence": lic, "weight": w, "files": f, "bars": b, "stats": json.loads(s)}
            for n, lic, w, f, b, s in con.execute(
                "SELECT name, licence, weight, files, bars, stats FROM corpus ORDER BY id")
        ]
        rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("pattern", "pair", "adjacent", "groove") if t in _tables(con)}
        classes = [name for (name,) in con.execute(
            "SELECT name FROM instrument WHERE ins IN (SELECT DISTINCT ins FROM pattern WHERE pid != 0) "
            "ORDER BY ins")]
    except DAMAGE as e:  # stats is JSON: a JSONDecodeError is a ValueError
        raise PriorError(f"{path}: damaged prior ({e})") from None
    finally:
        con.close()
    return {"meta": meta, "corpora": corpora, "rows": rows, "classes with data": classes}


def _tables(con: sqlite3.Connection) -> set[str]:
    return {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def checksum(path: Path) -> str:
    """sha256 of a canonical dump of every table (independent of SQLite's file layout)."""
    con = connect(path)
    h = hashlib.sha256()
    try:
        for table in (t for t in TABLES if t in _tables(con)):
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            h.update(f"{table}({','.join(cols)})\n".encode())
            order = ", ".join(str(i + 1) for i in range(len(cols)))
            for row in con.execute(f"SELECT * FROM {table} ORDER BY {order}"):
                h.update((json.dumps(row) + "\n").encode())
    except DAMAGE as e:
        raise PriorError(f"{path}: damaged prior ({e})") from None
    finally:
        con.close()
    return h.hexdigest()
