"""The browser page end to end: gridtonic's real server, a real headless Chromium (Selenium with the
system chromedriver), the Instrument's page surface, sequencer and engine, a realtime scsynth on jackd
dummy where a test checks what the engine plays (scsynth prints what it receives, ``/dumpOSC``), and
the shipped prior. Raw WebSocket clients check validation and that pages stay in sync."""

from __future__ import annotations

import json
import logging
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import trio
from enginekit import SHARED
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url
from webrig import ask, next_of, rig, state_where, until, ws_client

from gridtonic.app import Instrument
from gridtonic.core import layout
from gridtonic.core.session import FOCUS_RANGE, Session, Steps, Track, default_session
from gridtonic.grid import host, udp
from gridtonic.grid.emulator import EmulatedGrid, SerialOscEmulator
from gridtonic.grid.host import GridConfig
from gridtonic.io import midiports, osc, store
from gridtonic.launchpad.emulator import EmulatedLaunchpad
from gridtonic.launchpad.host import LaunchpadConfig
from gridtonic.launchpad.models import X
from gridtonic.midi.clock import MidiClock
from gridtonic.midi.service import MidiConfig
from gridtonic.presets import kits
from gridtonic.prior import sampler
from gridtonic.web import access, protocol
from gridtonic.web import server as web

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
L16, L8 = layout.builtin(16, 8), layout.builtin(8, 8)
SEEDS = SHARED / "seed-presets"


@pytest.fixture
def heard(caplog) -> Callable[[str, float], bool]:
    """Whether scsynth has received an ``/s_new`` with ``name`` = ``value``: scsynth prints each
    message it gets (``/dumpOSC``, sent by ``rig``), which gridtonic logs at debug level."""
    caplog.set_level(logging.DEBUG, logger="gridtonic")

    def check(name: str, value: float) -> bool:
        arg = f'"{name}", {value:g}'
        return any('"/s_new"' in r.getMessage() and arg in r.getMessage()
                   for r in caplog.records if r.name == "gridtonic.sound.scsynth")

    return check


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium or chromedriver missing: apt-get install chromium chromium-driver")
    driver = web.headless_chromium(tmp_path_factory.mktemp("chromium"), CHROMIUM, CHROMEDRIVER)
    yield driver
    driver.quit()


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GRIDTONIC_DATA", str(tmp_path))
    return tmp_path


def in_page(fn: Callable[[], object]):
    """Run a Selenium call (blocking HTTP to chromedriver) in a worker thread."""
    return trio.to_thread.run_sync(fn)


def key(driver: webdriver.Chrome, x: int, y: int):
    return driver.find_element(By.CSS_SELECTOR, f'#grid [data-xy="{x},{y}"]')


def page_levels(driver: webdriver.Chrome) -> str:
    return driver.execute_script("return window.gridtonic.levels")


def page_pattern(driver: webdriver.Chrome, track: int) -> str:
    row = driver.find_element(By.CSS_SELECTOR, f'#patterns [data-track="{track}"]')
    return row.get_attribute("data-pattern")


def frame_hex(inst: Instrument) -> str:
    return "".join(f"{v:x}" for v in inst.page.frame(trio.current_time()))


async def shows(driver: webdriver.Chrome, inst: Instrument) -> bool:
    """The page's virtual grid lights exactly the surface's current frame."""
    return await in_page(lambda: page_levels(driver)) == frame_hex(inst)


def all_steps(track: Track) -> str:
    """All 64 steps as the page's lanes hold them (``pattern()`` is the ``length`` that plays)."""
    return "".join("x" if on else "-" for on in track.steps)


async def shows_pattern(driver: webdriver.Chrome, session: Session, track: int) -> bool:
    return await in_page(lambda: page_pattern(driver, track)) == all_steps(session.tracks[track])


