"""The sampler: back-off, exclusion, determinism, the 32-step track API, loading (good, damaged,
missing) and the shipped prior's reproducibility from ../shared."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridtonic import cli
from gridtonic.core.session import Track
from gridtonic.prior import database as prior
from gridtonic.prior import evaluation, sampler
from gridtonic.prior.database import Counts
from gridtonic.prior.drums import CLASS_ID, encode
from gridtonic.prior.sampler import Sampler

GMD = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "groove-midi-dataset"
KICK, SNARE = CLASS_ID["kick"], CLASS_ID["snare"]
FOUR = encode("x---x---x---x---")
BACKBEAT = encode("----x-------x---")
BUSY = encode("----x-------x-xx")


def s_counts() -> Counts:
    """Hand-made counts: 4-on-the-floor kick with backbeat snare (9 bars) or a busier snare
    (1 bar); a kick bar repeats 5 times and varies once."""
    pattern = np.array([[KICK, FOUR, 10], [SNARE, BACKBEAT, 9], [SNARE, BUSY, 1]])
    pair = np.array([[KICK, FOUR, SNARE, BACKBEAT, 9], [KICK, FOUR, SNARE, BUSY, 1]])
    adjacent = np.array([[KICK, FOUR, FOUR, 5], [KICK, FOUR, FOUR | 1 << 14, 1]])
    return Counts(pattern, pair, adjacent)


def tiny() -> Sampler:
    """Pure-core sampler from ``s_counts``."""
    return Sampler(s_counts(), "tiny")


@pytest.fixture(scope="module")
def shipped() -> Sampler:
    s = sampler.load_file()
    assert s is not None
    return s


def test_exact_basis_follows_the_counts() -> None:
    s = tiny()
    drawn = [s.generate("snare", FOUR, "kick", seed=i).pid for i in range(200)]
    assert drawn.count(BACKBEAT) > drawn.count(BUSY) > 0
    g = s.generate("snare", "x---x---x---x---", "kick", seed=1)
    assert g.how.startswith("exact basis (n=10") and g.relation == "snare | kick"


def test_unseen_basis_backs_off_and_says_so() -> None:
    s = tiny()
    near = s.generate("snare", FOUR | 1 << 2, "kick", seed=1)
    assert near.how.startswith("nearest bases at Hamming 1") and near.pid in (BACKBEAT, BUSY)
    far = s.generate("snare", encode("-xxx-xxx-xxx-xxx"), "kick", seed=1)
    assert far.how.startswith("unseen basis") and far.pid in (BACKBEAT, BUSY)


def test_exclusion_gives_something_new_even_when_one_pattern_is_known() -> None:
    s = tiny()
    assert {s.generate("snare", FOUR, "kick", seed=i, exclude=BACKBEAT).pid for i in range(20)} == {BUSY}
    only = s.next_bar_of("snare", BACKBEAT, seed=3, exclude=BACKBEAT)  # snare has no bar→bar rows
    assert only.pid == BUSY
    one_kick = Sampler(Counts(s_counts().pattern, s_counts().pair, np.zeros((0, 4), np.int64)), "one kick")
    kick = one_kick.generate("kick", BACKBEAT, "snare", seed=1, exclude=FOUR)  # the only kick pattern
    assert kick.pid != FOUR and kick.how.startswith("per-step frequencies")


def test_classes_without_data_stand_in_and_say_so() -> None:
    g = tiny().generate("clap", FOUR, "kick", seed=1)
    assert "no clap data in the prior; clap played as snare" in g.how and g.pid in (BACKBEAT, BUSY)
    perc = tiny().generate("perc", FOUR, "kick", seed=1)
    assert "'perc' is no known instrument" in perc.how


@settings(max_examples=200, deadline=None)
@given(basis=st.integers(0, 0xFFFF), current=st.integers(0, 0xFFFF), seed=st.integers(0, 2**32),
       temperature=st.floats(0.01, 10),
       target=st.sampled_from(["snare", "closed hat", "open hat", "clap", "kick"]))
def test_always_an_answer_never_the_current_one(shipped: Sampler, basis: int, current: int, seed: int,
                                                temperature: float, target: str) -> None:
    g = shipped.generate(target, basis, "kick", temperature, seed, exclude=current)
    assert 0 <= g.pid <= 0xFFFF and g.pid != current and 0 < g.probability <= 1 and g.how
    assert g == shipped.generate(target, basis, "kick", temperature, seed, exclude=current)  # seeded


def test_probabilities_cover_every_pattern(shipped: Sampler) -> None:
    rows, _ = shipped.relation(SNARE, KICK)
    ev = shipped.evidence(rows, FOUR)
    p = shipped.probability(SNARE, ev, np.arange(65536))
    assert np.all(p > 0) and abs(p.sum() - 1) < 1e-6


def test_backbeat_is_the_favourite_over_four_on_the_floor(shipped: Sampler) -> None:
    rows, _ = shipped.relation(SNARE, KICK)
    ev = shipped.evidence(rows, FOUR)
    ys = shipped.candidates(SNARE, ev)
    assert int(ys[np.argmax(shipped.probability(SNARE, ev, ys))]) == BACKBEAT


def test_track_from_track_fills_both_halves(shipped: Sampler) -> None:
    kick, snare = Track("kick"), Track("snare")
    kick.set_pattern("x---x---x---x---")  # repeats: the answer repeats too
    p = shipped.track_from(snare, kick, seed=5)
    assert len(p.steps) == 32 and p.steps[:16] == p.steps[16:] and "snare | kick" in p.how
    kick.set_pattern("x---x---x---x---x-x---x---x-x-x-")
    snare.steps = p.steps
    q = shipped.track_from(snare, kick, seed=5)
    assert q.steps[:16] != p.steps[:16] and q.steps[16:] != p.steps[16:]  # never the current halves


def test_second_half_is_conditioned_on_the_first(shipped: Sampler) -> None:
    t = Track("kick")
    t.set_pattern("x---x---x---x---")
    p = shipped.second_half(t, seed=1)
    assert p.steps[:16] == t.steps[:16] and p.steps[16:] != t.steps[16:32]
    assert "kick: bar 2 | bar 1" in p.how
    rows = shipped.next_bar[KICK]
    ev = shipped.evidence(rows, FOUR)
    ys = shipped.candidates(KICK, ev)
    assert int(ys[np.argmax(shipped.probability(KICK, ev, ys))]) == FOUR  # bar 2 mostly repeats bar 1


def test_second_half_follows_each_first_bar() -> None:
    """Two first bars (five steps apart, so neither backs off to the other) each lead to their own
    second bar in a tiny prior: draws for steps 17-32 follow steps 1-16, not the class at large."""
    a, b = encode("x---x---x---x---"), encode("x---x---x---x-x-")
    c, d = encode("x-----x---x-----"), encode("x-----x-x-x-----")
    pattern = np.array([[KICK, pid, 20] for pid in sorted((a, b, c, d))])
    adjacent = np.array([[KICK, a, b, 20], [KICK, c, d, 20]])
    s = Sampler(Counts(pattern, np.zeros((0, 5), np.int64), adjacent), "two grooves")
    for first, follows, other in (("x---x---x---x---", b, d), ("x-----x---x-----", d, b)):
        t = Track("kick")
        t.set_pattern(first + "-" * 16)
        drawn = [encode(s.second_half(t, seed=i).steps[16:]) for i in range(200)]
        assert all(encode(s.second_half(t, seed=i).steps[:16]) == encode(first) for i in range(5))
        assert drawn.count(follows) > 150 and drawn.count(other) < 30, (first, drawn.count(other))


async def test_load_in_a_thread_and_damaged_priors_turn_introspection_off(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(await sampler.load(), Sampler)
    bad = tmp_path / "prior.sqlite"
    bad.write_bytes(b"garbage" * 100)
    with caplog.at_level(logging.ERROR):
        assert await sampler.load(bad) is None
        assert await sampler.load(tmp_path / "missing.sqlite") is None
    assert [r.message.count("\n") for r in caplog.records] == [0, 0]
    assert "introspection is off" in caplog.records[0].message


async def test_the_instrument_loads_the_prior_off_the_clock(tmp_path: Path) -> None:
    from gridtonic.app import Instrument
    from gridtonic.core.session import default_session

    inst = Instrument(default_session())
    assert inst.sampler is None
    await inst.load_prior()
    assert isinstance(inst.sampler, Sampler)
    broken = Instrument(default_session(), prior=tmp_path / "missing.sqlite")
    await broken.load_prior()
    assert broken.sampler is None


def test_cli_generate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["generate", "--from", "kick:x---x---x---x---", "--to", "snare", "--seed", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("snare: ") and len(out[0]) == len("snare: ") + 16 and "snare | kick" in out[1]
    assert cli.main(["generate", "--from", "snare:----x-------x---"]) == 0
    assert len(capsys.readouterr().out.splitlines()[0]) == len("snare: ") + 32
    assert cli.main(["generate", "--from", "x---"]) == 2
    assert cli.main(["generate", "--from", "kick:x---", "--prior", str(tmp_path / "none.sqlite")]) == 2
    assert cli.main(["prior", "info"]) == 0
    assert "Creative Commons Attribution 4.0" in capsys.readouterr().out
    assert cli.main(["generate", "--from", "kick:x---x---x---x---", "--to", "snare", "--groove", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("  velocity: ") and len(lines[3].split(": ")[1].split()) == 16
    for seed in range(5):
        new = ["generate", "--from", "kick:x---x---x---x---", "--mode", "new", "--seed", str(seed)]
        assert cli.main(new) == 0
        assert capsys.readouterr().out.splitlines()[0] != "kick: " + "x---" * 8  # never a repeat of bar 1
    assert cli.main(["generate", "--from", "kick:x---", "--groove", "3"]) == 2


def test_out_of_range_temperature_warns_once_and_the_cli_refuses_it(
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """Clamping used to be silent: -1 played as 0.05 without a word."""
    s, t = tiny(), Track("snare")
    with caplog.at_level(logging.WARNING, logger="gridtonic.prior.sampler"):
        s.generate("snare", FOUR, "kick", temperature=1.0, seed=1)
        s.track_from(t, Track("kick"), temperature=1.0, seed=1)
        assert caplog.records == []
        for bad in (-1.0, 0.0, 99.0, float("nan")):
            s.track_from(t, Track("kick"), temperature=bad, seed=1)
    assert [r.getMessage().count("\n") for r in caplog.records] == [0, 0, 0, 0]  # one line per call
    assert "temperature -1 is outside 0.05..5; using 0.05" in caplog.records[0].getMessage()
    assert "using 5" in caplog.records[2].getMessage() and "using 1" in caplog.records[3].getMessage()
    for bad in ("-1", "0", "5.5", "nan"):
        assert cli.main(["generate", "--from", "kick:x---x---x---x---", "--temperature", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert "--temperature" in err and "must be 0.05..5" in err and "\n" not in err
    assert cli.main(["generate", "--from", "kick:x---x---x---x---", "--temperature", "5"]) == 0


@pytest.mark.skipif(not (GMD / "info.csv").is_file(),
                    reason=f"no Groove MIDI Dataset at {GMD} (../shared): nothing to rebuild the prior from")
def test_shipped_prior_rebuilds_from_shared(tmp_path: Path) -> None:
    """The shipped prior (counts and groove) is exactly what ``make prior`` builds from the GMD
    train split: same command as the Makefile's, same checksum."""
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    assert "$(BIN)/gridtonic prior build $(GMD) --split train -o $(PRIOR)" in makefile
    out = tmp_path / "rebuilt.sqlite"
    assert cli.main(["prior", "build", str(GMD), "--split", "train", "-o", str(out)]) == 0
    assert prior.checksum(out) == prior.checksum(sampler.default_path())
    assert prior.info(out)["rows"]["groove"] > 0


