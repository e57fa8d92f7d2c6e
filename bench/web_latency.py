"""Browser page latency in headless Chromium against gridtonic's real page server.

click → LED: the page's own pointer handler gets a pointerdown on a key (dispatched in the page, so
WebDriver's HTTP round trip is not counted) until the frame lighting that key has been drawn.
click → engine: the same click until the sequencer's first scheduling pass after the surface
applied it (from then on the engine plays the edit); transport running at 120 BPM. Both clocks are
the machine's wall clock (the page's performance.timeOrigin + now, the server's time.time).
page load: navigation start → load event, and → the first LED frame drawn.

    python bench/web_latency.py [--clicks 300] [--loads 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_web import chrome, rig  # noqa: E402  (the tests' headless Chromium and instrument)

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
    await pause(20);
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


def stats(label: str, ms: list[float]) -> None:
    a = np.array(ms)
    print(f"{label}: n={len(a)}, p50 {np.percentile(a, 50):.2f} ms, p99 {np.percentile(a, 99):.2f} ms, "
          f"max {a.max():.2f} ms")


async def bench(clicks: int, loads: int, data: Path) -> None:
    driver = await trio.to_thread.run_sync(chrome, data / "chromium")
    try:
        async with rig(data) as (inst, url, _):
            applied: list[float] = []
            passes: list[float] = []
            key, schedule = inst.surface.key, inst.sequencer.schedule

            def timed_key(x: int, y: int, down: bool) -> None:
                key(x, y, down)
                if down:
                    applied.append(time.time())

            def timed_schedule(now: float):
                passes.append(time.time())
                return schedule(now)

            inst.surface.key, inst.sequencer.schedule = timed_key, timed_schedule
            inst.sequencer.start()
            driver.set_script_timeout(600)
            await trio.to_thread.run_sync(driver.get, url)
            out = await trio.to_thread.run_sync(driver.execute_async_script, CLICKS_JS, clicks)
            led = [d for d, _ in out]
            clicked = [e / 1000 for _, e in out]
            p = np.array(passes)
            pairs = list(zip(clicked, applied, strict=True))
            stats("click → LED drawn", led)
            stats("click → engine (next scheduling pass after the edit)",
                  [(p[np.searchsorted(p, t)] - c) * 1000 for c, t in pairs])
            stats("  of which click → applied on the server", [(t - c) * 1000 for c, t in pairs])
            inst.sequencer.stop()
            load, first = [], []
            for _ in range(loads):
                await trio.to_thread.run_sync(driver.get, url)
                end, frame = await trio.to_thread.run_sync(driver.execute_async_script, LOAD_JS)
                load.append(end)
                first.append(frame)
            stats("page load (navigation → load event)", load)
            stats("page load → first LED frame drawn", first)
    finally:
        await trio.to_thread.run_sync(driver.quit)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clicks", type=int, default=300)
    ap.add_argument("--loads", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GRIDTONIC_DATA"] = tmp
        trio.run(bench, args.clicks, args.loads, Path(tmp))


if __name__ == "__main__":
    main()