async def test_paint_introspect_edit_and_reload_in_chromium(browser, data, jack_server, heard):
    async with rig(data, sampler.load_file(), jack_server) as (inst, url):
        s = inst.session
        await in_page(lambda: browser.get(url))
        await until(lambda: shows(browser, inst), "the first frame on the page")

        # paint the kick with the mouse: press step 1, drag to step 8, let go
        def paint() -> None:
            ActionChains(browser).click_and_hold(key(browser, 0, 0)).move_to_element(key(browser, 7, 0)) \
                .release().perform()

        await in_page(paint)
        await until(lambda: s.tracks[0].pattern() == "x" * 8 + "-" * 24, "the painted kick")
        await until(lambda: shows_pattern(browser, s, 0), "the screen")
        await until(lambda: shows(browser, inst), "the painted LEDs")
        assert [int(page_levels(browser)[x], 16) >= 4 for x in range(16)] == [x < 8 for x in range(16)]

        # introspect the snare from the kick: latch the introspect key (ctrl-click), tap kick, tap snare
        ix, iy = L16.keys["introspect"]

        def introspect() -> None:
            chain = ActionChains(browser)
            chain.key_down(Keys.CONTROL).click(key(browser, ix, iy)).key_up(Keys.CONTROL)
            chain.click(key(browser, 2, 0)).click(key(browser, 2, 1))
            chain.key_down(Keys.CONTROL).click(key(browser, ix, iy)).key_up(Keys.CONTROL).perform()

        await in_page(introspect)
        await until(lambda: "x" in s.tracks[1].pattern(), "the introspected snare")
        assert s.tracks[0].pattern() == "x" * 8 + "-" * 24  # the basis is left alone
        await until(lambda: shows_pattern(browser, s, 1), "the snare shown")
        assert not inst.page.gestures.held and inst.page.gestures.basis is None

        # a kit parameter of the selected track (the kick): EQ gain to its maximum, from the keyboard
        def eq_max() -> None:
            slider = browser.find_element(By.CSS_SELECTOR, '#params [data-name="eQGain"] input')
            slider.click()
            slider.send_keys(Keys.END)

        await in_page(eq_max)
        await until(lambda: s.tracks[0].patch_a["eQGain"] == 40.0, "eQGain at +40 dB")
        inst.sequencer.start()  # the engine's next kick carries it to scsynth
        await until(lambda: heard("eQGain", 40), "scsynth given a kick with +40 dB EQ")
        inst.sequencer.stop()
        shown = browser.find_element(By.CSS_SELECTOR, '#params [data-name="eQGain"] output').text
        assert shown == "40.0 dB"

        # reload: the page shows the same state
        await in_page(browser.refresh)
        await until(lambda: shows(browser, inst), "the frame after reload")
        assert page_pattern(browser, 0) == all_steps(s.tracks[0])
        assert page_pattern(browser, 1) == all_steps(s.tracks[1])
        row = browser.find_element(By.CSS_SELECTOR, '#params [data-name="eQGain"]')
        assert float(row.get_attribute("data-value")) == 40.0

        # save from the page: the running session's file holds the painted kick and the EQ
        await in_page(lambda: browser.find_element(By.ID, "save").click())
        path = data / "session.json"
        await until(path.exists, "the saved session file")
        saved = store.load(path)
        assert saved.tracks[0].pattern() == s.tracks[0].pattern()
        assert saved.tracks[0].patch_a["eQGain"] == 40.0


