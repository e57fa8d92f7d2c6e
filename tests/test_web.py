"""The browser page end to end: gridtonic's real server, a real headless Chromium (Selenium with the
system chromedriver), the real surface, sequencer, engine (bundles captured instead of sent to
scsynth) and the shipped prior. Raw WebSocket clients check validation and that pages stay in sync."""

from __future__ import annotations

import inspect
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from enginekit import SHARED
from pythonosc.osc_bundle import OscBundle
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url

from gridtonic import layout, presets, sampler, store, udp, web
from gridtonic.app import Instrument
from gridtonic.session import Session, default_session

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")
L16 = layout.builtin(16, 8)
SEEDS = SHARED / "seed-presets"


class Capture:
    """Stands in for scsynth: keeps every bundle the engine sends."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []

    def send(self, packet: bytes) -> None:
        self.packets.append(packet)

    def voices(self) -> list[dict[str, object]]:
        """The name/value arguments of each /s_new sent so far."""
        out = []
        for p in self.packets:
            for m in OscBundle(p):
                if m.address == "/s_new":
                    args = m.params[4:]
                    out.append(dict(zip(args[::2], args[1::2], strict=True)))
        return out


def chrome(user_data: Path) -> webdriver.Chrome:
    """Headless Chromium as root, never downloading anything (flags from shared/docs/environment.md)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data}")
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium or chromedriver missing: apt-get install chromium chromium-driver")
    driver = chrome(tmp_path_factory.mktemp("chromium"))
    yield driver
    driver.quit()


@asynccontextmanager
async def rig(data: Path, prior: sampler.Sampler | None = None):
    """An instrument with empty patterns, its page served on a free port: (instrument, url, capture)."""
    session = default_session()
    for t in session.tracks:
        t.set_pattern("-")
    inst = Instrument(session, data / "session.json")
    capture = Capture()
    inst.engine.server = capture
    inst.surface.sampler = prior
    async with trio.open_nursery() as n:
        await n.start(inst.surface.run)
        await n.start(inst.sequencer.run)
        url = await n.start(inst.web_page().run, web.WebConfig(port=0, open=False))
        yield inst, url, capture
        n.cancel_scope.cancel()


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GRIDTONIC_DATA", str(tmp_path))
    return tmp_path


async def until(condition: Callable[[], object], what: str) -> None:
    """Wait for ``condition()`` (awaited when it returns an awaitable); a 10 s hang guard, not a
    timing assertion."""
    with trio.move_on_after(10):
        while True:
            ok = condition()
            if inspect.isawaitable(ok):
                ok = await ok
            if ok:
                return
            await trio.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


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
    return "".join(f"{v:x}" for v in inst.surface.frame(trio.current_time()))


async def shows(driver: webdriver.Chrome, inst: Instrument) -> bool:
    """The page's virtual grid lights exactly the surface's current frame."""
    return await in_page(lambda: page_levels(driver)) == frame_hex(inst)


async def shows_pattern(driver: webdriver.Chrome, session: Session, track: int) -> bool:
    return await in_page(lambda: page_pattern(driver, track)) == session.tracks[track].pattern()


async def test_paint_introspect_edit_and_reload_in_chromium(browser, data):
    async with rig(data, sampler.load_file()) as (inst, url, capture):
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
        assert not inst.surface.gestures.held and inst.surface.gestures.basis is None

        # a kit parameter of the selected track (the kick): EQ gain to its maximum, from the keyboard
        def eq_max() -> None:
            slider = browser.find_element(By.CSS_SELECTOR, '#params [data-name="eQGain"] input')
            slider.click()
            slider.send_keys(Keys.END)

        await in_page(eq_max)
        await until(lambda: s.tracks[0].patch_a["eQGain"] == 40.0, "eQGain at +40 dB")
        inst.sequencer.start()  # the engine's next kick carries it
        await until(lambda: any(v.get("eQGain") == 40.0 for v in capture.voices()), "a kick with +40 dB EQ")
        inst.sequencer.stop()
        shown = browser.find_element(By.CSS_SELECTOR, '#params [data-name="eQGain"] output').text
        assert shown == "40.0 dB"

        # reload: the page shows the same state
        await in_page(browser.refresh)
        await until(lambda: shows(browser, inst), "the frame after reload")
        assert page_pattern(browser, 0) == s.tracks[0].pattern()
        assert page_pattern(browser, 1) == s.tracks[1].pattern()
        row = browser.find_element(By.CSS_SELECTOR, '#params [data-name="eQGain"]')
        assert float(row.get_attribute("data-value")) == 40.0

        # save from the page: the running session's file holds the painted kick and the EQ
        await in_page(lambda: browser.find_element(By.ID, "save").click())
        path = data / "session.json"
        await until(path.exists, "the saved session file")
        saved = store.load(path)
        assert saved.tracks[0].pattern() == s.tracks[0].pattern()
        assert saved.tracks[0].patch_a["eQGain"] == 40.0


