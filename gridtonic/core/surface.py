"""The surface: one controller's keys → gestures → actions on the session, and LED frames back.

Device-independent: the monome grid, a Launchpad or a browser page each feed ``key(x, y, down)``
and run ``show(send)``, which calls ``send(frame)`` with a new frame whenever the picture changes
(at most ``FPS`` a second, nothing while it stays the same; a key's frame is never held back
behind the playhead's). What the session cannot do by itself
runs here: the transport, the prior sampler (in a worker thread, never on the key path; the row
flashes when its steps arrive) and pattern slots (a recall while playing waits for the bar line).
The slots themselves live in the session, so autosave keeps them across restarts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Protocol

import trio

from gridtonic.core import actions as a
from gridtonic.core.bucket import Bucket
from gridtonic.core.clock import InternalClock
from gridtonic.core.frame import Frame, Status, render
from gridtonic.core.gestures import Gestures
from gridtonic.core.layout import Layout
from gridtonic.core.sequencer import LOOKAHEAD, STEP_BEATS, TICK, Sequencer
from gridtonic.core.session import STEPS, Session, Steps, Track

log = logging.getLogger(__name__)

FPS = 60.0
BURST = 2.0  # frames the cap lets out back to back: a key's frame right after the clock's
FLASH = 0.3  # s a freshly generated row stays lit
IDLE_POLL = 0.1  # s between looks at the session for changes made elsewhere (other surfaces, presets)
BAR_BEATS = 4.0
HALF = STEPS // 2


class Proposal(Protocol):
    steps: list[bool]
    how: str
    velocity: list[float] | None
    nudge: list[int] | None


class Groove(Protocol):
    velocity: list[float]
    nudge: list[int]


class Sampler(Protocol):
    """What the surface needs of the prior sampler (``gridtonic.prior.sampler.Sampler``)."""

    def track_from(self, target: Track, basis: Track, temperature: float = ..., seed: int | None = ...,
                   groove: float = ...) -> Proposal: ...

    def second_half(self, track: Track, temperature: float = ..., seed: int | None = ..., mode: str = ...,
                    groove: float = ..., basis: Track | None = ...) -> Proposal: ...

    def groove(self, track: Track, basis: Track | None = ..., amount: float = ...,
               steps: list[bool] | None = ...) -> Groove: ...

    def kit_from(self, tracks: list[Track], basis: int, temperature: float = ..., seed: int | None = ...,
                 groove: float = ...) -> dict[int, Proposal]: ...


def groove_basis(tracks: list[Track], track: int) -> Track | None:
    """The track a groove is played against: the kick, or the snare for the kick (by name; the
    sampler ignores one of another class)."""
    want = "snare" if tracks[track].name.lower() == "kick" else "kick"
    return next((t for i, t in enumerate(tracks) if i != track and t.name.lower() == want), None)


def _copy(t: Track) -> Track:
    """A track the sampler may read in its thread while keys keep editing the real one (its 32
    steps: what the prior works on)."""
    return Track(name=t.name, steps=list(t.steps[:STEPS]), velocity=list(t.velocity[:STEPS]))


class _Out:
    """A show() loop's sender, its cap and the frame it last sent."""

    def __init__(self, send: Callable[[Frame], None], bucket: Bucket):
        self.send = send
        self.bucket = bucket
        self.last: Frame | None = None

    def draw(self, frame: Frame) -> None:
        """Send ``frame`` unless it is the one shown; the caller made sure the cap has room."""
        if frame != self.last:
            self.send(frame)
            self.last = frame
            self.bucket.level -= 1.0