BAD = [
    "not json", "[1, 2]", "{}", '{"type": "nope"}', '{"type": "key", "x": 16, "y": 0, "down": true}',
    '{"type": "key", "x": 1.5, "y": 0, "down": true}', '{"type": "key", "x": 1, "y": 0, "down": 1}',
    '{"type": "param", "track": 0, "slot": "a", "name": "oscFreq", "value": 1e9}',
    '{"type": "param", "track": 0, "slot": "a", "name": "oscFreq", "value": NaN}',
    '{"type": "param", "track": 0, "slot": "c", "name": "oscFreq", "value": 100}',
    '{"type": "param", "track": 0, "slot": "a", "name": "bogus", "value": 1}',
    '{"type": "param", "track": 0, "slot": "a", "name": "oscWave", "value": 1.5}',
    '{"type": "param", "track": 99, "slot": "a", "name": "oscFreq", "value": 100}',
    '{"type": "morph", "track": 0, "value": 2}', '{"type": "tempo", "bpm": "fast"}',
    '{"type": "preset", "name": "../../etc/passwd", "slot": "a"}',
    '{"type": "preset", "name": "nothing here", "slot": "a"}',
    '{"type": "save", "name": "../escape"}', '{"type": "load", "name": "missing"}',
    '{"type": "introspect", "basis": 1, "target": 1}', "[" * 3000, "x" * 10000,
    # numbers too large for a float (issue 14: OverflowError in the check itself)
    '{"type": "tempo", "bpm": 1%s}' % ("0" * 400), '{"type": "tempo", "bpm": %s}' % ("9" * 4090),
    '{"type": "morph", "track": 0, "value": -1%s}' % ("0" * 400),
    '{"type": "param", "track": 0, "slot": "a", "name": "oscFreq", "value": 1e400}',
    '{"type": "key", "x": 1%s, "y": 0, "down": true}' % ("0" * 400),
    # the pattern lanes' steps and levels
    '{"type": "step", "track": 0, "step": 64, "on": true}',
    '{"type": "step", "track": 0, "step": 1, "on": 1}',
    '{"type": "step", "track": 0, "step": -1, "on": true}',
    '{"type": "level", "track": 0, "step": 0, "lane": "pan", "value": 0.5}',
    '{"type": "level", "track": 0, "step": 0, "lane": "velocity", "value": 1.5}',
    '{"type": "level", "track": 0, "step": 0, "lane": "velocity", "value": NaN}',
    # the step inspector's fields, locks, track length and speed, chains and FILL
    *(f'{{"type": "step_field", "track": 0, "step": 3, "field": "{name}", "value": {value}}}'
      for name, values in {"ratchet": ("0", "9", "2.5", '"3"', "true", "null"),
                           "ramp": ("NaN", "Infinity", "1e400", "1.01", '"up"', "null"),
                           "nudge": ("13", "-13", "0.5", "1%s" % ("0" * 400), "false"),
                           "condition": ('"9:9"', '"2:1"', '"0:1"', '"fill"', '"!"', "5", "[]"),
                           "accent": ("1", '"yes"', "null"),
                           "velocity": ("0.5",), "locks": ("{}",)}.items() for value in values),
    '{"type": "step_field", "track": 0, "step": 64, "field": "ratchet", "value": 2}',
    '{"type": "step_field", "track": 9, "step": 0, "field": "ratchet", "value": 2}',
    '{"type": "lock", "track": 0, "step": 1, "name": "bogus", "value": 1}',
    '{"type": "lock", "track": 0, "step": 1, "name": "oscFreq", "value": 1e9}',
    '{"type": "lock", "track": 0, "step": 1, "name": "oscFreq", "value": NaN}',
    '{"type": "lock", "track": 0, "step": 1, "name": "oscFreq"}',
    '{"type": "lock", "track": 0, "step": 1, "name": "oscWave", "value": 1.5}',
    '{"type": "lock", "track": 0, "step": -1, "name": "oscFreq", "value": 100}',
    *(f'{{"type": "track_field", "track": 0, "field": "{name}", "value": {value}}}'
      for name, values in {"length": ("0", "65", "32.0", "-Infinity", '"16"'),
                           "speed": ("3", "0.3", "NaN", '"1"', "true", "1e400"),
                           "swing": ("50",)}.items() for value in values),
    '{"type": "chain", "slots": "1 2"}', '{"type": "chain", "slots": [99]}',
    '{"type": "chain", "slots": [1.0]}', '{"type": "chain", "slots": [true]}',
    '{"type": "chain", "slots": [-1]}', '{"type": "chain", "slots": [0%s]}' % (", 0" * 64),
    '{"type": "chain", "slots": [[0]]}', '{"type": "chain"}',
    '{"type": "fill", "held": 1}', '{"type": "fill"}', '{"type": "fill", "held": "down"}',
    *(f'{{"type": "fill_every", "bars": {v}}}' for v in ("-1", "65", "2.5", '"4"', "true", "null", "1e400")),
    # the introspection settings, and the groove and kit jobs
    *(f'{{"type": "introspection", "field": "{name}", "value": {value}}}'
      for name, values in {"focus": ("0.049", "5.01", "0", "NaN", "Infinity", '"0.5"', "null", "1e400"),
                           "groove": ("-0.01", "1.01", "NaN", '"half"', "false"),
                           "next_bar": ('"Likely"', '"old"', "0", "null", '["new"]'),
                           "temperature": ("1",)}.items() for value in values),
    '{"type": "introspection", "value": 1}', '{"type": "introspection", "field": "focus"}',
    '{"type": "groove", "track": 5}', '{"type": "groove", "track": "1"}', '{"type": "groove"}',
    '{"type": "kit", "basis": -1}', '{"type": "kit", "basis": 0.5}', '{"type": "kit", "track": 0}',
]


async def test_bad_messages_are_refused_one_by_one_and_other_pages_keep_playing(data, caplog):
    """Each bad message: an error to its page only, nothing applied, and the 1st, 2nd, 4th … a line
    in the log."""
    caplog.set_level(logging.WARNING, logger="gridtonic.web")
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        bad, good = await ws_client(url, n), await ws_client(url, n)
        for ws in (bad, good):
            await next_of(ws, "state")
        before = store.dumps(inst.session)
        for text in BAD:
            await bad.send_message(text)
            err = await next_of(bad, "error")
            assert err["message"], text
        await bad.send_message(b"\x00binary")  # a binary frame: also an error, not a crash
        assert "JSON text" in (await next_of(bad, "error"))["message"]
        assert store.dumps(inst.session) == before  # nothing applied
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("web page message:")]
        counts = [int(line.rsplit("(", 1)[1].split()[0]) for line in lines]  # "… (4 so far)"
        assert counts == [2**i for i in range(len(lines))] and 2 * counts[-1] > len(BAD) - 2, lines
        assert "not JSON" in lines[0]
        assert not (data / "sessions").exists() and not (data.parent / "escape.json").exists()
        # the other page was told nothing about it, and both still play: a step set by the good page
        # reaches both pages' state
        await good.send_message(json.dumps({"type": "key", "x": 4, "y": 2, "down": True}))
        await good.send_message(json.dumps({"type": "key", "x": 4, "y": 2, "down": False}))
        for ws in (good, bad):
            while (await next_of(ws, "state"))["tracks"][2]["pattern"][4] != "x":
                pass
        # a message over the size limit closes only that page's connection
        await bad.send_message("y" * 100_000)
        with pytest.raises(ConnectionClosed):
            while True:
                await bad.get_message()
        await good.send_message(json.dumps({"type": "mute", "track": 3}))
        await until(lambda: inst.session.tracks[3].mute, "the good page's mute")
        n.cancel_scope.cancel()


