"""The surface's timing on trio's virtual clock: frame rate cap, nothing sent when idle, the flash of
a generated row, slots recalled on the bar line. A deterministic stand-in plays the sampler."""

import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import trio

from gridtonic.core import actions as a
from gridtonic.core import layout
from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import Sequencer
from gridtonic.core.session import default_session
from gridtonic.core.surface import BURST, FLASH, FPS, Surface
from gridtonic.io import store

L16 = layout.builtin(16, 8)


@dataclass
class Proposal:
    steps: list[bool]
    how: str = "stand-in"
    velocity: list[float] | None = None
    nudge: list[int] | None = None


@dataclass
class Groove:
    velocity: list[float]
    nudge: list[int]


class StandIn:
    """Copies the basis (introspect) and repeats bar 1 (17-32); grooves every step at 0.25 and one
    1/24 step late. Records what it was asked."""

    def __init__(self):
        self.asked = []

    def track_from(self, target, basis, temperature=0.9, seed=None, groove=0.0):
        self.asked.append(("track_from", target.name, basis.name, temperature, groove))
        return self._grooved(Proposal(list(basis.steps)), groove)

    def second_half(self, track, temperature=0.9, seed=None, mode="likely", groove=0.0, basis=None):
        self.asked.append(("second_half", track.name, temperature, mode, groove, basis and basis.name))
        return self._grooved(Proposal(track.steps[:16] * 2), groove)

    @staticmethod
    def _grooved(p, groove):
        return Proposal(p.steps, p.how, [0.25] * 32, [1] * 32) if groove > 0 else p

    def kit_from(self, tracks, basis, temperature=0.9, seed=None, groove=0.0):
        return {i: self.track_from(t, tracks[basis], temperature, seed, groove)
                for i, t in enumerate(tracks) if i != basis}

    def groove(self, track, basis=None, amount=1.0, steps=None):
        self.asked.append(("groove", track.name, basis and basis.name, amount))
        return Groove([0.25] * 32, [1] * 32)


def make(sampler=None):
    s = default_session()
    seq = Sequencer(s, InternalClock(120))
    return Surface(L16, s, seq, sampler=sampler)


async def settled(surface):
    """Until the sampler has answered every press (a kit's runs in a worker thread; virtual time
    runs on meanwhile)."""
    while surface.pending:
        await trio.sleep(0.001)


async def test_frames_are_capped_and_idle_sends_nothing(autojump_clock):
    surface = make()
    sent, frames = [], []
    async with trio.open_nursery() as n:
        n.start_soon(surface.show, lambda f: (sent.append(trio.current_time()), frames.append(f)))
        await trio.sleep(1)
        assert len(sent) == 1  # the first frame, then nothing while nothing changes
        for i in range(100):  # a key storm: 100 events in 0.1 s
            surface.key(i % 16, 0, i % 2 == 0)
            await trio.sleep(0.001)
        await trio.sleep(0.5)
        # never more than 60 frames a second: any stretch holds at most BURST + 60 × its length
        assert all(j - i + 1 <= BURST + (sent[j] - sent[i]) * FPS + 1e-6
                   for i in range(len(sent)) for j in range(i, len(sent)))
        assert frames[-1] == surface.frame(trio.current_time())  # the storm's last key shown
        n.cancel_scope.cancel()


@asynccontextmanager
async def playing_shown():
    """A surface playing from 1 s before, and its frames as (time, frame)."""
    surface = make()
    sent: list[tuple[float, tuple[int, ...]]] = []
    async with trio.open_nursery() as n:
        surface.sequencer.start()
        n.start_soon(surface.show, lambda f: sent.append((trio.current_time(), f)))
        await trio.sleep(1.0)
        yield surface, sent
        surface.sequencer.stop()
        n.cancel_scope.cancel()


def lit_now(sent: list[tuple[float, tuple[int, ...]]], x: int, y: int) -> bool:
    """The last frame went out just now (from the key's own call: virtual time) and lights (x, y)."""
    return sent[-1][0] == trio.current_time() and sent[-1][1][y * 16 + x] == 15


async def test_a_key_right_after_a_playhead_frame_is_lit_at_once(autojump_clock):
    async with playing_shown() as (surface, sent):
        for _ in range(5):  # 1 ms after a playhead frame, at several phases of the bar
            await trio.sleep_until(surface.next_change(trio.current_time()) + 0.001)
            assert sent[-1][0] < trio.current_time()  # the playhead frame went out just now
            surface.key(3, 5, True)  # row 6: no track, only the held key lights
            assert lit_now(sent, 3, 5)  # no frame-cap wait at all (it was up to 1/60 s)
            await trio.sleep(0.05)
            surface.key(3, 5, False)
            await trio.sleep(0.3)


