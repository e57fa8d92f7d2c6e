"""Which MIDI system gridtonic uses (``--midi-api``): the decision table, and ``run`` and ``devices``
resolving their parsed options through it, on a machine with an ALSA sequencer and on one without
(``midiports.SEQUENCER`` pointed at a file that is there or not)."""

from __future__ import annotations

import itertools

import pytest

from gridtonic import cli, launchpad, midi
from gridtonic.cli import _parser as cli_parser
from gridtonic.io import midiports
from gridtonic.io.midiports import MidiPortError, choose_api

BOTH, ALSA, JACK, NONE = ("alsa", "jack"), ("alsa",), ("jack",), ()
COMPILED = (BOTH, ALSA, JACK, NONE)

# requested × /dev/snd/seq there × what python-rtmidi was built with → the API, or the error's gist
TABLE = [
    ("auto", True, BOTH, "alsa"),  # a Linux desktop or laptop: USB MIDI devices are on the sequencer
    ("auto", False, BOTH, "jack"),  # a container, CI: no sequencer
    ("auto", True, ALSA, "alsa"),
    ("auto", False, ALSA, "error: no JACK MIDI"),
    ("auto", True, JACK, "jack"),  # an rtmidi built without ALSA
    ("auto", False, JACK, "jack"),
    ("auto", True, NONE, "error: no JACK MIDI"),
    ("auto", False, NONE, "error: no JACK MIDI"),
    ("jack", True, BOTH, "jack"),  # asked for: JACK even where there is a sequencer
    ("jack", False, BOTH, "jack"),
    ("jack", True, ALSA, "error: built without it"),  # rtmidi would open ALSA instead, silently
    ("jack", False, ALSA, "error: built without it"),
    ("jack", True, JACK, "jack"),
    ("jack", False, JACK, "jack"),
    ("jack", True, NONE, "error: built without it"),
    ("jack", False, NONE, "error: built without it"),
    ("alsa", True, BOTH, "alsa"),
    ("alsa", False, BOTH, "error: /dev/snd/seq is missing"),
    ("alsa", True, ALSA, "alsa"),
    ("alsa", False, ALSA, "error: /dev/snd/seq is missing"),
    ("alsa", True, JACK, "error: built without it"),
    ("alsa", False, JACK, "error: built without it"),
    ("alsa", True, NONE, "error: built without it"),
    ("alsa", False, NONE, "error: built without it"),
]


def test_the_table_covers_every_case():
    cases = [row[:3] for row in TABLE]
    assert sorted(cases) == sorted(itertools.product(midiports.API_CHOICES, (True, False), COMPILED))


@pytest.mark.parametrize(("requested", "seq", "compiled", "want"), TABLE)
def test_choose_api(requested, seq, compiled, want):
    if want.startswith("error: "):
        with pytest.raises(MidiPortError) as e:
            choose_api(requested, seq, compiled)
        assert want.removeprefix("error: ") in str(e.value) and "\n" not in str(e.value)
        assert str(e.value).startswith(f"--midi-api {requested}:")  # says which option to change
        return
    api, why = choose_api(requested, seq, compiled)
    assert api == want and "\n" not in why


def test_the_reason_says_why():
    assert choose_api("auto", True, BOTH)[1] == (
        "auto: /dev/snd/seq exists, the ALSA sequencer where USB MIDI devices show up")
    assert choose_api("auto", False, BOTH)[1] == "auto: no ALSA sequencer, /dev/snd/seq is missing"
    assert choose_api("auto", True, JACK)[1] == "auto: python-rtmidi was built without ALSA"
    assert choose_api("jack", True, BOTH)[1] == "--midi-api jack"
    with pytest.raises(MidiPortError, match=r"^--midi-api alsa: no ALSA sequencer \(/dev/snd/seq is "
                       r"missing: sudo modprobe snd-seq, or --midi-api jack\)$"):
        choose_api("alsa", False, BOTH)
    with pytest.raises(MidiPortError, match="one of alsa, jack, auto"):
        choose_api("coremidi", True, BOTH)


@pytest.fixture(params=[True, False], ids=["sequencer", "no-sequencer"])
def machine(request, tmp_path, monkeypatch):
    """This machine with an ALSA sequencer or without one; yields what auto resolves to."""
    seq = tmp_path / "seq"
    if request.param:
        seq.touch()
    monkeypatch.setattr(midiports, "SEQUENCER", seq)
    return "alsa" if request.param else "jack"


def run_args(tmp_path, *flags):
    return cli_parser().parse_args(["run", "--session", str(tmp_path / "s.json"), "--midi-notes-out", *flags])


def test_run_resolves_one_api_for_midi_and_launchpads(machine, tmp_path):
    args = run_args(tmp_path)
    assert args.midi_api == "auto"  # the default
    assert midi.config_from_args(args).api == machine == launchpad.config_from_args(args).api
    args = run_args(tmp_path, "--midi-api", "jack")
    assert midi.config_from_args(args).api == "jack" == launchpad.config_from_args(args).api


def test_run_asking_for_alsa_without_a_sequencer_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(midiports, "SEQUENCER", tmp_path / "seq")
    assert cli.main(["run", "--session", str(tmp_path / "s.json"), "--midi-api", "alsa"]) == 2
    assert capsys.readouterr().err == (f"gridtonic: --midi-api alsa: no ALSA sequencer ({tmp_path}/seq is "
                                       "missing: sudo modprobe snd-seq, or --midi-api jack)\n")
    assert not (tmp_path / "s.json").exists()  # said before anything started


def test_devices_says_which_api_and_why(machine, capsys):
    assert cli.main(["devices"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("MIDI API")]
    assert len(rows) == 1
    state = "exists" if machine == "alsa" else "is missing"
    assert rows[0].split(None, 2)[2].startswith(f"{machine} (auto: ") and f"{midiports.SEQUENCER}" in rows[0]
    assert state in rows[0]
    assert cli.main(["devices", "--midi-api", "jack"]) == 0
    assert "MIDI API" in (out := capsys.readouterr().out) and "jack (--midi-api jack)" in out