async def test_the_introspection_settings_reach_the_session_and_every_page(data):
    """One page sets focus, groove and the 17-32 mode; the other page's state shows each, as the
    session holds it."""
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        s = inst.session
        edit, other = await ws_client(url, n), await ws_client(url, n)
        first = await next_of(other, "state")
        assert (first["focus"], first["groove"], first["next_bar"]) == (s.focus, s.groove, s.next_bar)
        assert first["limits"]["focus"] == list(FOCUS_RANGE)
        assert first["limits"]["next_bar"] == ["likely", "new"]
        for name, value in (("focus", 0.05), ("focus", 2.5), ("groove", 0.0), ("groove", 1),
                            ("next_bar", "new")):
            await ask(edit, {"type": "introspection", "field": name, "value": value})
            await state_where(other, lambda st, k=name, v=value: st[k] == v)
            assert getattr(s, name) == value
        assert (s.focus, s.groove, s.next_bar) == (2.5, 1.0, "new")
        n.cancel_scope.cancel()


async def test_the_master_level_reaches_the_session_and_every_page_and_a_bad_one_is_refused(data):
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        edit, other = await ws_client(url, n), await ws_client(url, n)
        assert (await next_of(other, "state"))["master_db"] == 0.0
        await ask(edit, {"type": "master", "db": -12.5})
        await state_where(other, lambda st: st["master_db"] == -12.5)
        for bad in (13, -61, float("nan"), "-6", None):
            await ask(edit, {"type": "master", "db": bad})
            assert "db must be a number" in (await next_of(edit, "error"))["message"]
        assert inst.session.master_db == -12.5
        n.cancel_scope.cancel()


async def test_the_inspectors_edits_reach_the_session_and_every_page(data):
    """One page edits a step of track 2 past step 32 (each per-step field, a lock set and cleared),
    the track's length and speed, a chain, the fill rate and FILL; the other page's state shows each edit; the
    editing page going away lets go of its FILL."""
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        s = inst.session
        s.slots[:2] = [tuple(Steps.of(t) for t in s.tracks)] * 2
        edit, other = await ws_client(url, n), await ws_client(url, n)
        for ws in (edit, other):
            await next_of(ws, "state")
        track, step = s.tracks[1], 40

        def step_field(name: str, value: object) -> dict:
            return {"type": "step_field", "track": 1, "step": step, "field": name, "value": value}

        for name, value in (("ratchet", 3), ("ramp", -0.5), ("nudge", -12), ("condition", "3:4"),
                            ("accent", True)):
            await ask(edit, step_field(name, value))
            await state_where(other, lambda st, k=name, v=value: st["tracks"][1].get(k, [0] * 64)[step] == v)
            assert getattr(track, name)[step] == value
        assert (track.ratchet[step], track.ramp[step], track.nudge[step]) == (3, -0.5, -12)
        # one condition a step: a probability under 1 takes its place, and a condition the probability's
        await ask(edit, {"type": "level", "track": 1, "step": step, "lane": "probability", "value": 0.5})
        st = await state_where(other, lambda st: "condition" not in st["tracks"][1])
        assert st["tracks"][1]["probability"][step] == 0.5 and track.condition[step] is None
        await ask(edit, step_field("condition", "FILL"))
        st = await state_where(other, lambda st: "probability" not in st["tracks"][1])
        assert st["tracks"][1]["condition"][step] == "FILL"
        await ask(edit, step_field("condition", None))
        await state_where(other, lambda st: "condition" not in st["tracks"][1])
        # a lock, then the lock removed
        await ask(edit, {"type": "lock", "track": 1, "step": step, "name": "oscFreq", "value": 440})
        st = await state_where(other, lambda st: "locks" in st["tracks"][1])
        assert st["tracks"][1]["locks"][step] == {"oscFreq": 440} and track.locks[step] == {"oscFreq": 440}
        assert [lock for i, lock in enumerate(st["tracks"][1]["locks"]) if i != step] == [{}] * 63
        await ask(edit, {"type": "lock", "track": 1, "step": step, "name": "oscFreq", "value": None})
        await state_where(other, lambda st: "locks" not in st["tracks"][1])
        assert track.locks[step] == {}
        # the track's length and speed
        await ask(edit, {"type": "track_field", "track": 1, "field": "length", "value": 48})
        await ask(edit, {"type": "track_field", "track": 1, "field": "speed", "value": 1.5})
        await state_where(other, lambda st: [st["tracks"][1][k] for k in ("length", "speed")] == [48, 1.5])
        assert (track.length, track.speed) == (48, 1.5)
        # a chain, then none
        await ask(edit, {"type": "chain", "slots": [1, 0, 1]})
        await state_where(other, lambda st: st["chain"] == [1, 0, 1])
        assert s.chain == [1, 0, 1]
        await ask(edit, {"type": "chain", "slots": []})
        await state_where(other, lambda st: st["chain"] == [])
        # a fill every 4 bars, as a Microtonic preset's FillRate
        await ask(edit, {"type": "fill_every", "bars": 4})
        await state_where(other, lambda st: st["fill_every"] == 4)
        assert s.fill_every == 4
        # FILL held, let go, held again: the page closing lets go of it
        for held in (True, False, True):
            await ask(edit, {"type": "fill", "held": held})
            await state_where(other, lambda st, held=held: st["fill"] is held)
            assert inst.sequencer.fill is held
        await edit.aclose()
        await state_where(other, lambda st: st["fill"] is False)
        assert not inst.sequencer.fill
        n.cancel_scope.cancel()


