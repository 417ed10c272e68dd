"""How values read to a person: one formatter for the CLI and the TUI. Stdlib only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

MISSING = "–"


def pct(value: float | None, digits: int = 1, missing: str = MISSING) -> str:
    """0.9312 -> '93.1%'."""
    return missing if value is None else f"{value * 100:.{digits}f}%"


def num(value: float | None, fmt: str = ".4g", missing: str = MISSING) -> str:
    return missing if value is None else format(value, fmt)


def duration(seconds: float | None, missing: str = MISSING) -> str:
    """3s, 4m05s, 13m, 2h07m: at most 5 characters, so it fits a table column."""
    if seconds is None or seconds < 0:
        return missing
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 3600:
        return f"{s // 60}m"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def ago(when: datetime | None, now: datetime, missing: str = MISSING) -> str:
    """'just now', '5m ago', '3h ago', then the date: relative times read fastest."""
    if when is None:
        return missing
    seconds = (now - when).total_seconds()
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60) or 1}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    if seconds < 7 * 86400:
        return f"{int(seconds // 86400)}d ago"
    return when.strftime("%b %d")


def first_line(text: str, limit: int | None = None) -> str:
    """The first non-blank line of ``text`` (an error, a log), cut to ``limit`` with '…'."""
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    if limit is None or len(line) <= limit:
        return line
    return line[: limit - 1] + "…"


def timestamp(when: datetime | None, missing: str = MISSING) -> str:
    """An absolute local time, for places with room for one."""
    return missing if when is None else when.astimezone().strftime("%Y-%m-%d %H:%M")


def setting(value: Any, missing: str = MISSING) -> str:
    """A config value as it was typed: 0.01, not 0.010000."""
    if value is None:
        return missing
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