@pytest.mark.skipif(not (GMD / "info.csv").is_file(),
                    reason=f"no Groove MIDI Dataset at {GMD} (../shared): nothing held out to evaluate on")
@pytest.mark.parametrize("rule", list(evaluation.GHOST_RULES))
def test_what_the_shipped_prior_draws_matches_every_baseline_on_held_out_bars(shipped: Sampler,
                                                                              rule: str) -> None:
    """bench/prior_eval.py's claim (the original's table aside: it needs drummy's corpus counted):
    on every relation, what the sampler draws at its default temperature at least matches
    unconditional frequencies, a smoothed back-off and exact match in log2-likelihood, top-5 and
    expected Hamming on GMD validation bars, under both ghost-note rules."""
    runs, _ = evaluation.validation_runs(GMD, evaluation.GHOST_RULES[rule])
    baselines = evaluation.BASELINES[1:]
    results = evaluation.evaluate(shipped, runs, temperature=sampler.FOCUS, only=("draw", *baselines))
    assert [r.label for r in results] == [label for label, *_ in evaluation.RELATIONS]
    for r in results:
        assert r.cases > 1000, r
        for b in baselines:
            assert r.scores["draw"].at_least(r.scores[b]), (r.label, b, r.scores["draw"], r.scores[b])


def test_the_evaluation_scores_what_the_sampler_draws() -> None:
    """The distribution the evaluation scores is the one generate samples: 20,000 seeded draws
    land on each candidate as often as its weight says (within 4 standard errors)."""
    s, n = tiny(), 20_000
    ys, q = evaluation.predictors(s, None, SNARE, KICK, False, 0.7)["draw"](FOUR | 1 << 2)
    drawn = np.array([s.generate("snare", FOUR | 1 << 2, "kick", 0.7, seed=i).pid for i in range(n)])
    seen = np.array([(drawn == y).mean() for y in ys])
    assert len(ys) >= 2 and np.all(np.abs(seen - q) <= 4 * np.sqrt(q * (1 - q) / n) + 1e-9), (ys, q, seen)


