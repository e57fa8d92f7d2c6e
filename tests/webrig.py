"""The page's rig for tests: an Instrument whose page is served on a free port, raw WebSocket pages
and waits with hang guards (not timing assertions)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

import trio
from trio_websocket import open_websocket_url

from gridtonic.app import Instrument
from gridtonic.core.session import default_session
from gridtonic.grid import udp
from gridtonic.io import osc
from gridtonic.prior import sampler
from gridtonic.web import server as web


@asynccontextmanager
async def rig(data: Path, prior: sampler.Sampler | None = None, jack_server: str | None = None, **options):
    """An instrument with empty patterns, stopped, its page served on a free port: (instrument, url).
    With ``jack_server`` its realtime scsynth runs too (else the engine's bundles are dropped)."""
    session = default_session()
    for t in session.tracks:
        t.set_pattern("-")
    inst = Instrument(session, data / "session.json", port=udp.free_port(), jack_server=jack_server,
                      **options)
    for s in inst.surfaces():
        s.sampler = prior
    async with trio.open_nursery() as n:
        if jack_server is not None:
            await n.start(inst.server.run)
            inst.server.send(osc.message("/dumpOSC", 1))
        await n.start(inst.page.run)
        await n.start(inst.sequencer.run)
        url = await n.start(inst.web_page().run, web.WebConfig(port=0, open=False))
        yield inst, url
        n.cancel_scope.cancel()


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


async def ws_client(url: str, nursery: trio.Nursery):
    """A raw WebSocket page held open by ``nursery``."""
    return await nursery.start(_hold_ws, web.socket_url(url))


async def _hold_ws(url, task_status):
    async with open_websocket_url(url) as ws:
        task_status.started(ws)
        await trio.sleep_forever()


async def next_of(ws, kind: str) -> dict:
    """The next message of type ``kind`` (others skipped); a 10 s hang guard, not a timing assertion."""
    with trio.fail_after(10):
        while True:
            msg = json.loads(await ws.get_message())
            if msg["type"] == kind:
                return msg


async def state_where(ws, condition: Callable[[dict], bool]) -> dict:
    """The first state message (from now) that meets ``condition``."""
    while not condition(state := await next_of(ws, "state")):
        pass
    return state


async def ask(ws, msg: dict) -> None:
    await ws.send_message(json.dumps(msg))
