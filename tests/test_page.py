"""The page as a musician sees it, in a real headless Chromium against gridtonic's running page
server: the kit panel's controls never overlap and nothing scrolls sideways at 800, 1280 and 1920 px,
every key of every shipped layout is labelled, the drawn envelope is the one a render measures, the
pattern lanes edit, and the page's small promises (walk-through, save note, tempo, presets hint)."""

from __future__ import annotations

import numpy as np
import pytest
import trio
from enginekit import SR, hit
from selenium.webdriver.common.by import By
from test_web import browser, data, in_page, key  # noqa: F401 (fixtures)
from webrig import ask, next_of, rig, until, ws_client

from gridtonic.core import layout, params
from gridtonic.core.params import defaults
from gridtonic.core.session import Track
from gridtonic.web import protocol

WIDTHS = (800, 1280, 1920)
MIN_SLIDER = 80  # px: a slider narrower than this cannot be set by hand
SHAPE_BOUND = 0.03  # RMS difference of drawn and rendered tone envelopes (peak 1); measured ~0.005

# every box in the kit panel a person reads or handles, with its rectangle and whether its text fits
BOXES_JS = """
const sel = "#params .label, #params input, #params output, #params .seg button, #params legend, #envelope";
return [...document.querySelectorAll(sel)].filter((e) => e.getClientRects().length).map((e) => {
  const r = e.getBoundingClientRect();
  const what = (e.closest("[data-name]")?.dataset.name || e.id || "") + " " + e.tagName + " " + e.textContent;
  const fits = e.tagName === "INPUT" || e.id === "envelope" || e.scrollWidth <= e.clientWidth + 1;
  return [what, r.left, r.top, r.right, r.bottom, fits];
});
"""
SCROLL_JS = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


def seen(fn):
    """A condition for ``until``: ``fn`` (Selenium calls) run off the trio thread."""
    return lambda: in_page(fn)