async def test_every_page_is_sent_each_tracks_own_playhead(data):
    """Tracks 3 and 5 steps long (the second at double speed) while playing: the positions messages
    follow each track's own loop, and they part."""
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        s = inst.session
        s.tracks[0].length, s.tracks[1].length, s.tracks[1].speed = 3, 5, 2.0
        ws = await ws_client(url, n)
        assert (await next_of(ws, "positions"))["positions"] is None  # stopped
        inst.sequencer.start()
        seen = []
        while len(seen) < 12:
            seen.append((await next_of(ws, "positions"))["positions"])
        assert all(len(p) == len(s.tracks) and p[0] < 3 and p[1] < 5 for p in seen[1:]), seen
        assert {p[0] for p in seen[1:]} == {0, 1, 2} and {p[1] for p in seen[1:]} == set(range(5))
        assert any(p[0] != p[1] for p in seen[1:])
        assert all(seen[i] != seen[i + 1] for i in range(len(seen) - 1))  # sent as they move, not polled
        inst.sequencer.stop()
        await state_where(ws, lambda st: not st["playing"])
        while (await next_of(ws, "positions"))["positions"] is not None:
            pass
        n.cancel_scope.cancel()


@pytest.mark.skipif(not (SEEDS / "blue.mtpreset").exists(), reason=f"no seed presets in {SEEDS}")
async def test_preset_morph_tempo_and_named_sessions_from_a_page(data):
    (data / "presets").mkdir()
    (data / "presets" / "Blue.mtpreset").write_bytes((SEEDS / "blue.mtpreset").read_bytes())
    blue = kits.read(SEEDS / "blue.mtpreset")
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        s = inst.session
        ws = await ws_client(url, n)
        assert (await next_of(ws, "state"))["presets"] == ["Blue.mtpreset"]
        kick_a = dict(s.tracks[0].patch_a)
        await ask(ws, {"type": "preset", "name": "Blue.mtpreset", "slot": "b", "track": None})
        await ask(ws, {"type": "morph", "track": 0, "value": 0.5})
        await ask(ws, {"type": "tempo", "bpm": 133})
        await until(lambda: s.tracks[0].morph == 0.5 and s.tempo == 133, "morph and tempo")
        assert s.tracks[0].patch_a == kick_a and s.tracks[0].patch_b == blue.drum(1).patch
        assert inst.clock.tempo == 133
        await ask(ws, {"type": "save", "name": "blue half"})
        await until((data / "sessions" / "blue half.json").exists, "the named session")
        await ask(ws, {"type": "morph", "track": 0, "value": 1.0})
        await ask(ws, {"type": "load", "name": "blue half"})
        state = await next_of(ws, "state")
        while state["tracks"][0]["morph"] != 0.5 or "blue half" not in state["sessions"]:
            state = await next_of(ws, "state")
        assert s.tracks[0].patch_b == blue.drum(1).patch
        n.cancel_scope.cancel()


async def test_http_serves_only_the_page_and_refuses_foreign_pages(data):
    async with rig(data) as (_, url):
        base, token = url.split("/?token=")

        def get(path: str, method: str = "GET") -> tuple[int, bytes, str]:
            req = urllib.request.Request(base + path, method=method)
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status, r.read(), r.headers.get("content-security-policy", "")
            except urllib.error.HTTPError as e:
                return e.code, b"", ""

        for path in (f"/?token={token}", "/app.js", "/style.css"):
            status, body, csp = await trio.to_thread.run_sync(get, path)
            assert status == 200 and "default-src 'self'" in csp
            assert b"http://" not in body and b"https://" not in body  # nothing from a CDN
        assert (await trio.to_thread.run_sync(get, "/../pyproject.toml"))[0] == 404
        assert (await trio.to_thread.run_sync(get, f"/?token={token}", "POST"))[0] == 405
        ws_url = web.socket_url(url)
        with pytest.raises(HandshakeError):
            async with open_websocket_url(ws_url, extra_headers=[("Origin", "http://evil.example")]):
                pass
        async with open_websocket_url(ws_url, extra_headers=[("Origin", base)]) as ws:
            assert (await next_of(ws, "state"))["layout"]["width"] == 16
        # without the token: no page, and no control for any local process, with or without an Origin
        for path in ("/", "/?token=", f"/?token={token[:-1]}", f"/?tok={token}"):
            assert (await trio.to_thread.run_sync(get, path))[0] == 403, path
        ws_base = base.replace("http", "ws") + "/ws"
        for wrong in ("", "?token=", f"?token={token[:-1]}", f"?token={token}x", "?token=" + "A" * 43):
            for headers in ([], [("Origin", base)]):
                with pytest.raises(HandshakeError):
                    async with open_websocket_url(ws_base + wrong, extra_headers=headers):
                        pass