async def test_an_edit_that_shows_nothing_new_leaves_the_clock_waiting_for_a_full_bucket(autojump_clock):
    """As the page plays it: each key is followed by ``changed()`` (an edit from outside that shows
    nothing new). A press and release 3 ms apart, a playhead step 5 ms after the press: the
    playhead's frame must still wait for a full bucket, so a press 20 ms after the release is lit
    from its own call (the edit let the playhead out at one frame's worth, and that press waited)."""
    async with playing_shown() as (surface, sent):
        for x in range(4):  # at several phases of the bar
            await trio.sleep_until(surface.next_change(trio.current_time()) + 0.1)  # the bucket full
            await trio.sleep_until(surface.next_change(trio.current_time()) - 0.005)
            for down, pause in ((True, 0.003), (False, 0.020)):
                surface.key(x, 5, down)  # row 6: no track, only the held key lights
                surface.changed()
                await trio.sleep(pause)
            surface.key(x + 8, 5, True)
            assert lit_now(sent, x + 8, 5)
            surface.key(x + 8, 5, False)


async def test_playing_redraws_once_a_sixteenth(autojump_clock):
    surface = make()
    sent = []
    async with trio.open_nursery() as n:
        surface.sequencer.start()
        n.start_soon(surface.show, sent.append)
        await trio.sleep(2.0)  # 16 sixteenths at 120 BPM
        assert 16 <= len(sent) <= 18
        heads = {surface.gestures.layout.column_of(s)[1] for s in range(16)}
        assert len(heads) == 16
        n.cancel_scope.cancel()


async def test_generated_rows_arrive_off_the_key_path_and_flash(autojump_clock):
    surface = make(StandIn())
    s = surface.session
    async with trio.open_nursery() as n:
        await n.start(surface.run)
        ix, iy = L16.keys["introspect"]
        for x, y, down in [(ix, iy, True), (0, 0, True), (0, 0, False), (0, 3, True), (0, 3, False),
                           (ix, iy, False)]:
            surface.key(x, y, down)
        assert 3 in surface.pending  # the key handler returned before the sampler ran
        await settled(surface)
        assert s.tracks[3].steps[:32] == s.tracks[0].steps[:32]
        assert 3 in surface.status(trio.current_time()).flashing
        await trio.sleep(FLASH)
        assert not surface.status(trio.current_time()).flashing
        gx, gy = L16.keys["generate"]
        s.tracks[2].set_pattern("x---" * 4 + "-" * 16)
        surface.key(gx, gy, True)
        surface.key(gx, gy, False)  # a tap alone: the selected track (the kick, nothing selected yet)
        surface.key(0, 2, True)
        surface.key(0, 2, False)  # that toggled step 1 of track 3 off; now generate it
        surface.key(gx, gy, True)
        surface.key(0, 2, True)
        surface.key(0, 2, False)
        surface.key(gx, gy, False)
        await settled(surface)
        assert s.tracks[2].pattern() == "----x---x---x---" * 2
        n.cancel_scope.cancel()


async def test_slot_recall_waits_for_the_bar_line(autojump_clock):
    surface = make()
    s, seq = surface.session, surface.sequencer
    async with trio.open_nursery() as n:
        await n.start(surface.run)
        n.start_soon(seq.run)
        sx, sy = L16.keys["shift"]
        x1, y1 = L16.keys["slot_1"]
        surface.key(sx, sy, True)
        surface.key(x1, y1, True)  # save the default pattern to slot 1
        surface.key(x1, y1, False)
        surface.key(sx, sy, False)
        saved = s.tracks[0].pattern()
        s.tracks[0].set_pattern("-")
        hits = []
        seq.sinks.append(hits.append)
        seq.start()
        await trio.sleep(0.7)  # into the first bar (2 s long at 120 BPM)
        surface.key(x1, y1, True)
        surface.key(x1, y1, False)
        assert surface.queued_slot == 0 and s.tracks[0].pattern() == "-" * 32
        await trio.sleep(2.0)
        assert s.tracks[0].pattern() == saved and surface.active_slot == 0 and surface.queued_slot is None
        kicks = sorted(h.step for h in hits if h.track == 0)
        assert kicks and kicks[0] == 16  # the first kick is the new bar's downbeat, not earlier
        seq.stop()
        n.cancel_scope.cancel()


def test_slots_are_saved_with_the_session_and_recalled_after_a_restart(tmp_path):
    surface = make()
    s = surface.session
    s.tracks[1].velocity[4] = 0.5
    s.tracks[1].probability[12] = 0.25
    saved = [(t.pattern(), t.velocity, t.probability) for t in s.tracks]
    sx, sy = L16.keys["shift"]
    x2, y2 = L16.keys["slot_2"]
    for x, y, down in [(sx, sy, True), (x2, y2, True), (x2, y2, False), (sx, sy, False)]:
        surface.key(x, y, down)
    store.save(s, tmp_path / "session.json")  # what autosave writes

    loaded = store.load(tmp_path / "session.json")
    for t in loaded.tracks:
        t.set_pattern("-")
        t.velocity, t.probability = [1.0] * 32, [1.0] * 32
    again = Surface(L16, loaded, Sequencer(loaded, InternalClock(120)))
    assert again.status(0.0).slots == (False, True) + (False,) * 6
    again.key(x2, y2, True)
    again.key(x2, y2, False)
    assert [(t.pattern(), t.velocity, t.probability) for t in loaded.tracks] == saved
    assert again.active_slot == 1


