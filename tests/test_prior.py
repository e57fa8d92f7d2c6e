"""Corpus readers and the prior builder on a tiny corpus the tests write (real MIDI files via mido,
real SQLite files): exact counts, and every kind of bad input skipped with a count."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
from pathlib import Path

import mido
import pytest

from gridtonic import cli
from gridtonic.prior import database
from gridtonic.prior.corpus import Stats, drummy_runs, read_midi
from gridtonic.prior.database import PriorError
from gridtonic.prior.drums import CLASS_ID, class_of, decode, encode

TPB = 480
STEP = TPB // 4
KICK, SNARE, HAT = CLASS_ID["kick"], CLASS_ID["snare"], CLASS_ID["closed hat"]


def write_midi(path: Path, hits: list[tuple[int, int, int]], meter: tuple[int, int] = (4, 4)) -> Path:
    """A type-0 drum file: (tick, note, velocity) hits on channel 10, 16ths of TPB/4 ticks."""
    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1])])
    ons = [(t, "note_on", n, v) for t, n, v in hits]
    events = sorted(ons + [(t + 30, "note_off", n, 0) for t, n, _ in hits])
    now = 0
    for t, kind, note, vel in events:
        track.append(mido.Message(kind, channel=9, note=note, velocity=vel, time=t - now))
        now = t
    midi = mido.MidiFile(type=0, ticks_per_beat=TPB)
    midi.tracks.append(track)
    midi.save(path)
    return path


def steps(*positions: int, bar: int = 0) -> list[int]:
    return [(bar * 16 + p) * STEP for p in positions]


def groove(path: Path) -> Path:
    """Bar 1: kick 1+9, snare 5+13, hats on 8ths; bar 2: kick 1+9+11. Plus a ghost snare, a
    cowbell (not a drum class) and a hat pushed 2 ticks early (quantised onto its step)."""
    hits = [(t, 36, 100) for t in steps(0, 8) + steps(0, 8, 10, bar=1)]
    hits += [(t, 38, 110) for t in steps(4, 12) + steps(4, 12, bar=1)]
    hits += [(t, 42, 80) for t in steps(0, 2, 4, 6, 8, 10, 12) + steps(0, 2, 4, 6, 8, 10, 12, 14, bar=1)]
    hits += [(steps(14)[0] - 2, 42, 80), (steps(14, bar=1)[0], 38, 20), (steps(3)[0], 56, 90)]
    return write_midi(path, hits)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    root.mkdir()
    (root / "LICENSE").write_text("MIT License\n\nCopyright test\n")
    groove(root / "a_beat.mid")
    write_midi(root / "b_waltz.mid", [(t, 36, 100) for t in steps(0, 4)], meter=(3, 4))
    write_midi(root / "c_empty.mid", [])
    (root / "d_corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    write_midi(root / "e_fill.mid", [(t, 38, 100) for t in steps(0, 1, 2, 3)])
    return root


def rows(path: Path, table: str) -> list[tuple[int, ...]]:
    with sqlite3.connect(path) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()


def test_encoding_matches_the_original() -> None:
    assert encode("x---x---x---x---") == 4369  # drummy main_test.go
    assert decode(4369) == "x---x---x---x---"
    assert encode("x+..x") == 1 + 2 + 16  # any non-rest is a hit (the original's '+' bug, fixed)


def test_track_names_map_to_classes() -> None:
    assert [class_of(n) for n in ("kick", "snare", "closed hat", "open hat", "clap")] == [
        "kick", "snare", "closed hat", "open hat", "clap"]
    assert class_of("Open HH") == "open hat" and class_of("low tom") == "tom" and class_of("perc 3") is None


def test_builder_counts_a_tiny_midi_corpus_exactly(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "prior.sqlite"
    assert cli.main(["prior", "build", str(corpus), "-o", str(out)]) == 0
    k1, k2 = encode("x-------x-------"), encode("x-------x-x-----")
    sn = encode("----x-------x---")
    hat = encode("x-x-x-x-x-x-x-x-")
    assert rows(out, "pattern") == [(KICK, k1, 1), (KICK, k2, 1), (SNARE, sn, 2), (HAT, hat, 2)]
    assert rows(out, "pair") == [
        (KICK, k1, SNARE, sn, 1), (KICK, k1, HAT, hat, 1), (KICK, k2, SNARE, sn, 1), (KICK, k2, HAT, hat, 1),
        (SNARE, sn, HAT, hat, 2),
    ]
    assert rows(out, "adjacent") == [(KICK, k1, k2, 1), (SNARE, sn, sn, 1), (HAT, hat, hat, 1)]
    about = database.info(out)
    (c,) = about["corpora"]
    assert (c["name"], c["licence"], c["files"], c["bars"]) == ("tiny", "MIT License", 1, 2)
    assert c["stats"]["skipped"] == {
        "fill files": 1, "ghost notes": 1, "no notes files": 1, "not 4/4 files": 1,
        "unreadable MIDI files": 1,
    }
    assert c["stats"]["unknown_notes"] == {"56": 1}
    assert about["meta"]["builder"] == database.BUILDER


def test_same_corpus_gives_the_same_checksum(corpus: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    for out in (a, b):
        cli.main(["prior", "build", str(corpus), "-o", str(out)])
    assert database.checksum(a) == database.checksum(b)
    assert a.read_bytes() == b.read_bytes()  # same SQLite, same page settings, no timestamps


def test_weight_multiplies_and_min_count_prunes(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.sqlite"
    assert cli.main(["prior", "build", f"{corpus}:3", "-o", str(out), "--min-count", "4"]) == 0
    assert [r[-1] for r in rows(out, "pattern")] == [3, 3, 6, 6]
    assert rows(out, "pair") == [(SNARE, encode("----x-------x---"), HAT, encode("x-x-x-x-x-x-x-x-"), 6)]


def test_drummy_lines(tmp_path: Path) -> None:
    line = {"kick": "x---" * 8, "sd": "----x---" * 4, "lt": "-" * 31 + "x", "zz": "x" * 32}
    bars = drummy_runs(json.dumps(line))
    assert bars is not None and bars[0][KICK] == 4369 and bars[1][CLASS_ID["tom"]] == 1 << 15
    assert drummy_runs("{not json") is None and drummy_runs('{"kick": "x-"}') is None
    path = tmp_path / "p.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(json.dumps(line) + "\n[1, 2]\n\n" + json.dumps({"ch": "x" * 32}) + "\n")
    out = tmp_path / "d.sqlite"
    counts, corpora = database.build([(path, 1)])
    assert corpora[0].stats.skipped == {"bad pattern lines": 1, "bars without kick or snare": 2}
    assert corpora[0].stats.bars == 4
    database.write(out, counts, corpora, {})
    assert rows(out, "adjacent")[0] == (KICK, 4369, 4369, 1)


def test_midi_on_other_channels_and_type1(tmp_path: Path) -> None:
    """Drums with a melody: only channel 10 counts; a file without channel 10 uses every channel."""
    midi = mido.MidiFile(type=1, ticks_per_beat=TPB)
    for channel, note, time in ((0, 36, 0), (9, 38, 4 * STEP)):
        msg = mido.Message("note_on", channel=channel, note=note, velocity=100, time=time)
        midi.tracks.append(mido.MidiTrack([msg]))
    midi.save(tmp_path / "m.mid")
    stats = Stats()
    (run,) = list(read_midi(tmp_path / "m.mid", stats))
    assert run[0][SNARE] == 16 and run[0][KICK] == 0


def test_build_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["prior", "build", str(tmp_path / "missing"), "-o", str(tmp_path / "x.sqlite")]) == 2
    write_midi(tmp_path / "only.mid", [])
    assert cli.main(["prior", "build", str(tmp_path / "only.mid"), "-o", str(tmp_path / "x.sqlite")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such corpus" in err[0] and "no usable bars" in err[1]
    assert not (tmp_path / "x.sqlite").exists()


@pytest.mark.parametrize("content", [b"", b"not sqlite at all", b"SQLite format 3\x00" + b"\x00" * 200])
def test_damaged_prior_files_give_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.sqlite"
    path.write_bytes(content)
    with pytest.raises(PriorError, match="bad.sqlite"):
        database.read_counts(path)


def test_other_sqlite_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE meta(key, value)")
        con.execute("INSERT INTO meta VALUES ('format', 'something else')")
    with pytest.raises(PriorError, match="not a gridtonic prior"):
        database.info(path)
    with pytest.raises(PriorError, match="no such prior"):
        database.checksum(tmp_path / "missing.sqlite")


def test_write_fsyncs_the_prior_and_its_folder_and_a_failed_write_keeps_the_old_one(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The temp file and then the directory reach the disk (the rename alone did not survive a power
    loss); a write that fails leaves the old prior and no temp file."""
    out = tmp_path / "out" / "prior.sqlite"
    counts, corpora = database.build([(corpus, 1)])
    synced: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        synced.append(f"replace {Path(src).name} -> {Path(dst).name}")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    database.write(out, counts, corpora, {})
    tmp = Path(synced[0]).name
    assert tmp.startswith(".prior.sqlite.") and tmp.endswith(".tmp")
    assert synced == [synced[0], f"replace {tmp} -> prior.sqlite", str(out.parent)]
    good = database.checksum(out)
    with pytest.raises(sqlite3.Error):
        database.write(out, database.Counts(pattern=counts.pattern[:, :2]), corpora, {})  # a column short
    assert database.checksum(out) == good and [f.name for f in out.parent.iterdir()] == ["prior.sqlite"]
