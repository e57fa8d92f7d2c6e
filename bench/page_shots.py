"""Screenshots of the browser page at 800, 1280 and 1920 px wide, for a person to look at: gridtonic's
real Instrument and page server (no engine: nothing sounds) with the default kit, a few patterns set
with issue 15's per-step settings (ratchets, an accent, a condition, a lock; tracks of other lengths
and speeds), playing, step 5 of track 2 in the step inspector, in headless Chromium; one PNG a width
(the whole page's height) into ``--out``.

    python bench/page_shots.py [--out page-shots] [--widths 800 1280 1920]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import trio

from gridtonic.app import Instrument
from gridtonic.core.session import default_session
from gridtonic.grid import udp
from gridtonic.web import server as web

PATTERNS = ("x---x---x---x-x-", "----x-------x---", "x-x-x-x-x-x-x-xx", "--x---x---x---x-")
INSPECT_JS = """document.querySelector('#patterns [data-track="1"] .step:nth-child(5)')
  .dispatchEvent(new MouseEvent("contextmenu", {bubbles: true}));"""  # a right-click: inspect it


async def shoot(out: Path, widths: list[int]) -> list[Path]:
    session = default_session()
    for t, text in zip(session.tracks, PATTERNS, strict=False):
        t.set_pattern(text)
    kick, snare, hat = session.tracks[:3]
    kick.ratchet[12], kick.ramp[12], kick.accent[0] = 3, -0.5, True
    snare.condition[12], snare.locks[4], snare.nudge[4] = "1:2", {"oscFreq": 320.0}, -3
    snare.length, hat.length, hat.speed = 24, 12, 1.5
    with tempfile.TemporaryDirectory() as tmp:
        inst = Instrument(session, Path(tmp) / "session.json", port=udp.free_port())
        inst.page.gestures.selected = 1
        driver = web.headless_chromium(Path(tmp) / "chromium")
        shots = []
        try:
            async with trio.open_nursery() as n:
                await n.start(inst.page.run)
                await n.start(inst.sequencer.run)
                inst.sequencer.start()  # each track's own playhead in its lane
                url = await n.start(inst.web_page().run, web.WebConfig(port=0, open=False))
                for w in widths:
                    await trio.to_thread.run_sync(driver.set_window_size, w, 1000)
                    await trio.to_thread.run_sync(driver.get, url)
                    await trio.sleep(1.0)  # the state and a frame drawn
                    await trio.to_thread.run_sync(driver.execute_script, INSPECT_JS)
                    await trio.sleep(0.3)
                    height = await trio.to_thread.run_sync(
                        driver.execute_script, "return document.documentElement.scrollHeight")
                    await trio.to_thread.run_sync(driver.set_window_size, w, height + 100)
                    await trio.sleep(0.3)
                    path = out / f"page-{w}.png"
                    await trio.to_thread.run_sync(driver.save_screenshot, str(path))
                    shots.append(path)
                n.cancel_scope.cancel()
        finally:
            driver.quit()
    return shots


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("page-shots"))
    ap.add_argument("--widths", type=int, nargs="+", default=[800, 1280, 1920])
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in trio.run(shoot, args.out, args.widths):
        print(path)


if __name__ == "__main__":
    main()
