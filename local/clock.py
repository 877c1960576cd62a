"""The embedded AWS's clock: real time plus an offset that tests can move forward.

Every time-based behaviour of the emulator (CREATING/UPDATING latency, TTL transitions and the
one-hour TTL rule, backup latency, read-after-write lag) reads this clock, never ``time`` directly,
so a test can make an hour pass without waiting one:

    POST /_fileferry/clock {"advance_seconds": 3600}      (or Emulator.clock.advance(3600))
    GET  /_fileferry/clock -> {"now": "2026-...Z", "offset_seconds": 3600.0}

Time only moves forward: the offset cannot be reduced, so a state machine of the emulator never
sees time run backwards.  ``checked_seconds`` is the one range check for every setting in seconds.
"""

from __future__ import annotations

import datetime
import math
import threading
import time
from typing import Any

# One advance may move time forward at most this much (a year): enough for any AWS rule the
# emulator reproduces, small enough that timestamps stay plausible.
MAX_ADVANCE_SECONDS = 366 * 24 * 3600


def checked_seconds(name: str, seconds: Any, maximum: float) -> float:
    """A finite number of seconds from 0 to `maximum`, or ValueError naming `name` and the value.

    Also refuses NaN (which compares false with both bounds), infinities and booleans; a string
    counts if it spells a number (as on a command line).
    """
    value = math.nan
    if not isinstance(seconds, bool):
        try:
            value = float(seconds)
        except (TypeError, ValueError):
            pass
    if not 0 <= value <= maximum:
        raise ValueError(f"{name} must be a number of seconds from 0 to {maximum:g}, got {seconds!r}")
    return value


class Clock:
    """Real time plus a forward-only offset; thread-safe (every request runs on its own thread)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def offset_seconds(self) -> float:
        return self._offset

    def monotonic(self) -> float:
        """Seconds on a monotonic scale, for intervals: time.monotonic() plus the offset."""
        return time.monotonic() + self._offset

    def time(self) -> float:
        """Seconds since the epoch, for timestamps AWS reports: time.time() plus the offset."""
        return time.time() + self._offset

    def now(self) -> datetime.datetime:
        """The emulator's current time, timezone-aware UTC."""
        return datetime.datetime.fromtimestamp(self.time(), datetime.UTC)

    def advance(self, seconds: Any) -> float:
        """Move time forward by `seconds` (0 to MAX_ADVANCE_SECONDS); returns the new offset."""
        step = checked_seconds("advance_seconds", seconds, MAX_ADVANCE_SECONDS)
        with self._lock:
            self._offset += step
            return self._offset

    def describe(self) -> dict[str, Any]:
        now = self.now()
        return {
            "now": f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z",
            "offset_seconds": self._offset,
        }
