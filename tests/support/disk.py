"""A small, really full disk for the tests: a tmpfs of a given size, mounted by root.
Where mounting is not allowed the test is skipped with the reason, never faked."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_tmpfs(folder: Path, size: str = "1m") -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size``, unmounted again however the test ends."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for a full disk needs root")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or 'mount failed'}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path) -> Path:
    """Fill the disk under ``folder`` to the last byte; remove the returned file to undo."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:  # unbuffered: nothing left to fail on close
        try:
            while fh.write(b"\0" * 4096):
                pass
        except OSError:  # ENOSPC: full
            pass
    return filler
