"""The Microtonic parser: the seed presets against the original reader's values, the syntax variants
seen in the wild, errors that name file, line and field, and fuzzing (only PresetError may escape)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridtonic.core import params
from gridtonic.presets.mtpreset import PresetError, parse

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEEDS = SHARED / "seed-presets"
REFS = SHARED / "reference-renders"
SEED_FILES = sorted(SEEDS.glob("*")) if SEEDS.is_dir() else []
needs_seeds = pytest.mark.skipif(not SEED_FILES, reason=f"shared seed presets absent ({SEEDS})")
REL_TOL = 1e-12  # the same decimal text and the same 1000/ms conversion: equal up to float rounding


def _seed(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


@needs_seeds
@pytest.mark.parametrize("path", SEED_FILES, ids=[p.name for p in SEED_FILES])
def test_every_seed_preset_parses_into_eight_numbered_drums(path):
    preset = parse(path.read_text(encoding="utf-8"), path.name)
    assert sorted(d.key for d in preset.drums) == list(range(1, 9))
    assert set(preset.patterns) == set("abcdefghijkl")
    assert preset.active == "a" and preset.mutes == (False,) * 8 and preset.swing == 0.0
    assert not any(p.has_steps() for p in preset.patterns.values())
    for d in preset.drums:
        assert d.patch == params.clean(d.patch)


REF_PRESETS = [p for p in SEED_FILES if (REFS / p.name.split(".")[0] / "params.json").exists()]


@pytest.mark.parametrize("path", REF_PRESETS, ids=[p.name for p in REF_PRESETS])
def test_values_match_the_reference_params(path):
    """Every drum of the 5 rendered presets, matched by its key (so file order does not matter)."""
    preset = parse(path.read_text(encoding="utf-8"), path.name)
    entries = json.loads((REFS / path.name.split(".")[0] / "params.json").read_text())
    assert len(entries) == 8
    for e in entries:
        drum = preset.drum(int(e["key"]))
        assert drum.name == e["name"]
        for name, value in drum.patch.items():
            assert math.isclose(value, e["params"][name], rel_tol=REL_TOL), (e["key"], name)


@needs_seeds
def test_file_order_is_kept_and_keys_are_read():
    preset = parse(_seed("default.mtpreset"), "default.mtpreset")
    assert [d.key for d in preset.drums] == [1, 2, 3, 7, 4, 5, 6, 8]
    assert preset.drum(4).name == "VT-808 CP" and preset.drum(4).patch["oscWave"] == 2  # Saw stays Saw


@needs_seeds
def test_pan_and_inf_mod_rate():
    micro = parse(_seed("microtonic.preset"), "microtonic.preset")
    assert micro.drum(3).pan == pytest.approx(-0.24)
    chonk = parse(_seed("chonk.mtpreset"), "chonk.mtpreset")
    assert chonk.drum(1).patch["modRate"] == params.BY_NAME["modRate"].minimum  # "inf ms": held offset


THIRD_PARTY = """\
MicroTonicPresetV3: {
\tTempo: 121.00000000 bpm
\tPattern: b
\tStepRate: 1/16
\tSwing: 20.00000000%
\tMutes: { Off, On, Off, Off, Off, Off, Off, Off }
\tDrumPatches: {
\t\t2: {
\t\t\tName: "SC BD Power"  // a comment
\t\t\tOscWave: Saw
\t\t\tOscFreq: 616.14874268 Hz
\t\t\tModMode: Sine
\t\t\tModRate: 279.64397346 Hz
\t\t\tModAmt: +32.85273205 sm
\t\t\tEQGain: +34.53779602 dB
\t\t\tMix: 66.5 / 33.5
\t\t\tPan: -50.0
\t\t\tChoke: 2
\t\t}
\t\t/* drum 1 after drum 2 */
\t\t1: {
\t\t\tModMode: Decay
\t\t\tModRate: 250
\t\t}
\t}
\tPatterns: {
\t\tb: {
\t\t\tLength: 8
\t\t\tChained: true
\t\t\t1: {
\t\t\t\tTriggers: #---#---
\t\t\t\tAccents:  #-------
\t\t\t}
\t\t}
\t}
}
"""


def test_third_party_syntax_unquoted_plus_units_comments():
    for text in (THIRD_PARTY, THIRD_PARTY.replace("\n", "\r\n")):
        p = parse(text, "pythonic.mtpreset")
        assert p.tempo == 121.0 and p.active == "b" and p.swing == 20.0
        assert p.mutes[1] and not p.mutes[0]
        assert [d.key for d in p.drums] == [2, 1]
        d2, d1 = p.drum(2), p.drum(1)
        assert d2.patch["oscWave"] == 2 and d2.patch["modMode"] == 1 and d2.patch["modRate"] == 279.64397346
        assert d2.patch["modAmt"] == 32.85273205 and d2.patch["eQGain"] == 34.53779602
        assert d2.patch["mix"] == 66.5
        assert d2.pan == -0.5 and d2.choke == 2
        assert d1.patch["modRate"] == 4.0  # bare number in Decay mode: ms
        assert d1.patch["oscFreq"] == params.BY_NAME["oscFreq"].default
        pat = p.patterns["b"]
        assert pat.length == 8 and pat.chained and pat.triggers[1] == "#---#---" and pat.has_steps()


V1_DRUM = """MicroTonicDrumPatchV1={
\tName="NE RND Zeroto9"
\tModified=true
\tPath="/Library/Audio/Presets/Sonic Charge/NE RND Zeroto9.mtdp"
\tOscWave=Triangle
\tOscFreq=742.02076800Hz
\tOscDcy=58.21029589ms
\tModMode=Noise
\tModRate=0 Hz
\tModAmt=+22.19031754sm
\tNFilMod=BP
\tNFilQ=1008.40029486
\tMix=66.51028097/33.48971903
\tLevel=+10.00000000dB
\tOutput=A
\tOscVel=100.00000000%
}
"""


def test_v1_key_value_drum():
    p = parse(V1_DRUM, "old.mtdp")
    assert p.single and len(p.drums) == 1
    d = p.drums[0]
    assert d.name == "NE RND Zeroto9" and d.patch["oscWave"] == 1 and d.patch["oscFreq"] == 742.020768
    assert d.patch["modRate"] == 0.1 and d.patch["nFilQ"] == 1008.40029486 and d.patch["mix"] == 66.51028097
    assert d.patch["level"] == 10.0 and d.patch["oscVel"] == 100.0


def test_v3_drum_file():
    text = 'MicrotonicDrumPatchV3: {\n\tOscWave: "Sine"\n\tOscDcy: "1.5 s"\n\tEQFreq: "1.2 kHz"\n}\n'
    d = parse(text, "x.mtdrum").drums[0]
    assert d.patch["oscDcy"] == 1500.0 and d.patch["eQFreq"] == 1200.0


HEAD = "MicrotonicPresetV3: {\n DrumPatches: {\n"


@pytest.mark.parametrize("text,where", [
    ("", "x.mtpreset:1: empty file"),
    ("Hello: { }", "x.mtpreset:1: not a Microtonic preset"),
    ("MicrotonicPresetV3: {\n Pattern: a\n", "x.mtpreset:3: missing '}'"),
    (HEAD + " 1: {\n OscFreq: \"loud\"\n}}}", "x.mtpreset:4: OscFreq: 'loud'"),
    (HEAD + " 1: {\n OscWave: Square\n}}}", "x.mtpreset:4: OscWave: 'Square'"),
    (HEAD + " 9: { }\n}}", "x.mtpreset:3: drum '9'"),
    (HEAD + " 1: { }\n 1: { }\n}}", "x.mtpreset:4: drum 1: defined twice"),
    ("MicrotonicPresetV3: {\n Name: \"open", "x.mtpreset:2: unterminated quoted string"),
    ("MicrotonicPresetV3: {\n /* never closed", "x.mtpreset:2: unterminated /* comment"),
    ("MicrotonicPresetV3: {\n Pattern: a\n}", "x.mtpreset:1: DrumPatches: missing"),
    ("MicrotonicPresetV3: " + "{ a: " * 20, "x.mtpreset:1: blocks nested deeper"),
])
def test_errors_name_file_line_and_field(text, where):
    with pytest.raises(PresetError) as e:
        parse(text, "x.mtpreset")
    assert str(e.value).startswith(where)


PIECES = ["", "{", "}", '"', ":", "=", ",", "/*", "//", "\n", "-", "+", "inf", " ms", "nan", "1e999", "\x00",
          "é", "\r", "Saw", "DrumPatches: {", "1: {", "Triggers: x"]
EDIT = st.tuples(st.floats(0, 1), st.integers(0, 40), st.sampled_from(PIECES))  # where, cut, insert
EDITS = st.lists(EDIT, min_size=1, max_size=6)


def _edit(text: str, edits) -> str:
    for where, cut, insert in edits:
        i = int(where * len(text))
        text = text[:i] + insert + text[i + cut:]
    return text


@needs_seeds
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from([p.name for p in SEED_FILES] or ["-"]), edits=EDITS)
def test_fuzzed_seed_presets_raise_only_preset_error(name, edits):
    text = _edit(_seed(name), edits)
    try:
        p = parse(text, name)
    except PresetError as e:
        assert str(e).startswith(f"{name}:") and "\n" not in str(e)
        return
    for d in p.drums:
        assert d.patch == params.clean(d.patch) and -1 <= d.pan <= 1
