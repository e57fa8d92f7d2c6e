"""Ableton Link as a :class:`~gridtonic.core.clock.Clock`: tempo, beat phase (quantum 4) and
start/stop shared with the peers on the network.

aalink wraps Link's own C++ implementation; its ``Link`` wants a running asyncio loop, so one runs in
a worker thread (``trio.to_thread``) for as long as the clock does, only to host it. The trio side
reads Link's session state with aalink's plain calls (thread-safe, a few µs) once a scheduling
tick, into the same piecewise linear beat line as the internal clock: the sequencer and the
outputs schedule ahead from that line and never wait on Link. It *is* an internal clock, so tempo,
tap, start and stop from any surface work as ever and go to the peers.

The line leads Link's by the output latency: a hit handed out at ``t`` sounds at ``t + latency``,
when the peers' beat is where the hit's is (Link apps compensate their output latency the same way).

What comes from the network is checked before it moves anything: a tempo outside the session's
20-300 BPM is clamped (the line then runs on at that tempo, out of phase until the tempo is back
in range) and an unusable reading (non-finite, or a beat so large no 16th can be told apart) is
skipped, each with one line at most every ``WARN_EVERY`` s. When Link cannot start or fails, one
line, and the line plays on where it was: the performance never stops for the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import trio

from gridtonic.core.clock import TEMPO_RANGE, InternalClock  # the session's range (Link's own is 20-999)
from gridtonic.core.sequencer import LOOKAHEAD, TICK, Sequencer

log = logging.getLogger(__name__)

QUANTUM = 4.0  # beats: peers agree on the phase within a 4/4 bar
MAX_BEAT = 2.0**32  # |beat| past this is no reading: a 16th's float step would be coarse (and the
# sequencer would walk an astronomic range of steps); a real session reaches it after 27 years at 300 BPM
RESYNC = 1e-4  # s: the line is re-anchored on Link's when they differ by more (clock drift, rounding)
JUMP = LOOKAHEAD  # s: a bigger move of Link's beat (the phase aligned to a session joined, a peer
# forcing the beat) restarts the sequencer on the new line; a smaller one it plays through
READS = 3  # Link is read this many times in a row and the tightest reading kept (a preempted one is off)
WINDOW = 5e-4  # s: when even the tightest reading took longer (a loaded machine), the line is left as
# it is for this tick rather than moved by up to half that window
START_TIMEOUT = 5.0  # s Link may take to come up before the instrument plays on without it
WARN_EVERY = 10.0  # s between two lines about the same kind of bad value from the network


def checked(tempo: float, beat: float) -> tuple[float | None, str | None]:
    """Link's tempo as the line may follow it, and what is wrong with the reading: (tempo, None) for
    a good one, (the nearest tempo the session allows, why) for an out-of-range tempo, (None, why)
    for a reading to skip."""
    if not (math.isfinite(tempo) and math.isfinite(beat)) or abs(beat) > MAX_BEAT:
        return None, f"unusable reading from Link (tempo {tempo!r}, beat {beat!r}) skipped"
    lo, hi = TEMPO_RANGE
    if not lo <= tempo <= hi:
        near = min(max(tempo, lo), hi)
        return near, (f"Link's tempo {tempo:.6g} BPM is outside {lo:g}-{hi:g}: playing at {near:g}, "
                      "out of phase with the peers until it is back in range")
    return tempo, None


class LinkClock(InternalClock):
    """The beat line of a Link session (quantum 4, start/stop sync on), ``latency`` s ahead of it;
    ``run`` hosts Link and follows it. Until Link is up, and after it failed, it is the internal
    clock it derives from."""

    def __init__(self, tempo: float = 120.0, latency: float = 0.0):
        super().__init__(tempo)
        self.latency = float(latency)
        self.peers = 0
        self.failed: str | None = None  # why Link is off, once it is
        self._link: Any = None  # aalink.Link (or a test's stand-in) while it is followed
        self._sequencer: Sequencer | None = None
        self._stop: Callable[[], None] | None = None  # ends the thread hosting Link
        self._closing = False
        self._up = trio.Event()
        self._offset = 0.0  # s: Link's clock (CLOCK_MONOTONIC_RAW) minus trio's
        self._playing: bool | None = None  # Link's start/stop state as last seen or set (None: not yet)
        self._warned: dict[str, float] = {}  # kind of bad value → when it was last logged

    def describe(self) -> str:
        """For the page's screen: Link and its peers, or why it is off."""
        if self.failed is not None:
            return f"internal (Link off: {self.failed})"
        if self._link is None:
            return "Link (starting)"
        return f"Link, {self.peers} peer{'s' * (self.peers != 1)}"

    # -- what the instrument does --------------------------------------------------------------

    def restart(self, t: float, beat: float = 0.0) -> None:
        """Transport start: Link plays ``beat`` at ``t`` alone; with peers at the next time that beat's
        phase comes round (the quantised launch of every Link app), and the peers start too."""
        with self._failing():
            if self._link is not None:
                when = timedelta(seconds=t + self.latency + self._offset)
                self._link.set_is_playing_and_request_beat_at_time(True, when, beat)
                self._playing = True
                self._resync(force=True)
        # Link off, or it put the beat in the past (a peer forced the beat just then): as asked, so
        # the sequencer sends no burst of late hits; the next tick realigns
        if self._link is None or self.time_at(beat) < t - JUMP:
            super().restart(t, beat)

    def set_tempo(self, tempo: float, now: float) -> None:
        """The instrument's tempo (page, tap, a preset or session loaded) goes to the peers."""
        super().set_tempo(tempo, now)
        with self._failing():
            if self._link is not None:
                self._link.tempo = self.tempo
                self._resync(force=True)

    def _transport(self, beat: float | None) -> None:
        """Sequencer listener: a local stop stops the Link session (a start went through ``restart``)."""
        if beat is None and self._link is not None and self._playing:
            self._playing = False
            with self._failing():
                self._link.playing = False

    # -- following Link ------------------------------------------------------------------------

    def attach(self, link: Any, sequencer: Sequencer) -> None:
        """Follow ``link`` (an ``aalink.Link``, enabled) from now on, driving ``sequencer``."""
        self._link, self._sequencer = link, sequencer
        sequencer.listeners.append(self._transport)
        self._resync(force=True)

    def follow(self) -> None:
        """Once a tick: take Link's tempo, beat line, start/stop state and peer count. Whatever goes
        wrong turns Link off with one line; the line plays on (and this does nothing from then on)."""
        if self._link is not None:
            with self._failing():
                self._follow()

    def _follow(self) -> None:
        link, seq = self._link, self._sequencer
        assert link is not None and seq is not None
        peers, playing = int(link.num_peers), bool(link.playing)
        if peers != self.peers:
            log.info("Link: %d peer%s", peers, "s" * (peers != 1))
            self.peers = peers
        tempo = self.tempo
        moved = self._resync()
        if self.tempo != tempo:
            seq.session.tempo = round(self.tempo, 2)  # for the surfaces and autosave
        now = trio.current_time()
        if playing != self._playing:
            first, self._playing = self._playing is None, playing
            if playing and not seq.playing:
                link.request_beat_at_start_playing_time(0.0)  # bar 1 where the session started
                self._resync(force=True)
                seq.play_from(max(0.0, self.beat_at(now)))  # from here on: nothing sent late
                log.info("Link: %s playing", "joined a session" if first else "a peer started")
            elif not playing and seq.playing and not first:
                seq.stop()
                log.info("Link: a peer stopped playback")
        elif abs(moved) > JUMP and seq.playing:
            # What was handed out stands; the new line plays on from its beat at the horizon, so
            # nothing doubles and nothing goes out late (hits in the one tick between are dropped)
            log.info("Link moved the beat by %+.0f ms (phase aligned with the session)", moved * 1e3)
            seq.play_from(self.beat_at(now + LOOKAHEAD))

    def _resync(self, force: bool = False) -> float:
        """Re-anchor the line on Link's when it moved or the tempo changed; returns the move (s)."""
        window, t, beat, host, tempo = self._read()
        if window > WINDOW and not force:
            return 0.0
        self._offset = host - t
        follow, problem = checked(tempo, beat)
        if problem is not None:
            self._warn("tempo" if follow is not None else "reading", problem, t)
        if follow is None:
            return 0.0
        if follow != tempo:  # clamped: the line runs on at the tempo the session allows
            if self.tempo != follow:
                super().set_tempo(follow, t)
            return 0.0
        moved = (beat - self.beat_at(t - self.latency)) * 60.0 / tempo
        if force or tempo != self.tempo or abs(moved) > RESYNC:
            super().restart(t - self.latency, beat)
            self.tempo = tempo
        return moved

    def _read(self) -> tuple[float, float, float, float, float]:
        """(window, trio time, Link's beat then, Link's clock then, tempo): of ``READS`` readings the
        one taken in the shortest window, its time the window's middle."""
        link = self._link
        readings = []
        for _ in range(READS):
            t1 = trio.current_time()
            beat, host = float(link.beat), link.time.total_seconds()
            t2 = trio.current_time()
            readings.append((t2 - t1, (t1 + t2) / 2, beat, host))
        return (*min(readings), float(link.tempo))

    @contextlib.contextmanager
    def _failing(self) -> Iterator[None]:
        """Around every call into Link: whatever it raises (or a bug here) turns Link off with one
        line, and the caller goes on as the internal clock; the music never stops for it."""
        try:
            yield
        except Exception as e:  # noqa: BLE001
            log.debug("Link failed", exc_info=True)
            self._fail(f"{type(e).__name__}: {e}")

    def _warn(self, kind: str, problem: str, now: float) -> None:
        last = self._warned.get(kind)
        if last is None or now - last >= WARN_EVERY:
            self._warned[kind] = now
            log.warning("%s", problem)

    # -- the thread hosting Link ---------------------------------------------------------------

    async def run(self, sequencer: Sequencer,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host Link and follow it until cancelled; reports started once Link is up or has failed."""
        try:
            async with trio.open_nursery() as n:
                n.start_soon(self._host, sequencer, trio.lowlevel.current_trio_token())
                try:
                    with trio.move_on_after(START_TIMEOUT):
                        await self._up.wait()
                    if self._link is None and self.failed is None:
                        self._fail(f"no answer in {START_TIMEOUT:g} s")
                    task_status.started()
                    while self._link is not None:
                        self.follow()
                        await trio.sleep(TICK)
                finally:
                    self._close()  # the host thread ends: the nursery can close
        finally:
            if self._transport in sequencer.listeners:
                sequencer.listeners.remove(self._transport)

    async def _host(self, sequencer: Sequencer, token: trio.lowlevel.TrioToken) -> None:
        try:
            await trio.to_thread.run_sync(self._thread, sequencer, token, limiter=trio.CapacityLimiter(1))
        except Exception as e:  # noqa: BLE001 - Link failing, whatever the reason, is one line
            if not self._closing:
                self._fail(f"{type(e).__name__}: {e}")
        finally:
            self._up.set()

    def _thread(self, sequencer: Sequencer, token: trio.lowlevel.TrioToken) -> None:
        async def main() -> None:
            import aalink  # here: a missing or broken wheel is Link failing to start, not gridtonic

            link = aalink.Link(self.tempo)
            link.quantum = QUANTUM
            link.start_stop_sync_enabled = True
            link.enabled = True
            done = asyncio.Event()
            stop = partial(asyncio.get_running_loop().call_soon_threadsafe, done.set)
            try:
                if trio.from_thread.run_sync(self._started, link, sequencer, stop, trio_token=token):
                    await done.wait()
            finally:
                link.enabled = False

        asyncio.run(main())

    def _started(self, link: Any, sequencer: Sequencer, stop: Callable[[], None]) -> bool:
        """In trio: Link is up; False when the clock is closing already (the thread then ends)."""
        if self._closing:
            return False
        self.attach(link, sequencer)
        self._stop = stop
        log.info("Ableton Link on (quantum %g, start/stop sync) at %g BPM", QUANTUM, self.tempo)
        self._up.set()
        return True

    def _fail(self, why: str) -> None:
        log.warning("Ableton Link is off (%s): playing on the internal clock", why)
        self.failed = why
        self._close()

    def _close(self) -> None:
        self._closing = True
        self._link = None
        stop, self._stop = self._stop, None
        if stop is not None:
            try:
                stop()
            except RuntimeError:  # the host's loop is closed already: the thread has ended
                pass