@pytest.mark.parametrize(("table", "edit"), [
    ("pattern", "UPDATE pattern SET n = -98734 WHERE ins = 1 AND pid = 4112"),
    ("pattern", "UPDATE pattern SET n = 1.5 WHERE ins = 0 AND pid = 4369"),
    ("pattern", "UPDATE pattern SET n = 'many' WHERE ins = 0 AND pid = 4369"),
    ("pair", "INSERT INTO pair VALUES (0, 70000, 1, 16, 3)"),
    ("pair", "INSERT INTO pair VALUES (1, 4369, 0, 16, 3)"),
    ("adjacent", "INSERT INTO adjacent VALUES (9, 1, 1, 3)"),
    ("adjacent", "UPDATE adjacent SET n = 0 WHERE ins = 0 AND pid1 = 4369 AND pid2 = 4369"),
])
def test_impossible_counts_are_refused_and_the_file_moved_aside(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, table: str, edit: str) -> None:
    """A valid SQLite prior with a negative count used to load and play ("exact basis (n=-98734)")."""
    import sqlite3

    path = tmp_path / "prior.sqlite"
    path.write_bytes(sampler.default_path().read_bytes())
    with sqlite3.connect(path) as con:
        assert con.execute(edit).rowcount == 1
    with pytest.raises(prior.ImpossibleData, match=f"damaged prior, impossible {table} row"):
        prior.read_counts(path)
    with caplog.at_level(logging.ERROR):
        assert sampler.load_file(path) is None
    (record,) = caplog.records
    assert "\n" not in record.message and "moved to" in record.message
    assert "introspection is off" in record.message and not path.exists()
    assert [p.name.startswith("prior.sqlite.broken-") for p in tmp_path.iterdir()] == [True]