async def test_the_page_is_not_opened_without_a_desktop(monkeypatch):
    opened = []
    monkeypatch.setattr(web, "OPEN_GRACE", 0)
    monkeypatch.setattr(web.webbrowser, "open", opened.append)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(web.sys, "platform", "linux")
    await web.open_unless_hardware("http://127.0.0.1:1/", lambda: False)
    assert opened == []  # no desktop: the URL is logged instead


@pytest.mark.realtime
async def test_a_launchpad_is_hardware_so_the_page_stays_closed(jack_server, data, monkeypatch):
    """``Instrument.hardware()`` itself, as ``run`` hands it to the opener: a Launchpad counts."""
    opened = []
    monkeypatch.setattr(web, "OPEN_GRACE", 0)
    monkeypatch.setattr(web.webbrowser, "open", opened.append)  # the one outside program left out
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(midiports, "WATCH", 0.1)
    inst = Instrument(default_session(), data / "session.json", port=udp.free_port(), jack_server=jack_server,
                      web=web.WebConfig(port=0, open=False), launchpad=LaunchpadConfig())
    async with trio.open_nursery() as n:
        await n.start(inst.run)
        assert not inst.hardware() and inst.status()["launchpad"] == "not found"
        await web.open_unless_hardware(inst.url, inst.hardware)
        assert opened == [inst.url]
        await n.start(EmulatedLaunchpad(X).run)
        await until(inst.hardware, "the Launchpad counted as hardware")
        assert inst.status()["launchpad"] == "Launchpad X"
        await web.open_unless_hardware(inst.url, inst.hardware)
        assert opened == [inst.url]
        n.cancel_scope.cancel()


async def test_the_page_has_a_surface_of_its_own(data):
    """A grid's held modifier never meets a page's press (nor the other way), and plugging an 8×8
    grid resizes the grid's surface, not the page's 16×8."""
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        s = inst.session
        emu = SerialOscEmulator()
        port = await n.start(emu.run)
        small = await emu.plug(EmulatedGrid(id="m64", type="monome 64", width=8, height=8))
        await n.start(host.serve, inst.surface, GridConfig(serialosc_port=port))
        await until(lambda: inst.surface.gestures.layout.width == 8, "the grid's 8×8 layout")
        ws = await ws_client(url, n)
        assert (await next_of(ws, "state"))["layout"]["width"] == 16 and inst.page.gestures.layout.width == 16
        small.press(*L8.keys["mute"], True)  # the grid holds mute…
        await until(lambda: L8.keys["mute"] in inst.surface.gestures.held, "the grid's held mute")
        await ask(ws, {"type": "key", "x": 3, "y": 0, "down": True})  # …the page taps a kick step
        await ask(ws, {"type": "key", "x": 3, "y": 0, "down": False})
        await until(lambda: s.tracks[0].steps[3], "the page's step")
        assert not s.tracks[0].mute
        small.press(*L8.keys["mute"], False)
        await ask(ws, {"type": "key", "x": L16.keys["mute"][0], "y": L16.keys["mute"][1], "down": True})
        await until(lambda: L16.keys["mute"] in inst.page.gestures.held, "the page's held mute")
        small.press(5, 1, True)  # the page holds mute, the grid taps a snare step
        small.press(5, 1, False)
        await until(lambda: s.tracks[1].steps[5], "the grid's step")
        assert not s.tracks[1].mute
        n.cancel_scope.cancel()


def session_file(data: Path, name: str, tempo: float, seed: int, pattern: str) -> Session:
    """A named session with a pattern in slot 2 (slot 1 empty) at master level -3 dB, saved where the
    page loads it from."""
    saved = default_session()
    saved.tracks[0].set_pattern(pattern)
    saved.tempo, saved.seed, saved.master_db = tempo, seed, -3.0
    saved.slots = [None, tuple(Steps.of(t) for t in saved.tracks)]
    (data / "sessions").mkdir(exist_ok=True)
    store.save_text(store.dumps(saved), data / "sessions" / f"{name}.json")
    return saved


