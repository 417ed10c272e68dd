"""Bounded number types for argparse: a value out of range (or too big for the store's
integer columns) is a one-line usage error, never an OverflowError from the driver."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_PAGE = 1_000_000  # --limit/--offset: far beyond any history, well inside SQLite's INTEGER
MAX_WAIT_S = 86_400.0  # cancel --wait: a day


def int_between(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting whole numbers from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number, got {text[:40]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expected a whole number from {low} to {high}, got {text[:40]}")
        return value

    return parse


def seconds_up_to(high: float) -> Callable[[str], float]:
    """An argparse ``type`` accepting a finite number of seconds from 0 to ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number of seconds, got {text[:40]!r}") from None
        if not math.isfinite(value) or not 0 <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expected seconds from 0 to {high:g}, got {text[:40]}")
        return value

    return parse