async def ws_client(url: str, nursery: trio.Nursery):
    """A raw WebSocket page held open by ``nursery``."""
    return await nursery.start(_hold_ws, url.replace("http://", "ws://") + "ws")


async def _hold_ws(url, task_status):
    async with open_websocket_url(url) as ws:
        task_status.started(ws)
        await trio.sleep_forever()


async def next_of(ws, kind: str) -> dict:
    """The next message of type ``kind`` (others skipped)."""
    while True:
        msg = json.loads(await ws.get_message())
        if msg["type"] == kind:
            return msg


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
]


async def test_bad_messages_are_refused_one_by_one_and_other_pages_keep_playing(data):
    async with rig(data) as (inst, url, _), trio.open_nursery() as n:
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


async def ask(ws, msg: dict) -> None:
    await ws.send_message(json.dumps(msg))


@pytest.mark.skipif(not (SEEDS / "blue.mtpreset").exists(), reason=f"no seed presets in {SEEDS}")
async def test_preset_morph_tempo_and_named_sessions_from_a_page(data):
    (data / "presets").mkdir()
    (data / "presets" / "Blue.mtpreset").write_bytes((SEEDS / "blue.mtpreset").read_bytes())
    blue = presets.read(SEEDS / "blue.mtpreset")
    async with rig(data) as (inst, url, _), trio.open_nursery() as n:
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
    async with rig(data) as (_, url, _):
        def get(path: str, method: str = "GET") -> tuple[int, bytes, str]:
            req = urllib.request.Request(url.rstrip("/") + path, method=method)
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status, r.read(), r.headers.get("content-security-policy", "")
            except urllib.error.HTTPError as e:
                return e.code, b"", ""

        for path in ("/", "/app.js", "/style.css"):
            status, body, csp = await trio.to_thread.run_sync(get, path)
            assert status == 200 and "default-src 'self'" in csp
            assert b"http://" not in body and b"https://" not in body  # nothing from a CDN
        assert (await trio.to_thread.run_sync(get, "/../pyproject.toml"))[0] == 404
        assert (await trio.to_thread.run_sync(get, "/", "POST"))[0] == 405
        ws_url = url.replace("http://", "ws://") + "ws"
        with pytest.raises(HandshakeError):
            async with open_websocket_url(ws_url, extra_headers=[("Origin", "http://evil.example")]):
                pass
        async with open_websocket_url(ws_url, extra_headers=[("Origin", url.rstrip("/"))]) as ws:
            assert (await next_of(ws, "state"))["layout"]["width"] == 16


async def test_the_page_opens_only_without_a_grid_and_with_a_desktop(monkeypatch):
    opened = []
    monkeypatch.setattr(web, "OPEN_GRACE", 0)
    monkeypatch.setattr(web.webbrowser, "open", opened.append)
    monkeypatch.setenv("DISPLAY", ":0")
    await web.open_unless_hardware("http://127.0.0.1:1/", lambda: True)
    assert opened == []
    await web.open_unless_hardware("http://127.0.0.1:1/", lambda: False)
    assert opened == ["http://127.0.0.1:1/"]
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(web.sys, "platform", "linux")
    await web.open_unless_hardware("http://127.0.0.1:1/", lambda: False)
    assert len(opened) == 1


async def test_keyboard_shortcuts_and_a_second_page_in_chromium(browser, data):
    async with rig(data) as (inst, url, _), trio.open_nursery() as n:
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
        assert not inst.surface.gestures.held
        n.cancel_scope.cancel()


async def test_run_serves_the_page_beside_the_engine(jack_server, data):
    inst = Instrument(default_session(), data / "session.json", port=udp.free_port(), jack_server=jack_server,
                      web=web.WebConfig(port=0, open=False))
    async with trio.open_nursery() as n:
        await n.start(inst.run)
        assert inst.url and inst.grid_host is None and not inst.hardware()
        async with open_websocket_url(inst.url.replace("http://", "ws://") + "ws") as ws:
            state = await next_of(ws, "state")
            assert state["status"]["grid"] == "off" and state["status"]["clock"] == "internal"
            assert state["playing"]
            await ask(ws, {"type": "param", "track": 0, "slot": "a", "name": "oscFreq", "value": 80})
            await until(lambda: inst.session.tracks[0].patch_a["oscFreq"] == 80, "the edit")
        n.cancel_scope.cancel()
