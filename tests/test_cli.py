"""`gridtonic run` and `gridtonic devices` as a user runs them: real processes, one-line errors."""

import json
import os
import pty
import shutil
import signal
import socket
import subprocess
import sys
import threading

import pytest
from enginekit import SHARED

from gridtonic import cli
from gridtonic.core.session import default_session
from gridtonic.grid import emulator, udp
from gridtonic.io import config, store
from gridtonic.presets import kits

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


@pytest.fixture
def bare_env(tmp_path):
    """A user with no JACK server (commands refused before any starts need none) and no config."""
    return {**os.environ, "GRIDTONIC_DATA": str(tmp_path / "data"),
            "GRIDTONIC_CONFIG": str(tmp_path / "config.toml")}


def test_tempo_and_preset_on_the_command_line_are_saved_over_an_existing_session(user_env, tmp_path):
    """The autosave baseline was taken after --tempo/--preset changed the session, so a file at 300 BPM
    run with --tempo 200 still said 300, and --preset left the file's 5 tracks."""
    tough = SHARED / "seed-presets" / "tough.mtpreset"
    if not tough.exists():
        pytest.skip(f"{tough} is missing (../shared)")
    path = tmp_path / "data" / "session.json"
    s = default_session()
    s.tempo = 300
    store.save(s, path)
    r = gridtonic("run", "--for", "1", "--port", str(udp.free_port()), "--no-web", "--tempo", "200",
                  "--preset", str(tough), env=user_env)
    assert r.returncode == 0, r.stderr
    saved = store.load(path)
    expected = default_session()
    kits.load(expected, kits.read(tough), "a")
    assert saved.tempo == 200
    assert len(saved.tracks) == 8
    assert [t.patch_a for t in saved.tracks] == [t.patch_a for t in expected.tracks]


@pytest.mark.parametrize(("args", "named"), [
    (("run", "--tempo", "0"), "--tempo: 0"),
    (("run", "--tempo", "10000"), "--tempo: 10000"),
    (("run", "--tempo", "-5"), "--tempo: -5"),
    (("run", "--tempo", "nan"), "--tempo: nan"),
    (("run", "--latency", "-1"), "--latency: -1"),
    (("run", "--latency", "inf"), "--latency: inf"),
    (("run", "--for", "-3"), "--for: -3"),
    (("run", "--port", "70000"), "--port: 70000"),
    (("render", "kick:x", "-o", "x.wav", "--tempo", "0"), "--tempo: 0"),
])
def test_a_number_out_of_range_is_one_line_naming_it(bare_env, args, named):
    """--tempo 0 played 120, 10000 became 300 and -5 became 20 with no word; --latency -1 was taken;
    --for -3 printed a 31-line traceback."""
    r = gridtonic(*args, env=bare_env)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert named in r.stderr and "out of range" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(("typo", "meant"), [("rnu", "run"), ("rendr", "render"), ("devics", "devices"),
                                             ("grid-emu", "grid-emulator")])
def test_a_misspelt_command_says_what_was_meant(bare_env, typo, meant):
    r = gridtonic(typo, env=bare_env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert f"did you mean {meant!r}?" in r.stderr


def test_a_pattern_with_a_typo_is_refused_not_read_as_a_hit(bare_env, tmp_path):
    """kick:x--y--x played the y as a hit; only x/X (hit) and -/. (rest) mean something."""
    out = tmp_path / "x.wav"
    r = gridtonic("render", "kick:x--y--x", "-o", str(out), env=bare_env)
    assert r.returncode == 2 and not out.exists()
    assert r.stderr.strip().splitlines() == [
        "gridtonic: pattern 'kick:x--y--x': 'y' at step 4 is neither a hit (x) nor a rest (- or .)"]


def test_a_misspelt_session_file_is_named_as_a_file_not_read_as_a_pattern(bare_env, tmp_path):
    r = gridtonic("render", str(tmp_path / "sesion.json"), "-o", str(tmp_path / "x.wav"), env=bare_env)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"gridtonic: {tmp_path / 'sesion.json'}: no such session file "
        "(or give patterns, e.g. 'kick:x---x---')"]


