"""Ableton Link: the clock shared with Link peers (``clock``: tempo, beat phase, start/stop), a plain
aalink peer in a process of its own (``peer``) and the rig that plays both inside a private network
namespace (``rig``), for tests and ``bench/link_phase``.

Imports ``core``, ``io`` and ``sound`` (the rig's latency); never another device package. What
``app`` uses:
"""

from gridtonic.link.clock import LinkClock

__all__ = ["LinkClock"]