async def test_without_a_prior_introspection_is_off_and_nothing_breaks(autojump_clock):
    surface = make()
    gx, gy = L16.keys["generate"]
    surface.key(gx, gy, True)
    surface.key(gx, gy, False)
    assert not surface.pending


class Blocking(StandIn):
    """A stand-in that answers only when the test lets it (the session changes meanwhile)."""

    def __init__(self):
        super().__init__()
        self.started, self.go = threading.Event(), threading.Event()

    def kit_from(self, tracks, basis, *args, **kwargs):
        self.started.set()
        self.go.wait(5)
        return super().kit_from(tracks, basis, *args, **kwargs)


async def test_a_session_shrinking_while_a_kit_is_drawn_does_not_end_the_surface(autojump_clock):
    """A whole kit is drawn in a worker thread (a track's press runs in the trio thread, so nothing
    changes under it): the tracks that went away meanwhile lose their answers, the rest get theirs."""
    sampler = Blocking()
    surface = make(sampler)
    s = surface.session
    ix, iy = L16.keys["introspect"]

    def introspect(basis: int, target: int) -> None:
        for x, y, down in [(ix, iy, True), (0, basis, True), (0, basis, False), (0, target, True),
                           (0, target, False), (ix, iy, False)]:
            surface.key(x, y, down)

    async with trio.open_nursery() as n:
        await n.start(surface.run)
        surface.perform(a.IntrospectKit(0))
        while not sampler.started.is_set():
            await trio.sleep(0.001)
        del s.tracks[2:]  # a page loaded a two-track session
        sampler.go.set()
        await settled(surface)
        assert len(s.tracks) == 2 and set(surface.flashes) == {1}
        surface.flashes.clear()
        introspect(0, 1)  # the sampler still answers
        await settled(surface)
        assert s.tracks[1].steps[:32] == s.tracks[0].steps[:32] and 1 in surface.flashes
        n.cancel_scope.cancel()


def tap(surface, *keys):
    for k in keys:
        surface.key(*L16.keys[k], True) if isinstance(k, str) else surface.key(*k, True)
    for k in reversed(keys):
        surface.key(*L16.keys[k], False) if isinstance(k, str) else surface.key(*k, False)


async def test_introspection_uses_the_sessions_focus_groove_and_17_32_mode(autojump_clock):
    """Focus / wild (introspect + page keys) set the temperature every draw uses; generated steps
    come with the drummers' velocity and nudge at the session's groove amount; shift + mute grooves
    the selected track and leaves its steps; introspect + a basis row + generate does the whole kit."""
    sampler = StandIn()
    surface = make(sampler)
    s = surface.session
    s.groove, s.next_bar = 0.4, "new"
    async with trio.open_nursery() as n:
        await n.start(surface.run)
        tap(surface, "introspect", "page_1")  # focus: sharper
        assert s.focus == pytest.approx(0.9 / 1.25)
        tap(surface, "introspect", "page_2")
        tap(surface, "introspect", "page_2")  # wild twice: looser
        assert s.focus == pytest.approx(0.9 * 1.25)
        surface.key(0, 1, True)  # select the snare (a step press selects its track)
        surface.key(0, 1, False)
        tap(surface, "generate")
        await settled(surface)
        assert sampler.asked[-1] == ("second_half", "snare", s.focus, "new", 0.4, "kick")
        snare = s.tracks[1]
        assert snare.velocity[16:32] == [0.25] * 16 and snare.nudge[16:32] == [1] * 16
        assert snare.velocity[0] != 0.25  # 1-16 were not generated: their groove is kept
        before = list(snare.steps)
        snare.velocity[:32] = [1.0] * 32
        tap(surface, "shift", "mute")  # groove the selected track
        await settled(surface)
        assert sampler.asked[-1] == ("groove", "snare", "kick", 0.4)
        assert snare.steps == before and snare.velocity[:32] == [0.25] * 32
        s.tracks[0].set_pattern("x-x-" * 8)
        tap(surface, "introspect", (0, 0), "generate")  # the kit from the kick
        await settled(surface)
        assert [a[:3] for a in sampler.asked[-4:]] == [("track_from", t.name, "kick") for t in s.tracks[1:]]
        assert all(t.steps[:32] == s.tracks[0].steps[:32] for t in s.tracks[1:])
        assert {1, 2, 3, 4} <= set(surface.flashes)
        n.cancel_scope.cancel()
    d = s.to_dict()
    assert (d["focus"], d["groove"], d["next_bar"]) == (s.focus, 0.4, "new")