def test_a_render_into_a_missing_folder_is_one_line(bare_env, tmp_path):
    """scsynth printed a multi-line dump after rendering for nothing."""
    out = tmp_path / "nodir" / "x.wav"
    r = gridtonic("render", "kick:X.x-", "-o", str(out), env=bare_env)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"gridtonic: -o {out}: there is no folder {out.parent}/ to write it in"]


def test_a_busy_web_port_is_named_before_scsynth_starts(bare_env):
    """It was '[Errno 98] Address already in use', naming neither the port nor --web-port, after
    JACK and scsynth had started."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = gridtonic("run", "--for", "1", "--port", str(udp.free_port()), "--web-port", str(port),
                      env=bare_env)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (
        f"gridtonic: the page's port {port} on 127.0.0.1 is in use (another gridtonic?): choose another "
        "with --web-port, or --no-web")
    assert "scsynth" not in r.stderr and "JACK" not in r.stderr  # neither was started


def test_help_ends_with_an_example_for_every_command(bare_env, tmp_path):
    r = gridtonic("--help", env=bare_env)
    assert "example: gridtonic run" in r.stdout
    assert f"settings: {tmp_path / 'config.toml'}" in r.stdout  # where the settings file goes
    for name in cli.commands(cli._parser(config.Settings(tmp_path / "none.toml"))):
        r = gridtonic(*name.split(), "--help", env=bare_env)
        assert r.returncode == 0 and f"example: gridtonic {name}" in " ".join(r.stdout.split()), name


def test_the_first_run_names_three_keys_and_later_runs_do_not(user_env):
    args = ("run", "--for", "0.5", "--port", str(udp.free_port()), "--no-web")
    first = gridtonic(*args, env=user_env)
    assert first.returncode == 0, first.stderr
    assert "first run: settings go in" in first.stderr
    for key in ("play / stop (x 0 y 7)", "introspect (x 5 y 7)", "generate (x 7 y 7)"):
        assert key in first.stderr
    again = gridtonic(*args, env=user_env)
    assert again.returncode == 0 and "first run" not in again.stderr


def test_quiet_and_log_level(user_env):
    args = ("run", "--for", "0.5", "--port", str(udp.free_port()), "--no-web")
    quiet = gridtonic("--quiet", *args, env=user_env)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    debug = gridtonic("--log-level", "debug", *args, env=user_env)
    assert debug.returncode == 0 and "DEBUG " in debug.stderr


def test_the_grid_emulator_redraws_in_place_with_a_legend_and_ends_on_ctrl_c(user_env):
    """It reprinted the whole grid every frame (1,700 lines of scrollback), had no legend, and Ctrl-C
    printed a 55-line traceback."""
    master, slave = pty.openpty()
    port = udp.free_port()
    emu = subprocess.Popen([sys.executable, "-m", "gridtonic", "grid-emulator", "--port", str(port)],
                           stdin=slave, stdout=slave, stderr=slave, env=user_env)
    os.close(slave)
    out = bytearray()
    reader = threading.Thread(target=_drain, args=(master, out))
    reader.start()
    try:
        r = gridtonic("run", "--for", "3", "--port", str(udp.free_port()), "--no-web", "--serialosc-port",
                      str(port), env=user_env)
        assert r.returncode == 0, r.stderr
    finally:
        emu.send_signal(signal.SIGINT)  # what Ctrl-C in its terminal sends
        status = emu.wait(timeout=30)
        reader.join(timeout=30)
        os.close(master)
    text = out.decode(errors="replace")
    assert status == 0 and "Traceback" not in text
    assert text.startswith(emulator.ALT_SCREEN) and text.rstrip("> ").endswith(emulator.MAIN_SCREEN)
    assert "\x1b[2J" not in text  # a clear screen pushes the old one into scrollback in many terminals
    frames = text.split("\x1b[H")[1:]
    assert len(frames) >= 10  # the playhead moved for 3 s
    lines = 1 + 8 + len(emulator.LEGEND)
    assert all(f.count("\n") == lines for f in frames[:-1])  # each frame the same lines, drawn over the last
    assert "Ctrl-C quits" in frames[-1] and any(c in f for f in frames for c in "@%#")  # lit LEDs drawn


def _drain(fd: int, into: bytearray) -> None:
    """Everything a pty's other side writes, until it closes."""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the other side closed
            return
        if not data:
            return
        into += data
