"""Browser page latency in headless Chromium against gridtonic's real Instrument (page server,
sequencer, engine and a realtime scsynth on JACK; starts its own jackd, dummy backend, when none runs).

click → LED: the page's own pointer handler gets a pointerdown on a key (dispatched in the page, so
WebDriver's HTTP round trip is not counted) until the frame lighting that key has been drawn; while
the default kit plays (sound, so meters and playheads move), then with its patterns emptied.
click → engine hit: a click on a step of the kick while the transport plays at 120 BPM, until the
``/s_new`` bundle carrying that hit leaves gridtonic for scsynth (the Engine's sender is wrapped
here). The step clicked is the first one whose scheduling pass (its time minus the lookahead) is at
least ``MARGIN`` after the click is sent, so this figure is mostly the wait for the step's turn; it
is split into click → edit applied on the server and step due → bundle sent (the sequencer's pass).
A click applied after its step was due is counted as missed. Both clocks are the machine's wall
clock (the page's performance.timeOrigin + now, the server's time.time).
page load: navigation start → load event, and → the first LED frame drawn.

    python bench/web_latency.py [--clicks 300] [--hits 100] [--loads 10]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import trio

from gridtonic import analysis
from gridtonic.app import Instrument
from gridtonic.core.sequencer import LOOKAHEAD, STEP_BEATS, step_beat
from gridtonic.core.session import default_session
from gridtonic.grid import udp
from gridtonic.sound.engine import Sender
from gridtonic.web import server as web

MARGIN = 0.03  # s from sending a click to its step's scheduling pass: WebDriver's round trip and more
PAGE = 16  # steps a page of the 16×8 layout shows

CLICKS_JS = """
const [n, done] = [arguments[0], arguments[arguments.length - 1]];
const out = [];
const grid = document.getElementById("grid");
const frame = () => new Promise((ok) => { const f = window.gridtonic.frames;
  const poll = () => window.gridtonic.frames > f ? ok() : setTimeout(poll, 0); poll(); });
const pause = (ms) => new Promise((ok) => setTimeout(ok, ms));
(async () => {
  for (let i = 0; i < n; i++) {
    const x = i % 16, y = 5;  // a row with no track: only the held key lights
    const el = grid.querySelector(`[data-xy="${x},${y}"]`);
    const r = el.getBoundingClientRect();
    const at = {clientX: r.x + r.width / 2, clientY: r.y + r.height / 2, pointerId: 7, bubbles: true};
    await pause(50);  // ~18 keys a second: with the playhead's frames under the 60 a second cap
                      // (core.surface; a faster storm would time the cap, not the page)
    const idx = y * 16 + x;
    const t0 = performance.now(), epoch = performance.timeOrigin + t0;
    el.dispatchEvent(new PointerEvent("pointerdown", at));
    while (window.gridtonic.levels[idx] !== "f") await frame();
    out.push([window.gridtonic.lastFrameAt - t0, epoch]);
    document.dispatchEvent(new PointerEvent("pointerup", at));
    while (window.gridtonic.levels[idx] === "f") await frame();
  }
  done(out);
})();
"""

LOAD_JS = """
const done = arguments[arguments.length - 1];
const poll = () => {
  const nav = performance.getEntriesByType("navigation")[0];
  if (window.gridtonic && window.gridtonic.frames > 0 && nav && nav.loadEventEnd > 0)
    done([nav.loadEventEnd, window.gridtonic.firstFrameAt]);
  else setTimeout(poll, 5);
};
poll();
"""


CLICK_JS = """
const [x, y] = arguments;
const el = document.getElementById("grid").querySelector(`[data-xy="${x},${y}"]`);
const r = el.getBoundingClientRect();
const at = {clientX: r.x + r.width / 2, clientY: r.y + r.height / 2, pointerId: 9, bubbles: true};
const epoch = performance.timeOrigin + performance.now();
el.dispatchEvent(new PointerEvent("pointerdown", at));
document.dispatchEvent(new PointerEvent("pointerup", at));
return epoch;
"""


class Tap:
    """The Engine's sender, wrapped: notes when each ``/s_new`` bundle leaves, then sends it on."""

    def __init__(self, server: Sender):
        self.server = server
        self.sent: list[float] = []

    def send(self, packet: bytes) -> None:
        if b"/s_new" in packet:
            self.sent.append(time.time())
        self.server.send(packet)