class Surface:
    def __init__(self, layout: Layout, session: Session, sequencer: Sequencer, *,
                 sampler: Sampler | None = None, latency: float = 0.0):
        self.gestures = Gestures(layout, session)
        self.session = session
        self.sequencer = sequencer
        self.sampler = sampler
        self.latency = latency  # the playhead shows the step being heard, not the one being scheduled
        self._slot_keys(layout)
        self.active_slot: int | None = None
        self.queued_slot: int | None = None
        self.pending: set[int] = set()
        self.flashes: dict[int, float] = {}  # track → trio time its flash ends
        self.told: tuple[float, str] | None = None  # (trio time, text): how the sampler made its last steps
        self._changed = trio.Event()
        self._queue_changed = trio.Event()
        self._jobs_in, self._jobs = trio.open_memory_channel[tuple[a.Job, set[int]]](32)
        self._out: _Out | None = None  # where the running show() sends frames
        self._unshown = False  # an edit is not drawn yet

    def use_layout(self, layout: Layout) -> None:
        """Switch to another layout (a grid of another size was plugged in); slots are kept. Keys
        held on the old one are let go of (a FILL held on an unplugged grid ends)."""
        self.gestures = Gestures(layout, self.session)
        self.sequencer.hold_fill(self, False)
        self._slot_keys(layout)
        self._touch()

    def _slot_keys(self, layout: Layout) -> None:
        """Room in the session for a slot under each of ``layout``'s slot keys (saved ones are kept)."""
        self.session.slots.extend([None] * (layout.slots - len(self.session.slots)))

    # -- input -----------------------------------------------------------------------------

    def key(self, x: int, y: int, down: bool) -> None:
        """One key event from the controller; returns at once (the sampler runs elsewhere)."""
        for act in self.gestures.key(x, y, down):
            self.perform(act)
        self._touch()
        self._draw_now()

    def perform(self, act: a.Action) -> None:
        if a.apply(self.session, act):
            return
        match act:
            case a.Transport():
                if self.sequencer.playing:  # a local stop works while following too (Elektron-like)
                    self.sequencer.stop()
                    self.queued_slot = None
                elif not isinstance(self.sequencer.clock, InternalClock):
                    log.info("following MIDI clock: the master starts playback (Start or Continue)")
                else:
                    self.sequencer.start()
            case a.Fill(held):
                self.sequencer.hold_fill(self, held)
            case a.Tap():
                clock = self.sequencer.clock
                if isinstance(clock, InternalClock):
                    clock.tap(trio.current_time())
                    self.session.tempo = clock.tempo
                else:
                    log.info("following MIDI clock: tap tempo ignored (the master sets the tempo)")
            case a.Introspect() | a.Generate() | a.Groove() | a.IntrospectKit():
                targets = self._targets(act)
                if self.sampler is None:
                    log.warning("no prior loaded: introspection is off")
                elif targets and not targets & self.pending:
                    try:
                        self._jobs_in.send_nowait((act, targets))
                        self.pending |= targets
                    except trio.WouldBlock:
                        log.warning("sampler busy: %s dropped", act)
            case a.SaveSlot(slot):
                self.session.slots[slot] = tuple(Steps.of(t) for t in self.session.tracks)
                self.active_slot = slot
            case a.RecallSlot(slot):
                if self.session.slots[slot] is None:
                    return
                if self.sequencer.playing:
                    self.queued_slot = slot
                    self._queue_changed.set()
                else:
                    self._recall(slot)

    def _recall(self, slot: int) -> None:
        if self.session.recall(slot):
            self.active_slot = slot
        self.queued_slot = None
        self._touch()

    def _touch(self) -> None:
        self._unshown = True
        self._changed.set()
        self._changed = trio.Event()

    def changed(self) -> None:
        """Redraw now: the session was edited from outside the keys (a browser page, a preset)."""
        self._touch()
        self._draw_now()

    def select(self, track: int) -> None:
        """Select ``track`` from elsewhere (the page's pattern rows): the track rows scroll to it."""
        if 0 <= track < len(self.session.tracks):
            self.gestures.select(track)
            self._touch()

    # -- output ----------------------------------------------------------------------------

    def positions(self, now: float) -> list[int] | None:
        """Each track's pattern position being heard at ``now``; None when stopped."""
        if not self.sequencer.playing:
            return None
        return self.sequencer.positions(now - self.latency)

    def playhead(self, now: float) -> int | None:
        """The selected track's position (the page's cursor), None when stopped."""
        positions = self.positions(now)
        if positions is None:
            return None
        return positions[min(self.gestures.selected, len(positions) - 1)] if positions else 0

    def status(self, now: float) -> Status:
        positions = self.positions(now)
        step = None if positions is None else self.playhead(now)
        beat = max(0.0, self.sequencer.clock.beat_at(now - self.latency))
        return Status(
            playhead=step,
            positions=tuple(positions or ()),
            fill=self.sequencer.fill,
            flashing=frozenset(t for t, end in self.flashes.items() if end > now),
            pending=frozenset(self.pending),
            slots=tuple(s is not None for s in self.session.slots),
            active_slot=self.active_slot,
            queued_slot=self.queued_slot,
            blink=step is not None and math.floor(beat / STEP_BEATS) % 2 == 0,
        )

    def frame(self, now: float) -> Frame:
        return render(self.gestures, self.status(now))

    def next_change(self, now: float) -> float | None:
        """When the frame changes by itself next (playhead, end of a flash), if it does."""
        times = [end for end in self.flashes.values() if end > now]
        if self.sequencer.playing:  # the next step of any track (each at its own speed) or of the 16ths
            clock = self.sequencer.clock
            beat = max(0.0, clock.beat_at(now - self.latency))
            for length in {STEP_BEATS / t.speed for t in self.session.tracks} | {STEP_BEATS}:
                times.append(clock.time_at((math.floor(beat / length) + 1) * length) + self.latency)
        return min(times, default=None)

    async def show(self, send: Callable[[Frame], None], fps: float = FPS) -> None:
        """Call ``send`` with each new frame (the first at once) until cancelled.

        The cap is a bucket of ``BURST`` frames refilled at ``fps``: a frame made by a key or an
        edit from outside goes out from that very call when one frame is in it (no wait for this
        task), else as soon as one is; one made by the clock (playhead, a flash ending) waits until
        the bucket is full. So a key pressed just after a playhead frame is lit at once instead of
        up to 1/fps later, the playhead yields at most 1/fps to a key, and the rate stays ``fps``
        over any stretch longer than a couple of frames.
        """
        out = _Out(send, Bucket(fps, BURST, trio.current_time()))
        self._out = out
        try:
            while True:
                changed = self._changed
                now = trio.current_time()
                out.bucket.refill(now)
                self._draw(out, now)
                nxt = self.next_change(now)
                clock = now + IDLE_POLL if nxt is None else max(min(nxt, now + IDLE_POLL), now + 1.0 / fps)
                with trio.move_on_at(clock):  # not before 1/fps: a step boundary rounded to now must not spin
                    await changed.wait()
                # an edit not shown yet needs one frame in the bucket; the clock, or a key that drew
                # its own frame, a full bucket (else the next key would find it empty)
                while (short := (1.0 if self._unshown else BURST)
                       - out.bucket.level_at(trio.current_time())) > 1e-6:
                    with trio.move_on_after(short / fps):  # an edit meanwhile needs only one frame
                        await self._changed.wait()
        finally:
            if self._out is out:
                self._out = None

    def _draw(self, out: _Out, now: float) -> None:
        out.draw(self.frame(now))
        self._unshown = False

    def _draw_now(self) -> None:
        """An edit's frame (a key's, a page's), sent from its call when the cap has a frame for it
        (else the show task sends it when it has): lit without a task switch. An edit that changes
        nothing shown asks nothing of the show task (else its next clock frame would go out at a
        frame's worth instead of a full bucket, and the key after it find the bucket empty)."""
        out = self._out
        if out is not None:
            now = trio.current_time()
            out.bucket.refill(now)
            frame = self.frame(now)
            if frame == out.last or out.bucket.level >= 1.0:
                out.draw(frame)
                self._unshown = False

    # -- the tasks behind it -----------------------------------------------------------------

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The sampler worker and the bar-line queue; runs until cancelled."""
        async with trio.open_nursery() as n:
            n.start_soon(self._sample)
            n.start_soon(self._bar_line)
            task_status.started()

    def _targets(self, act: a.Job) -> set[int]:
        """The tracks a sampler job rewrites."""
        n = len(self.session.tracks)
        if isinstance(act, a.IntrospectKit):
            return {t for t in range(n) if t != act.basis} if act.basis < n else set()
        track = act.target if isinstance(act, a.Introspect) else act.track
        return {track} if track < n else set()

    def _answer(self, act: a.Job, tracks: list[Track]) -> list[tuple[a.Action, str]]:
        """The sampler's edits for ``act`` on copies of ``tracks``, with how each was made."""
        s, sampler = self.session, self.sampler
        assert sampler is not None

        def grooved(track: int, first: int, p: Proposal) -> a.Action:
            steps, velocity, nudge = p.steps[first:], p.velocity, p.nudge
            if velocity is None or nudge is None:
                return a.SetPattern(track, first, tuple(steps))
            return a.SetPattern(track, first, tuple(steps), tuple(velocity[first:]), tuple(nudge[first:]))

        match act:
            case a.Generate(track) if track < len(tracks):
                p = sampler.second_half(tracks[track], s.focus, mode=s.next_bar, groove=s.groove,
                                        basis=groove_basis(tracks, track))
                return [(grooved(track, HALF, p), p.how)]
            case a.Introspect(basis, track) if max(basis, track) < len(tracks):
                p = sampler.track_from(tracks[track], tracks[basis], s.focus, groove=s.groove)
                return [(grooved(track, 0, p), p.how)]
            case a.IntrospectKit(basis) if basis < len(tracks):
                kit = sampler.kit_from(tracks, basis, s.focus, groove=s.groove)
                return [(grooved(track, 0, p), p.how) for track, p in sorted(kit.items())]
            case a.Groove(track) if track < len(tracks):
                g = sampler.groove(tracks[track], groove_basis(tracks, track), max(s.groove, 0.25))
                return [(a.SetGroove(track, 0, tuple(g.velocity), tuple(g.nudge)), "grooved")]
        return []

    async def _sample(self) -> None:
        async for act, targets in self._jobs:
            copies = [_copy(t) for t in self.session.tracks]
            try:
                # A track's press (p99 ~0.6 ms of numpy holding the GIL either way) runs here: a
                # worker thread only added its hop (p99 1-4 ms on a busy machine) and let the
                # clock's tasks in no sooner. A whole kit (1-2 ms) goes to a worker thread.
                if isinstance(act, a.IntrospectKit):
                    edits = await trio.to_thread.run_sync(self._answer, act, copies)
                else:
                    edits = self._answer(act, copies)
            except Exception:  # a sampler bug must not silence the instrument
                log.exception("sampler failed on %s", act)
                edits = []
            for edit, how in edits:  # the session may have shrunk meanwhile (a page loaded another)
                track = edit.track  # type: ignore[union-attr]
                if a.apply(self.session, edit):
                    self.flashes[track] = trio.current_time() + FLASH
                    self.told = (trio.current_time(), f"{self.session.tracks[track].name}: {how}")
                    log.info("%s", self.told[1])
                else:
                    log.info("track %d went away while the sampler ran: its steps are dropped", track + 1)
            self.pending -= targets
            self._touch()

    async def _bar_line(self) -> None:
        """Recall a queued slot just before the sequencer hands out the next bar's first hits."""
        while True:
            wake = self._queue_changed
            if self.queued_slot is None or not self.sequencer.playing:
                self.queued_slot = None
                await wake.wait()
                self._queue_changed = trio.Event()
                continue
            clock = self.sequencer.clock
            beat = clock.beat_at(trio.current_time() + LOOKAHEAD + TICK)
            deadline = clock.time_at((math.floor(beat / BAR_BEATS) + 1) * BAR_BEATS) - LOOKAHEAD - TICK / 2
            with trio.move_on_at(deadline):
                await wake.wait()
                self._queue_changed = trio.Event()
                continue
            if self.queued_slot is not None and self.sequencer.playing:
                self._recall(self.queued_slot)
