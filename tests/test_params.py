"""The voice's parameter table: warnings that say what changed, and say nothing when nothing did."""

import logging
import math

import pytest
from enginekit import SHARED

from gridtonic.core import params
from gridtonic.presets import kits

SEEDS = SHARED / "seed-presets"


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture
def seeds():
    if not SEEDS.is_dir():
        pytest.skip(f"{SEEDS} is missing (../shared)")
    return SEEDS


def test_the_seed_presets_load_with_no_false_warnings(seeds, caplog):
    """blue's 808 snare warned 'modRate=20000 out of range, clamped to 20000' (1000 / 0.05 ms is
    20000.00000000002) and chonk's intended 'inf ms' warned 'clamped to 0.1'."""
    with caplog.at_level(logging.WARNING):
        blue = kits.read(seeds / "blue.mtpreset")
        chonk = kits.read(seeds / "chonk.mtpreset")
    assert warnings(caplog) == []
    assert blue.drum(6).patch["modRate"] == 20000.0
    slowest = params.BY_NAME["modRate"].minimum
    assert chonk.drum(1).patch["modRate"] == chonk.drum(2).patch["modRate"] == slowest


@pytest.mark.parametrize(("value", "expected", "said"), [
    (20000.00000000002, 20000.0, None),  # a conversion's rounding: the bound, no word
    (0.09999999999999, 0.1, None),
    (20001.0, 20000.0, "patch.modRate: 20001.0 out of range [0.1, 20000], clamped to 20000"),
    (0.05, 0.1, "patch.modRate: 0.05 out of range [0.1, 20000], clamped to 0.1"),
    (math.inf, 17.0, "patch.modRate: inf is not a number; using 17"),
    (1e308, 20000.0, "patch.modRate: 1e+308 out of range [0.1, 20000], clamped to 20000"),
    (10**400, 20000.0, "patch.modRate: a 1329-bit integer out of range [0.1, 20000], clamped to 20000"),
])
def test_a_warning_names_the_value_given_and_the_one_used(caplog, value, expected, said):
    with caplog.at_level(logging.WARNING):
        assert params.clean({"modRate": value})["modRate"] == expected
    assert warnings(caplog) == ([said] if said else [])