async def test_a_session_loads_whole_tracks_slots_seed_and_tempo(data):
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        s = inst.session
        s.tracks[0].probability[3] = 0.25
        ws = await ws_client(url, n)
        state = await next_of(ws, "state")
        assert state["tracks"][0]["probability"][3] == 0.25 and state["seed"] == 0
        sx, sy = L16.keys["shift"]
        for x, y, down in ((sx, sy, True), (*L16.keys["slot_1"], True), (*L16.keys["slot_1"], False),
                           (sx, sy, False)):
            await ask(ws, {"type": "key", "x": x, "y": y, "down": down})  # shift + slot 1 saves
        await until(lambda: inst.page.active_slot == 0, "slot 1 saved and active")
        await state_where(ws, lambda st: st["slots"][0] == "active")
        saved = session_file(data, "other", 99.0, 7, "x---")
        await ask(ws, {"type": "load", "name": "other"})
        await until(lambda: s.seed == 7, "the loaded session")
        assert s.slots[:2] == saved.slots and s.tempo == 99 and inst.clock.tempo == 99
        assert s.master_db == saved.master_db == -3.0
        assert s.tracks[0].pattern() == saved.tracks[0].pattern() and inst.page.active_slot is None
        state = await state_where(ws, lambda st: st["seed"] == 7)
        assert state["slots"][:2] == ["empty", "filled"] and "probability" not in state["tracks"][0]
        n.cancel_scope.cancel()


async def test_a_session_load_while_following_midi_keeps_the_masters_tempo(data):
    async with rig(data, midi=MidiConfig(follow=True)) as (inst, url), trio.open_nursery() as n:
        s = inst.session
        assert isinstance(inst.clock, MidiClock)
        ws = await ws_client(url, n)
        await next_of(ws, "state")
        saved = session_file(data, "other", 99.0, 7, "x---")
        await ask(ws, {"type": "load", "name": "other"})
        note = await next_of(ws, "note")  # a note, not an error: the rest of the load took effect
        assert "MIDI clock" in note["message"]
        assert s.seed == 7 and s.slots[:2] == saved.slots
        assert s.tracks[0].pattern() == saved.tracks[0].pattern()
        assert s.tempo == 120 and inst.clock.tempo == 120
        n.cancel_scope.cancel()


async def test_keyboard_shortcuts_and_a_second_page_in_chromium(browser, data):
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        s = inst.session
        await in_page(lambda: browser.get(url))
        await until(lambda: shows(browser, inst), "the first frame")
        # hold M on the keyboard and click the snare row: muted, like holding MU on the grid
        def mute_snare() -> None:
            ActionChains(browser).key_down("m").click(key(browser, 3, 1)).key_up("m").perform()

        await in_page(mute_snare)
        await until(lambda: s.tracks[1].mute, "the snare muted from the keyboard")
        await in_page(lambda: ActionChains(browser).send_keys(Keys.SPACE).perform())
        await until(lambda: inst.sequencer.playing, "space starts the transport")
        await in_page(lambda: ActionChains(browser).send_keys(Keys.SPACE).perform())
        await until(lambda: not inst.sequencer.playing, "space stops it")
        # another page sets a step: this page's grid and screen follow
        other = await ws_client(url, n)
        await ask(other, {"type": "key", "x": 9, "y": 2, "down": True})
        await ask(other, {"type": "key", "x": 9, "y": 2, "down": False})
        await until(lambda: s.tracks[2].steps[9], "the other page's step")
        await until(lambda: shows(browser, inst), "the step on this page's grid")
        await until(lambda: shows_pattern(browser, s, 2), "and on its screen")
        assert not inst.page.gestures.held
        n.cancel_scope.cancel()


async def test_run_serves_the_page_beside_the_engine(jack_server, data, heard, caplog):
    """gridtonic run's Instrument: a page edit reaches scsynth on the next kick; its own prior, loaded
    once, is every surface's; hypercorn does not repeat the page's URL line."""
    prior = data / "my prior.sqlite"
    prior.write_bytes(sampler.default_path().read_bytes())
    inst = Instrument(default_session(), data / "session.json", port=udp.free_port(), jack_server=jack_server,
                      web=web.WebConfig(port=0, open=False), prior=prior)
    async with trio.open_nursery() as n:
        await n.start(inst.run)
        inst.server.send(osc.message("/dumpOSC", 1))
        assert inst.url and inst.grid_host is None and not inst.hardware()
        async with open_websocket_url(web.socket_url(inst.url)) as ws:
            state = await next_of(ws, "state")
            assert state["status"]["grid"] == "off" and state["status"]["clock"] == "internal"
            assert state["status"]["launchpad"] == "off" and state["playing"]
            await ask(ws, {"type": "param", "track": 0, "slot": "a", "name": "oscFreq", "value": 80})
            await until(lambda: heard("oscFreq", 80), "scsynth given a kick at 80 Hz")
        await until(lambda: inst.sampler is not None, "the prior loaded")
        assert all(surface.sampler is inst.sampler for surface in inst.surfaces())
        n.cancel_scope.cancel()
    urls = [r.getMessage() for r in caplog.records if inst.url.split("/?")[0] in r.getMessage()]
    assert len(urls) == 1, urls  # gridtonic's own line only


