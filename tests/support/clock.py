"""A settable clock for ``RunStore(clock=...)``: stored times are the same every run."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


class FixedTime:
    """Returns the time it was last set to; tests move it on instead of sleeping."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: float) -> None:
        """Set the time to ``minutes`` after T0."""
        self.now = T0 + timedelta(minutes=minutes)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
