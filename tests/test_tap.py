"""Tap tempo through the keys: shift + play on every grid and Launchpad layout, on trio's clock."""

import pytest
import trio

from gridtonic.core import actions as a
from gridtonic.core import layout
from gridtonic.core.clock import InternalClock
from gridtonic.core.sequencer import Sequencer
from gridtonic.core.session import default_session
from gridtonic.core.surface import Surface
from gridtonic.launchpad.host import builtin as launchpad_layout
from gridtonic.midi.clock import MidiClock
from gridtonic.web import protocol

LAYOUTS = [layout.builtin(16, 8), layout.builtin(8, 8), layout.builtin(16, 16), launchpad_layout(1),
           launchpad_layout(2)]


def tap(surface: Surface) -> None:
    """Shift held, play pressed and released, shift released."""
    keys = surface.gestures.layout.keys
    surface.key(*keys["shift"], True)
    surface.key(*keys["play"], True)
    surface.key(*keys["play"], False)
    surface.key(*keys["shift"], False)


@pytest.mark.parametrize("lay", LAYOUTS, ids=lambda lay: lay.name)
async def test_shift_play_taps_the_tempo_and_leaves_the_transport(lay, autojump_clock):
    """InternalClock.tap was reachable from no key."""
    session = default_session()
    clock = InternalClock(120)
    seq = Sequencer(session, clock)
    surface = Surface(lay, session, seq)
    for _ in range(4):
        tap(surface)
        await trio.sleep(60 / 96)  # a tap a beat at 96 BPM (virtual time: exact)
    assert clock.tempo == pytest.approx(96) and session.tempo == pytest.approx(96)
    assert not seq.playing  # a tap neither starts nor stops
    surface.key(*lay.keys["play"], True)
    assert seq.playing  # play alone still starts


async def test_tap_while_following_midi_is_one_log_line(caplog, autojump_clock):
    session = default_session()
    clock = MidiClock(120)
    surface = Surface(layout.builtin(16, 8), session, Sequencer(session, clock))
    with caplog.at_level("INFO"):
        tap(surface)
        await trio.sleep(0.5)
        tap(surface)
    assert caplog.text.count("tap tempo ignored") == 2 and session.tempo == 120 and clock.tempo == 120


def test_the_page_can_tap_too():
    assert protocol.parse('{"type": "tap"}', default_session(), layout.builtin(16, 8)) == a.Tap()