async def test_the_token_is_kept_in_the_data_dir_so_a_bookmark_keeps_working(data):
    async with rig(data) as (_, url):
        token = (data / access.TOKEN_FILE).read_text().strip()
        assert url.endswith(f"/?token={token}") and len(token) >= 40
        assert (data / access.TOKEN_FILE).stat().st_mode & 0o777 == 0o600
    async with rig(data) as (_, again), trio.open_nursery() as n:  # a restart: the same address
        assert again.split("?")[1] == url.split("?")[1]
        await next_of(await ws_client(again, n), "state")
        n.cancel_scope.cancel()
    (data / access.TOKEN_FILE).chmod(0o644)  # others could read it: no secret, a new one
    fresh = access.token()
    assert fresh != token and (data / access.TOKEN_FILE).stat().st_mode & 0o777 == 0o600
    (data / access.TOKEN_FILE).write_bytes(b"\xff not a token")
    assert access.token() not in (fresh, "")


async def test_a_page_over_the_rate_is_slowed_not_closed(data, caplog):
    """1,000 messages at once: the burst and the rate's share are handled (each refused one answered),
    the rest dropped with one error to that page and a sparse log line; the page plays on."""
    caplog.set_level(logging.WARNING, logger="gridtonic.web")
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        ws = await ws_client(url, n)
        await next_of(ws, "state")
        for _ in range(1000):
            await ws.send_message('{"type": "nope"}')
        await trio.sleep(web.BURST / web.RATE)  # the bucket fills again
        await ask(ws, {"type": "end"})
        answered = told = 0
        while "'end'" not in (message := (await next_of(ws, "error"))["message"]):
            answered += "'nope'" in message
            told += "messages a second" in message
        assert web.BURST <= answered < 1000 and told == 1
        lines = [r for r in caplog.records if "over 100 a second" in r.getMessage()]
        dropped = 1000 - answered
        assert len(lines) == dropped.bit_length()  # the 1st, 2nd, 4th … drop
        await ask(ws, {"type": "key", "x": 6, "y": 1, "down": True})
        await ask(ws, {"type": "key", "x": 6, "y": 1, "down": False})
        await until(lambda: inst.session.tracks[1].steps[6], "the page's step after the flood")
        n.cancel_scope.cancel()


async def test_open_pages_are_bounded(data):
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        pages = [await ws_client(url, n) for _ in range(web.MAX_PAGES)]
        for ws in pages:
            await next_of(ws, "state")
        async with open_websocket_url(web.socket_url(url)) as extra:
            assert "pages are open already" in (await next_of(extra, "error"))["message"]
            with pytest.raises(ConnectionClosed):
                await extra.get_message()
        await pages[0].aclose()
        async with open_websocket_url(web.socket_url(url)) as again:  # one closed: room again
            await next_of(again, "state")
            await ask(again, {"type": "mute", "track": 2})
            await until(lambda: inst.session.tracks[2].mute, "the new page's mute")
        n.cancel_scope.cancel()


async def test_a_handler_bug_costs_the_message_not_the_page(data, caplog, monkeypatch):
    """A message the code raises on (a stand-in bug in the session edit) is answered with an error
    and one log line naming where; the connection and the next message are fine."""
    def broken(session, cmd):
        if isinstance(cmd, protocol.SetMorph):
            raise ZeroDivisionError("a bug")
        return real(session, cmd)

    real = protocol.apply
    monkeypatch.setattr(protocol, "apply", broken)
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        ws = await ws_client(url, n)
        await next_of(ws, "state")
        await ask(ws, {"type": "morph", "track": 0, "value": 0.5})
        assert "ZeroDivisionError: a bug" in (await next_of(ws, "error"))["message"]
        await ask(ws, {"type": "mute", "track": 0})
        await until(lambda: inst.session.tracks[0].mute, "the next message applied")
        lines = [r.getMessage() for r in caplog.records if "ZeroDivisionError" in r.getMessage()]
        assert len(lines) == 1 and "test_web.py" in lines[0], lines
        n.cancel_scope.cancel()


async def test_frames_go_uncompressed_though_a_browser_offers_deflate(data):
    """A handshake offering permessage-deflate (Chromium's every time) is answered without it:
    compressing each message cost the trio thread more than the loopback it saved. The page's
    messages still arrive whole, as plain text frames."""
    async with rig(data) as (inst, url):
        host, port = url.split("/")[2].split(":")
        stream = await trio.open_tcp_stream(host, int(port))
        path = web.socket_url(url).split(port, 1)[1]
        await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
                              .encode())
        reply = b""
        with trio.fail_after(10):  # a hang guard, not a timing assertion
            while b"\r\n\r\n" not in reply:
                reply += await stream.receive_some(4096)
        head, _, rest = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        assert b"sec-websocket-extensions" not in head.lower()
        with trio.fail_after(10):
            while len(rest) < 2:
                rest += await stream.receive_some(4096)
        assert rest[0] == 0x81  # FIN, a text frame, RSV1 (compressed) clear
        await stream.aclose()