def texts(driver, css: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def by_id(driver, name: str):
    return driver.find_element(By.ID, name)


def overlaps(boxes: list) -> list[tuple[str, str]]:
    """Pairs of boxes that share more than half a pixel each way."""
    out = []
    for i, (a, l1, t1, r1, b1, _) in enumerate(boxes):
        for b, l2, t2, r2, b2, _ in boxes[i + 1:]:
            if min(r1, r2) - max(l1, l2) > 0.5 and min(b1, b2) - max(t1, t2) > 0.5:
                out.append((a, b))
    return out


async def test_the_kit_panel_never_overlaps_nor_scrolls_sideways(browser, data):  # noqa: F811
    async with rig(data) as (inst, url):
        inst.page.gestures.selected = 1  # the snare: every group filled in
        for width in WIDTHS:
            await in_page(lambda w=width: browser.set_window_size(w, 1000))
            await in_page(lambda: browser.get(url))
            await until(seen(lambda: browser.execute_script(
                "return document.querySelectorAll('#params .param').length") == 22), "the kit panel")
            boxes = await in_page(lambda: browser.execute_script(BOXES_JS))
            assert len(boxes) > 60
            assert overlaps(boxes) == [], width
            assert [b[0] for b in boxes if not b[5]] == [], f"text cut off at {width} px"
            sliders = [b[3] - b[1] for b in boxes if " INPUT " in b[0]]
            assert len(sliders) == len(params.PARAMS) - len(params.DISCRETE)
            assert min(sliders) >= MIN_SLIDER, f"sliders squeezed at {width} px"
            scroll, client = await in_page(lambda: browser.execute_script(SCROLL_JS))
            assert scroll <= client, f"horizontal scroll at {width} px"
            groups = await in_page(lambda: texts(browser, "#params legend"))
            assert groups == ["Oscillator", "Noise", "Mix · Distortion · EQ · Level", "Velocity"]
            segments = await in_page(lambda: texts(browser, '[data-name="oscWave"] .seg button'))
            assert segments == ["Sine", "Triangle", "Saw"]


@pytest.mark.parametrize("path", sorted(layout.LAYOUT_DIR.glob("*.toml")), ids=lambda p: p.stem)
async def test_every_key_of_every_layout_is_labelled(path, browser, data):  # noqa: F811
    lay = layout.load(path)
    async with rig(data) as (inst, url):
        inst.page.use_layout(lay)
        await in_page(lambda: browser.get(url))
        await until(seen(lambda: by_id(browser, "layout-name").get_attribute(
            "textContent") == lay.name), "the layout")
        for name, (x, y) in lay.keys.items():
            title = await in_page(lambda x=x, y=y: key(browser, x, y).get_attribute("title"))
            assert title and title == protocol.layout_view(lay)["labels"][name], name
            assert name not in title or name in ("play", "shift", "mute", "introspect", "clear", "generate", "fill")
        legend = await in_page(lambda: [e.get_attribute("data-key")
                                        for e in browser.find_elements(By.CSS_SELECTOR, "#legend dd")])
        assert sorted(legend) == sorted(lay.keys)
        rows = await in_page(lambda: texts(browser, "#row-labels span"))
        for track, y in enumerate(lay.track_rows[: len(inst.session.tracks)]):
            assert rows[y] == f"{track + 1} {inst.session.tracks[track].name}"


POINTS_JS = """
const ys = (id) => document.getElementById(id).getAttribute("points").trim().split(" ")
  .map((p) => 1 - Number(p.split(",")[1]) / 100);
return [ys("env-tone"), ys("env-noise"), document.getElementById("length").textContent];
"""


@pytest.mark.nrt
async def test_the_drawn_envelope_is_the_renders(browser, data, engine_defs, tmp_path):  # noqa: F811
    """The polyline the page drew for the selected patch, against the RMS envelope (5 ms frames,
    scaled by least squares) of a scsynth -N render of it; it follows a parameter as it moves."""
    patch = defaults() | {"oscFreq": 300.0, "oscAtk": 40.0, "oscDcy": 300.0, "mix": 100.0, "nEnvDcy": 100.0}
    async with rig(data) as (inst, url), trio.open_nursery() as n:
        inst.session.tracks[0].patch_a = dict(patch)
        inst.page.gestures.selected = 0
        await in_page(lambda: browser.get(url))
        await until(seen(lambda: browser.execute_script(POINTS_JS)[2] != ""), "the picture")
        tone, noise, shown = await in_page(lambda: browser.execute_script(POINTS_JS))
        length = (40 + 300 + 300 * 0.05) / 1000
        assert shown == f"{round(length * 1000)} ms" and max(noise) < 0.05
        x = hit(engine_defs, tmp_path, patch, length + 0.05).mean(axis=1)
        frames = int(length * SR) // 240
        got = np.sqrt((x[: frames * 240] ** 2).reshape(frames, -1).mean(axis=1))
        centres = (np.arange(frames) + 0.5) * 240 / SR
        drawn = np.interp(centres, np.linspace(0, length, len(tone)), tone)
        got *= (got @ drawn) / (got @ got)
        assert float(np.sqrt(np.mean((got - drawn) ** 2))) < SHAPE_BOUND
        # a longer decay from another page: this page's picture follows
        ws = await ws_client(url, n)
        await next_of(ws, "state")
        await ask(ws, {"type": "param", "track": 0, "slot": "a", "name": "oscDcy", "value": 900})
        await until(seen(lambda: browser.execute_script(POINTS_JS)[2] == "985 ms"), "the new length")
        n.cancel_scope.cancel()


async def test_lanes_edit_and_the_small_promises_are_kept(browser, data):  # noqa: F811
    async with rig(data) as (inst, url):
        s = inst.session
        await in_page(lambda: browser.get(url))
        await until(seen(lambda: by_id(browser, "walkthrough").is_displayed()),
                    "the first-run walk-through")
        # a step of the snare's lane, clicked: set; again: clear
        def click_step(track: int, step: int) -> None:
            row = browser.find_element(By.CSS_SELECTOR, f'#patterns [data-track="{track}"]')
            row.find_element(By.CSS_SELECTOR, f".step:nth-child({step + 1})").click()

        await in_page(lambda: click_step(1, 20))
        await until(lambda: s.tracks[1].steps[20], "the lane's step set")
        await until(seen(lambda: browser.find_element(
            By.CSS_SELECTOR, '#patterns [data-track="1"]').get_attribute("data-pattern")[20] == "x"), "drawn")
        await in_page(lambda: click_step(1, 20))
        await until(lambda: not s.tracks[1].steps[20], "and cleared")
        # a tempo the instrument refuses: the box shows the tempo playing again
        def refused_tempo() -> None:
            box = by_id(browser, "tempo")
            box.clear()
            box.send_keys("999\n")

        await in_page(refused_tempo)
        await until(seen(lambda: by_id(browser, "error").is_displayed()), "the error")
        assert await in_page(lambda: by_id(browser, "tempo").get_attribute("value")) == "120"
        assert s.tempo == 120
        # no presets: the menu says where they go, and the load buttons are off
        hint = await in_page(lambda: by_id(browser, "preset-hint"))
        assert hint.is_displayed() and str(data / "presets") in hint.text
        load_a = await in_page(lambda: browser.find_element(By.CSS_SELECTOR, "[data-preset=a]"))
        assert not load_a.is_enabled()
        # save: a note with the path
        await in_page(lambda: by_id(browser, "save").click())
        await until(seen(lambda: "saved " in by_id(browser, "error").text), "the note")
        assert str(data / "session.json") in await in_page(lambda: by_id(browser, "error").text)
        # dismissed once: gone after a reload too
        await in_page(lambda: by_id(browser, "walkthrough-done").click())
        await in_page(browser.refresh)
        await until(seen(lambda: by_id(browser, "conn").text == "connected"), "reloaded")
        await trio.sleep(0.3)
        assert not await in_page(lambda: by_id(browser, "walkthrough").is_displayed())


async def test_track_8_is_reachable_from_the_page(browser, data):  # noqa: F811
    """The 16x8 layout's virtual grid has rows for 7 tracks; the lanes reach the 8th (issue 18)."""
    async with rig(data) as (inst, url):
        s = inst.session
        while len(s.tracks) < 8:
            s.tracks.append(Track(f"perc {len(s.tracks) + 1}"))
        assert len(layout.builtin(16, 8).track_rows) < 8
        await in_page(lambda: browser.get(url))
        lane = '#patterns [data-track="7"]'
        await until(seen(lambda: len(texts(browser, "#patterns .track")) == 8), "8 lanes")
        await in_page(lambda: browser.find_element(By.CSS_SELECTOR, f"{lane} .step:nth-child(3)").click())
        await until(lambda: s.tracks[7].steps[2], "track 8's step 3 set from its lane")
        await in_page(lambda: browser.find_element(By.CSS_SELECTOR, f"{lane} .name").click())
        await until(lambda: inst.page.gestures.selected == 7, "track 8 selected")
        await until(seen(lambda: by_id(browser, "track-name").get_attribute("textContent") == "8 perc 8"),
                    "its kit shown")