def test_a_file_that_is_no_prior_is_left_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / "mine.sqlite"
    path.write_bytes(b"garbage" * 100)
    assert sampler.load_file(path) is None and path.exists()


def test_steps_17_32_likely_may_repeat_bar_1_new_never_does() -> None:
    """Mode "likely" draws bar 2 as the counts say (a repeat 5 times in 6); "new" never repeats
    bar 1. Both never give the current steps 17-32 back."""
    s, t = tiny(), Track("kick")
    t.set_pattern("x---x---x---x---" + "-" * 16)
    likely = [encode(s.second_half(t, seed=i).steps[16:32]) for i in range(300)]
    new = {encode(s.second_half(t, seed=i, mode="new").steps[16:32]) for i in range(100)}
    assert likely.count(FOUR) > likely.count(FOUR | 1 << 14) > 0 and new == {FOUR | 1 << 14}
    t.set_pattern("x---x---x---x---" * 2)
    assert {encode(s.second_half(t, seed=i).steps[16:32]) for i in range(50)} == {FOUR | 1 << 14}
    with pytest.raises(ValueError, match="17-32 mode 'newest'"):
        s.second_half(t, mode="newest")


def test_whole_kit_from_one_basis(shipped: Sampler) -> None:
    """Every other track from the kick: each a fresh pattern (never its current steps), the open
    hat drawn jointly with the closed hat just drawn (KIT_JOINT), seeded, groove on request."""
    names = ("kick", "snare", "closed hat", "open hat", "clap")
    tracks = [Track(n) for n in names]
    tracks[0].set_pattern("x---x---x---x---x---x---x-x-x---")
    for t in tracks[1:]:
        t.set_pattern("----x-------x---")
    kit = shipped.kit_from(tracks, 0, seed=3)
    assert sorted(kit) == [1, 2, 3, 4]
    for i, p in kit.items():
        assert len(p.steps) == 32 and p.steps[:16] != tracks[i].steps[:16] and p.velocity is None
    assert "open hat | kick & closed hat: joint:" in kit[3].how and "& closed hat" not in kit[2].how
    assert "no clap data in the prior; clap played as snare" in kit[4].how
    assert {i: p.steps for i, p in shipped.kit_from(tracks, 0, seed=3).items()} == {
        i: p.steps for i, p in kit.items()}
    grooved = shipped.kit_from(tracks, 0, seed=3, groove=1.0)
    assert all(p.velocity is not None and len(p.nudge or []) == 32 for p in grooved.values())


