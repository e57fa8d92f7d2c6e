"""Kits from Microtonic presets: assignment by drum number or file order, patch A/B and the morph,
the kit's settings and patterns, the preset folder, the commands, and loaded drums against the
original's reference renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from enginekit import REFS, SHARED, differences

from gridtonic import cli
from gridtonic.core import params
from gridtonic.core.kit import default_kit
from gridtonic.core.session import Session, Track, default_session
from gridtonic.io import store
from gridtonic.presets import kits
from gridtonic.presets.mtpreset import PresetError, parse
from gridtonic.sound import nrt

SEEDS = SHARED / "seed-presets"
needs_seeds = pytest.mark.skipif(not (SEEDS / "default.mtpreset").exists(), reason=f"no seeds in {SEEDS}")


def _preset(name: str):
    return kits.read(SEEDS / name)


def test_default_kit_is_complete_and_in_range():
    kit = default_kit()
    assert [n for n, _ in kit] == ["kick", "snare", "closed hat", "open hat", "clap"]
    for _, patch in kit:
        assert patch == params.clean(patch)


def test_morph_gives_a_the_midpoint_and_b():
    a = params.clean({"oscFreq": 50, "level": -10, "oscWave": 0, "nFilMod": 0})
    b = params.clean({"oscFreq": 150, "level": 0, "oscWave": 2, "nFilMod": 2})
    t = Track("t", patch_a=a, patch_b=b)
    t.morph = 0.0
    assert t.patch() == a
    t.morph = 1.0
    assert t.patch() == b
    t.morph = 0.5
    mid = t.patch()
    for name in a:
        if name in params.DISCRETE:
            assert mid[name] == a[name]  # discrete ones switch past 0.5
        else:
            assert mid[name] == pytest.approx((a[name] + b[name]) / 2)
    t.morph = 0.51
    assert t.patch()["oscWave"] == 2 and t.patch()["nFilMod"] == 2


@needs_seeds
def test_kit_by_drum_number_and_by_file_order():
    preset = _preset("default.mtpreset")
    by_key = kits.assignment(preset, 5)
    assert [d.key for d in by_key] == [1, 2, 3, 4, 5]
    by_file = kits.assignment(preset, 5, "file")
    assert [d.key for d in by_file] == [1, 2, 3, 7, 4]  # the original's track 4 = drum "7"


@needs_seeds
def test_loading_a_kit_into_a_keeps_b_and_morphs_to_it():
    session = default_session()
    old_b = [dict(t.patch_b) for t in session.tracks]
    preset = _preset("microtonic.preset")
    kits.load(session, preset, "a")
    assert len(session.tracks) == 8 and session.tracks[7].name == "KM CLP 01"
    for i, t in enumerate(session.tracks):
        drum = preset.drum(i + 1)
        assert t.patch_a == drum.patch and t.pan == drum.pan and t.choke == drum.choke
    assert [t.patch_b for t in session.tracks[:5]] == old_b
    assert session.tracks[2].pan == pytest.approx(-0.24)
    blue = _preset("blue.mtpreset")
    kits.load(session, blue, "b")
    t = session.tracks[0]
    t.morph = 1.0
    assert t.patch() == blue.drum(1).patch
    t.morph = 0.0
    assert t.patch() == preset.drum(1).patch
    Session.from_dict(json.loads(store.dumps(session)))  # still a valid session


@needs_seeds
def test_loading_one_track_and_a_single_drum():
    session = default_session()
    before = [dict(t.patch_a) for t in session.tracks]
    kits.load(session, _preset("blue.mtpreset"), "both", track=1)
    assert session.tracks[1].patch_a == session.tracks[1].patch_b == _preset("blue.mtpreset").drum(2).patch
    assert [t.patch_a for i, t in enumerate(session.tracks) if i != 1] == before[:1] + before[2:]
    drum = parse('MicrotonicDrumPatchV3: {\n OscWave: Saw\n OscFreq: 99 Hz\n}', "x.mtdrum")
    kits.load(session, drum, "b", track=3)
    assert session.tracks[3].patch_b["oscFreq"] == 99 and session.tracks[3].patch_b["oscWave"] == 2
    with pytest.raises(PresetError, match="track 9"):
        kits.load(session, drum, "a", track=8)


GROOVE = """MicrotonicPresetV3: {
 Tempo: 96 bpm
 Swing: 40%
 Pattern: a
 FillRate: 4.0x
 Mutes: { Off, On }
 DrumPatches: { 1: { Name: "K" } 2: { Name: "S" } }
 Patterns: {
  a: { Length: 8  Chained: true  1: { Triggers: x---x---  Accents: x-------  Fills: --x----- } }
  b: { Length: 4  Chained: false  2: { Triggers: --#- } }
 }
}"""


def test_a_kit_with_steps_brings_its_patterns_and_settings():
    preset = parse(GROOVE.replace("  ", "\n"), "groove.mtpreset")
    session = default_session()
    kits.load(session, preset, "a")
    kick, snare = session.tracks[0], session.tracks[1]
    assert session.tempo == 96 and kick.swing == 60.0  # Microtonic 40 % -> 60 % (50 = straight)
    assert kick.pattern() == "x-x-x-------" and snare.pattern() == "----------x-"  # a chain a+b: 12 steps
    assert kick.length == snare.length == 12
    assert kick.accent[:12] == [True] + [False] * 11 and kick.velocity[:12] == [1.0] * 12
    assert kick.condition[:3] == [None, None, "FILL"] and session.fill_every == 4  # Fills at FillRate
    assert snare.mute and not kick.mute
    untouched = default_session().tracks[2]  # a track the kit has no drum for is left as it was
    assert session.tracks[2].pattern() == untouched.pattern()
    assert session.tracks[2].patch_a == untouched.patch_a


@needs_seeds
def test_a_kit_without_steps_keeps_the_session_patterns():
    session = default_session()
    patterns = [t.pattern() for t in session.tracks]
    kits.load(session, _preset("tough.mtpreset"), "a")
    assert [t.pattern() for t in session.tracks[:5]] == patterns


@needs_seeds
def test_preset_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDTONIC_DATA", str(tmp_path))
    folder = kits.presets_dir()
    folder.mkdir(parents=True)
    (folder / "Blue.mtpreset").write_bytes((SEEDS / "blue.mtpreset").read_bytes())
    (folder / ".hidden").write_text("x")
    assert [p.name for p in kits.scan()] == ["Blue.mtpreset"]
    assert kits.find("blue") == folder / "Blue.mtpreset"
    with pytest.raises(PresetError, match="no preset 'nope'.*Blue.mtpreset"):
        kits.find("nope")
    session = default_session()
    kits.session_with(session, "blue", "b")
    assert session.tracks[0].patch_b == _preset("blue.mtpreset").drum(1).patch


@needs_seeds
def test_commands(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRIDTONIC_DATA", str(tmp_path))
    assert cli.main(["preset", "show", str(SEEDS / "default.mtpreset"), "--file-order"]) == 0
    out = capsys.readouterr().out
    assert "drums by file order" in out and "VT-808 CP" in out and "Saw" in out
    bad = tmp_path / "bad.mtpreset"
    bad.write_text('MicrotonicPresetV3: {\n DrumPatches: {\n 1: { Level: "loud" }\n }\n}\n')
    assert cli.main(["preset", "show", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"gridtonic: {bad}:3: Level: 'loud' is not a number"
    session_path = tmp_path / "s.json"
    assert cli.main(["preset", "load", str(SEEDS / "blue.mtpreset"), "--slot", "b", "--track", "2",
                     "--session", str(session_path)]) == 0
    saved = store.load(session_path)
    assert saved.tracks[1].patch_b == _preset("blue.mtpreset").drum(2).patch
    out_scd = tmp_path / "kit.scd"
    out_scd.write_text("mine")
    assert cli.main(["preset", "convert", str(SEEDS / "blue.mtpreset"), "-o", str(out_scd)]) == 2
    assert out_scd.read_text() == "mine"  # never overwritten without --force
    assert cli.main(["preset", "convert", str(SEEDS / "blue.mtpreset"), "-o", str(out_scd), "--force"]) == 0
    assert "supertonic_" in out_scd.read_text()


def _reference_voices() -> list[tuple[str, str, dict]]:
    return [(f"{pj.parent.name}/{e['file']}", pj.parent.name, e)
            for pj in sorted(REFS.glob("*/params.json")) for e in json.loads(pj.read_text())]


VOICES = _reference_voices()
_renders: dict[tuple, Path] = {}


@pytest.mark.nrt
@pytest.mark.skipif(not VOICES or not SEEDS.is_dir(), reason=f"no reference renders in {REFS} or seeds")
@pytest.mark.parametrize("key,preset,entry", VOICES, ids=[k for k, _, _ in VOICES])
def test_loaded_preset_drums_sound_like_the_original(key, preset, entry, engine_defs, tmp_path_factory):
    """Each reference drum from a kit loaded into a session (patch A, morph 0), through the engine;
    drums that load to the same patch are rendered once."""
    path = next(p for p in SEEDS.iterdir() if p.name.split(".")[0] == preset)
    session = Session(tracks=[Track("t")])
    kits.load(session, kits.read(path), "a", order="file")
    patch = session.tracks[entry["index"] - 1].patch()
    cache_key = (tuple(sorted(patch.items())), entry["duration_s"])
    if cache_key not in _renders:
        out = tmp_path_factory.mktemp("loaded") / "hit.wav"
        _renders[cache_key] = nrt.render_hit(patch, out, entry["duration_s"], defs_dir=engine_defs)
    report = differences(key, _renders[cache_key])
    if report:
        pytest.fail(f"{key} loaded from {path.name} differs from the original:\n{report}")
