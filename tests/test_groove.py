"""The groove: learnt from real MIDI files the test writes (accents and a late feel it must find),
stored in and read from the prior, applied to a track without touching its steps, refused when
damaged; and on GMD validation (skipped without ../shared) closer to the drummers than flat."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import mido
import numpy as np
import pytest

from gridtonic.core.session import Track
from gridtonic.prior import database, groove, sampler
from gridtonic.prior.corpus import Stats, read_midi
from gridtonic.prior.drums import CLASS_ID

GMD = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "groove-midi-dataset"
TPB = 480
STEP = TPB // 4
LATE = STEP // 6  # every hat 1/6 step (4 nudges) late


def performance(path: Path, bars: int = 12) -> Path:
    """Kick on 1 and 9, snare on 5 and 13, hats on 8ths: on the beat loud (110), off it soft (60),
    all hats LATE ticks behind the grid."""
    hits = []
    for b in range(bars):
        t0 = b * 16 * STEP
        hits += [(t0 + s * STEP, 36, 100) for s in (0, 8)] + [(t0 + s * STEP, 38, 100) for s in (4, 12)]
        hits += [(t0 + s * STEP + LATE, 42, 110 if s % 4 == 0 else 60) for s in range(0, 16, 2)]
    track = mido.MidiTrack()
    now = 0
    for t, note, vel in sorted(hits + [(t + 30, n, 0) for t, n, _ in hits]):
        track.append(mido.Message("note_on", channel=9, note=note, velocity=vel, time=t - now))
        now = t
    midi = mido.MidiFile(type=0, ticks_per_beat=TPB)
    midi.tracks.append(track)
    midi.save(path)
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "grooves"
    root.mkdir()
    for i in range(5):
        performance(root / f"{i}_beat.mid")
    return root


def test_the_groove_finds_accents_and_a_late_feel(corpus: Path, tmp_path: Path) -> None:
    counts, corpora = database.build([(corpus, 1)])
    out = tmp_path / "prior.sqlite"
    database.write(out, counts, corpora, {})
    assert np.array_equal(database.read_counts(out).groove, counts.groove)  # stored exactly
    s = sampler.Sampler.from_file(out)
    hats, kick = Track("closed hat"), Track("kick")
    hats.set_pattern("x-x-x-x-x-x-x-x-" * 2)
    kick.set_pattern("x-------x-------" * 2)
    before = list(hats.steps)
    g = s.groove(hats, kick)
    assert hats.steps == before and len(g.velocity) == len(g.nudge) == 32
    assert g.velocity[0] == pytest.approx(110 / 127, abs=0.02)  # on the beat
    assert g.velocity[2] == pytest.approx(60 / 127, abs=0.02)  # off it
    assert all(n == 4 for n in g.nudge[0:32:2])  # LATE is 4/24 of a step
    half = s.groove(hats, kick, amount=0.5)
    assert half.nudge[0] == 2 and half.velocity[0] == pytest.approx(1 - 0.5 * (1 - g.velocity[0]), abs=1e-3)
    flat = s.groove(hats, kick, amount=0.0)
    assert flat.velocity == [1.0] * 32 and flat.nudge == [0] * 32


def test_generate_with_groove_and_priors_without_one(corpus: Path, tmp_path: Path) -> None:
    counts, corpora = database.build([(corpus, 1)])
    s = sampler.Sampler(counts, "grooves")
    kick = Track("kick")
    kick.set_pattern("x-------x-------")
    p = s.track_from(Track("closed hat"), kick, seed=1, groove=1.0)
    assert p.velocity is not None and p.nudge is not None and len(p.velocity) == 32
    assert s.track_from(Track("closed hat"), kick, seed=1).velocity is None  # groove 0: steps only
    old = tmp_path / "old.sqlite"  # a prior from before the groove: flat, never an error
    database.write(old, counts, corpora, {})
    with sqlite3.connect(old) as con:
        con.execute("DROP TABLE groove")
    flat = sampler.Sampler.from_file(old).groove(Track("snare"))
    assert flat.velocity == [1.0] * 32 and flat.nudge == [0] * 32
    assert "groove" not in database.info(old)["rows"]


@pytest.mark.parametrize("edit", ["UPDATE groove SET w = 99 WHERE ins = 2 AND output = 0 AND k = 0",
                                  "INSERT INTO groove VALUES (2, 5, 0, 0.5)",
                                  "INSERT INTO groove VALUES (2, 0, 99, 0.5)"])
def test_an_impossible_groove_is_refused_in_one_line(corpus: Path, tmp_path: Path, edit: str) -> None:
    counts, corpora = database.build([(corpus, 1)])
    out = tmp_path / "prior.sqlite"
    database.write(out, counts, corpora, {})
    with sqlite3.connect(out) as con:
        assert con.execute(edit).rowcount == 1
    with pytest.raises(database.ImpossibleData, match="damaged prior, impossible groove row") as e:
        database.read_counts(out)
    assert "\n" not in str(e.value)


def test_hits_keep_their_velocity_and_offset(corpus: Path) -> None:
    hits: list = []
    list(read_midi(corpus / "0_beat.mid", Stats(), performances=hits))
    (h,) = [h for h in hits[0] if h.cls == CLASS_ID["closed hat"] and h.step == 2]
    assert h.velocity == 60 and h.offset == pytest.approx(LATE / STEP)


@pytest.mark.skipif(not (GMD / "info.csv").is_file(), reason=f"no Groove MIDI Dataset at {GMD} (../shared)")
def test_the_shipped_groove_is_closer_to_unseen_drummers_than_flat() -> None:
    """bench/groove_eval.py's claim against its first baseline, on GMD validation: the shipped
    groove's velocity and timing errors are lower than each class's train median velocity on a
    straight grid (the per-step baseline needs train read again: the bench prints it)."""
    s = sampler.load_file()
    assert s is not None
    held = groove.Samples.of(groove.performances_of(GMD, "validation"))
    for name in ("kick", "snare", "closed hat"):
        h = held.of_class(CLASS_ID[name])
        p = s.grooves.predict(CLASS_ID[name], h.own, h.basis, h.step)
        flat_velocity = np.median(s.grooves.weights[CLASS_ID[name], 0, :16])  # near the class's median
        assert np.abs(p[:, 0] - h.velocity).mean() < np.abs(flat_velocity - h.velocity).mean(), name
        assert np.abs(p[:, 1] - h.offset).mean() < np.abs(h.offset).mean(), name


def test_a_key_press_grooves_as_the_per_step_model_predicts() -> None:
    """A key press grooves both bars with one product of the bars' bits; on real bars (the
    shipped prior's kick and snare patterns), for every class with a groove, its velocity and
    nudge are the per-step context model's (``predict``, what the held-out errors score),
    rounded as the track keeps them."""
    s = sampler.load_file()
    assert s is not None
    rng = np.random.default_rng(3)
    for c in sorted(s.grooves.classes):
        own = rng.choice(s.unconditional[c].pids, 20)
        basis = rng.choice(s.unconditional[groove.BASIS[c]].pids, 20)
        for a, b, x, y in zip(own[:10], basis[:10], own[10:], basis[10:], strict=True):
            steps = [bool(int(p) >> j & 1) for p in (a, x) for j in range(16)]
            hits = [bool(int(p) >> j & 1) for p in (b, y) for j in range(16)]
            g = s.grooves.groove(c, steps, hits)
            want = np.vstack([s.grooves.predict(c, np.full(16, o), np.full(16, q), np.arange(16))
                              for o, q in ((a, b), (x, y))])
            assert np.allclose(g.velocity, want[:, 0], rtol=0, atol=0.5e-4 + 1e-12), (c, a, b)
            nudge = want[:, 1] * groove.NUDGES
            tie = np.abs(np.abs(nudge) % 1 - 0.5) < 1e-9  # a tie may round either way
            assert np.array_equal(np.array(g.nudge)[~tie], np.rint(nudge)[~tie]), (c, a, b)