def test_a_joint_draw_is_a_normalised_product_of_experts(shipped: Sampler) -> None:
    hat, kick = CLASS_ID["closed hat"], CLASS_ID["kick"]
    x = encode("x-x-x-x-x-x-x-x-")
    p, how = shipped._cached(CLASS_ID["open hat"], ((kick, FOUR), (hat, x)))
    a = shipped._cached(CLASS_ID["open hat"], ((kick, FOUR),))[0]
    b = shipped._cached(CLASS_ID["open hat"], ((hat, x),))[0]
    u = shipped._cached(CLASS_ID["open hat"], ())[0]
    assert abs(p.sum() - 1) < 1e-9 and np.allclose(p, a * b / u / (a * b / u).sum())
    assert how.startswith("joint: ")


def _reference(s: Sampler, target: int, rows: sampler.Rows, basis: int) -> np.ndarray:
    """P(y | basis) over the candidates as the back-off defines it, the slow way the sampler
    once computed it: each Hamming level pooled row by row, then the levels mixed in one by one
    from the farthest (the class's frequencies, then per-step probabilities, below them)."""
    u = s.unconditional[target]

    def level(bases: list[int]) -> np.ndarray:
        out = np.zeros(len(u.pids))
        for b in bases:
            k = rows.find[b]
            entries = slice(rows.end[k] - rows.length[k], rows.end[k])
            np.add.at(out, rows.index[entries], rows.n[entries])
        return out

    levels = [level([basis]), level([basis ^ 1 << j for j in range(16)])]
    if sum(lv.sum() for lv in levels) < sampler.THIN:
        levels.append(level([basis ^ 1 << i ^ 1 << j for i in range(16) for j in range(i + 1, 16)]))
    pooled = sum(levels)
    bits = (u.pids[:, None] >> np.arange(16)) & 1
    rate = np.clip((pooled @ bits + sampler.STEP_PSEUDO * u.rate) / (pooled.sum() + sampler.STEP_PSEUDO),
                   1e-3, 1 - 1e-3)
    p = np.prod(np.where(bits == 1, rate, 1 - rate), axis=1)
    if u.total > 0:
        p = (u.types * p + u.n) / (u.total + u.types)
    for lv in reversed(levels):
        if lv.sum() > 0:
            t = rows.setting.concentration * np.count_nonzero(lv)
            p = (t * p + lv) / (lv.sum() + t)
    return p


def test_the_fast_back_off_scores_and_draws_as_the_slow_one(shipped: Sampler) -> None:
    """A key press computes the back-off in a few vectorised steps; on real bases (bars the
    drummers played: the bases each relation has rows for) and unseen ones, in every relation the
    evaluation scores, its probabilities and drawing weights equal the plain computation's to
    1e-9, and so do the cumulative weights a draw samples (for deep rows, from the back-off
    precomputed at load: ``Deep``)."""
    rng = np.random.default_rng(7)
    deep = 0
    for _, target_name, basis_name, next_bar in evaluation.RELATIONS:
        target, basis = CLASS_ID[target_name], CLASS_ID[basis_name]
        rows = shipped.next_bar[target] if next_bar else shipped.within[basis, target]
        for x in [*rng.choice(np.flatnonzero(rows.find), 25), *rng.integers(0, 1 << 16, 5)]:
            ev = shipped.evidence(rows, int(x))
            want = _reference(shipped, target, rows, int(x))
            assert np.allclose(shipped.probability(target, ev), want, rtol=1e-9, atol=0), (target_name, x)
            ys, _, w = shipped.draws(target, ev, sampler.FOCUS)
            exact = want ** (rows.setting.sharpness / sampler.FOCUS)
            assert np.allclose(w / w.sum(), exact / exact.sum(), rtol=1e-9, atol=0), (target_name, x)
            cum = shipped._cumulative(target, ((basis if not next_bar else target, int(x)),), sampler.FOCUS)
            assert np.allclose(np.diff(cum, prepend=0.0), w, rtol=1e-9, atol=1e-300)
            deep += rows.deep.slot[rows.find[x]] >= 0
    assert deep > 50  # the precomputed path is among those checked
