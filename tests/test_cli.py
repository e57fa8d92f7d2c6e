"""`gridtonic run` and `gridtonic devices` as a user runs them: real processes, one-line errors."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from gridtonic.core.session import default_session
from gridtonic.grid import udp

pytestmark = pytest.mark.realtime


def gridtonic(*args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "gridtonic", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture
def user_env(tmp_path, jack_server):
    return {**os.environ, "GRIDTONIC_DATA": str(tmp_path / "data"), "JACK_DEFAULT_SERVER": jack_server}


def test_run_plays_and_saves_the_default_session(user_env, tmp_path):
    r = gridtonic("run", "--for", "2", "--port", str(udp.free_port()), "--tempo", "100", env=user_env)
    assert r.returncode == 0, r.stderr
    assert "playing kick, snare, closed hat, open hat, clap at 100 BPM" in r.stderr
    saved = json.loads((tmp_path / "data" / "session.json").read_text())
    assert saved["tempo"] == 100
    assert [t["pattern"] for t in saved["tracks"]] == [t.pattern() for t in default_session().tracks]


def test_a_broken_session_file_is_kept_aside_not_overwritten(user_env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "session.json").write_text('{"format": "gridtonic-session", "tracks": "oops"}')
    r = gridtonic("run", "--for", "1", "--port", str(udp.free_port()), env=user_env)
    assert r.returncode == 0, r.stderr
    aside = [p for p in data.iterdir() if p.name.startswith("session.json.broken-")]
    assert len(aside) == 1 and "oops" in aside[0].read_text()
    assert "moved it to" in r.stderr


def test_missing_scsynth_gives_an_install_hint(user_env, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("jackd", "jack_lsp"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    env = {**user_env, "PATH": str(bin_dir)}
    r = gridtonic("run", "--for", "1", "--port", str(udp.free_port()), env=env)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("gridtonic: scsynth not found; install it with")


def test_port_in_use_is_one_clear_line(user_env):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        r = gridtonic("run", "--for", "1", "--port", str(port), env=user_env)
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert str(port) in last and "Traceback" not in r.stderr


def test_devices_reports_the_audio_side(user_env):
    r = gridtonic("devices", env=user_env)
    assert r.returncode == 0
    for row in ("jackd", "JACK server", "scsynth", "SynthDefs"):
        assert row in r.stdout
    assert "running" in r.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_and_kill_stop_cleanly_and_keep_the_session(user_env, tmp_path, signum):
    """Ctrl-C printed trio's KeyboardInterrupt traceback (a group, which the CLI's handler missed)."""
    proc = subprocess.Popen([sys.executable, "-m", "gridtonic", "run", "--port", str(udp.free_port()),
                             "--tempo", "111"], env=user_env, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # wait until it plays
        if "playing" in line:
            break
    proc.send_signal(signum)
    rest = proc.stderr.read()
    assert proc.wait(timeout=30) == 0, rest
    assert f"{signal.Signals(signum).name}: stopping" in rest and "Traceback" not in rest
    assert json.loads((tmp_path / "data" / "session.json").read_text())["tempo"] == 111


def test_devices_lists_the_midi_api_asked_for(user_env):
    """``devices`` listed JACK MIDI only: ALSA desktops could not see their ports. Where there is no
    ALSA sequencer (CI), asking for ALSA is the one line saying so, not libasound's complaints."""
    r = gridtonic("devices", "--midi-api", "alsa", env=user_env)
    assert r.returncode == 0
    rows = [line for line in r.stdout.splitlines() if line.startswith(("MIDI", "Launchpad"))]
    if os.path.exists("/dev/snd/seq"):
        assert rows[0].endswith("alsa (--midi-api alsa)") and len(rows) >= 4  # API, in, out, Launchpad
        assert "jack" not in " ".join(rows[1:]).lower()
    else:
        assert [row.split(None, 2)[2] for row in rows] == [  # MIDI API: the reason, and no ports
            "--midi-api alsa: no ALSA sequencer (/dev/snd/seq is missing: sudo modprobe snd-seq, "
            "or --midi-api jack)"]
        assert "ALSA lib" not in r.stderr


def test_devices_and_run_pick_the_alsa_sequencer_where_there_is_one(user_env):
    """MIDI defaulted to JACK, where a USB Launchpad or clock source on a Linux desktop is not seen."""
    api = "alsa" if os.path.exists("/dev/snd/seq") else "jack"
    r = gridtonic("devices", env=user_env)
    assert [line.split(None, 2)[2].split(" (")[0] for line in r.stdout.splitlines()
            if line.startswith("MIDI API")] == [api]
    r = gridtonic("run", "--for", "0.5", "--port", str(udp.free_port()), env=user_env)
    assert r.returncode == 0, r.stderr
    assert f"gridtonic: MIDI: {api} (auto: " in r.stderr