def stats(label: str, ms: list[float]) -> None:
    print(f"{label}: {analysis.latencies(ms)}")


async def engine_hits(inst: Instrument, driver, hits: int) -> None:
    """Click kick steps as they come up; time each click to its bundle leaving."""
    tap = Tap(inst.engine.server)
    inst.engine.server = tap
    applied: list[float] = []
    key = inst.page.key

    def timed_key(x: int, y: int, down: bool) -> None:
        key(x, y, down)
        if down and y == 0:
            applied.append(time.time())

    inst.page.key = timed_key
    clock, kick = inst.clock, inst.session.tracks[0]
    total, transit, late, missed = [], [], [], 0
    offset = time.time() - trio.current_time()
    for _ in range(hits):
        await trio.sleep(random.uniform(0.0, 0.1))  # any phase of the step grid
        now = trio.current_time()
        n = int(clock.beat_at(now + LOOKAHEAD + MARGIN) / STEP_BEATS) + 1
        while clock.time_at(step_beat(n, kick.swing)) - LOOKAHEAD < now + MARGIN:
            n += 1
        pos = n % len(kick.steps)
        inst.page.gestures.page = pos // PAGE  # show the step's page (navigation, not timed)
        due = clock.time_at(step_beat(n, kick.swing)) - LOOKAHEAD + offset
        before = len(tap.sent)
        clicked = await trio.to_thread.run_sync(driver.execute_script, CLICK_JS, pos % PAGE, 0) / 1000
        with trio.move_on_after(3):
            while len(tap.sent) == before:
                await trio.sleep(0.001)
        if len(tap.sent) == before or not kick.steps[pos] or applied[-1] > due:
            missed += 1
        else:
            total.append((tap.sent[before] - clicked) * 1000)
            transit.append((applied[-1] - clicked) * 1000)
            late.append((tap.sent[before] - due) * 1000)
        kick.steps[pos] = False  # cleared for the next click (not timed)
        inst.page.changed()
    inst.page.key = key
    stats("click → /s_new of that hit leaving gridtonic (mostly the wait for the step's turn)", total)
    stats("  click → edit applied on the server", transit)
    stats("  step due (its time − lookahead) → /s_new sent", late)
    print(f"  missed (applied after the step was due): {missed} of {hits}")


async def bench(clicks: int, hits: int, loads: int, data: Path) -> None:
    driver = await trio.to_thread.run_sync(web.headless_chromium, data / "chromium")
    session = default_session()
    inst = Instrument(session, None, port=udp.free_port(), web=web.WebConfig(port=0, open=False))
    try:
        async with trio.open_nursery() as n:
            await n.start(inst.run)  # the transport plays at 120 BPM
            url = inst.url
            driver.set_script_timeout(600)
            await trio.to_thread.run_sync(driver.get, url)
            await trio.sleep(1)  # the meters moving
            out = await trio.to_thread.run_sync(driver.execute_async_script, CLICKS_JS, clicks)
            stats("click → LED drawn, the default kit playing", [d for d, _ in out])
            for t in session.tracks:
                t.set_pattern("-")
            inst.page.changed()
            await trio.sleep(1)  # the meters at rest
            out = await trio.to_thread.run_sync(driver.execute_async_script, CLICKS_JS, clicks)
            stats("click → LED drawn, the transport playing empty patterns", [d for d, _ in out])
            await engine_hits(inst, driver, hits)
            inst.sequencer.stop()
            load, first = [], []
            for _ in range(loads):
                await trio.to_thread.run_sync(driver.get, url)
                end, frame = await trio.to_thread.run_sync(driver.execute_async_script, LOAD_JS)
                load.append(end)
                first.append(frame)
            stats("page load (navigation → load event)", load)
            stats("page load → first LED frame drawn", first)
            n.cancel_scope.cancel()
    finally:
        await trio.to_thread.run_sync(driver.quit)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clicks", type=int, default=300)
    ap.add_argument("--hits", type=int, default=100)
    ap.add_argument("--loads", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GRIDTONIC_DATA"] = tmp
        trio.run(bench, args.clicks, args.hits, args.loads, Path(tmp))


if __name__ == "__main__":
    main()
