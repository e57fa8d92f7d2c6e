"""A token bucket: ``rate`` tokens a second, at most ``burst`` kept. Pure (the caller gives the time).

The one rate cap of the instrument: a surface's LED frames (a key's frame may go out right after
the clock's) and each page's inbound messages (a burst passes, a flood is held to the rate).
"""

from __future__ import annotations


class Bucket:
    def __init__(self, rate: float, burst: float, now: float):
        self.rate, self.burst = rate, burst
        self.level, self.at = burst, now

    def level_at(self, now: float) -> float:
        """The tokens there would be at ``now``, nothing taken meanwhile."""
        return min(self.burst, self.level + (now - self.at) * self.rate)

    def refill(self, now: float) -> None:
        self.level, self.at = self.level_at(now), now

    def take(self, now: float) -> bool:
        """One token, if there is one at ``now``."""
        self.refill(now)
        if self.level < 1:
            return False
        self.level -= 1
        return True
