"""Placeholder; the worker commands land with the worker issue."""

from __future__ import annotations


def register(sub) -> None:
    return None
