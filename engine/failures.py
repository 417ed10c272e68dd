"""Run failures a user can fix themselves, named with the fix: running out of memory on
the GPU or on the CPU. ``engine.train`` turns them into a one-line ``RunFailed`` reason."""

from __future__ import annotations

import re

import torch

OOM_FIX = "lower --batch-size or --width-mult"
# torch's CPU allocator: "can't allocate memory" (posix_memalign) or "not enough memory"
CPU_OOM_WORDS = ("DefaultCPUAllocator", "can't allocate memory", "not enough memory")


def out_of_memory(exc: BaseException, batch_size: int) -> str | None:
    """The one-line reason when ``exc`` means the run ran out of memory, else None."""
    text = str(exc)
    cpu = isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and any(word in text for word in CPU_OOM_WORDS))
    if cpu:
        asked = re.search(r"tried to allocate (\d+) bytes", text)
        size = f" (it asked for {int(asked[1]) / 1e9:.1f} GB more)" if asked else ""
        return f"CPU out of memory at batch size {batch_size}{size}: {OOM_FIX}"
    if isinstance(exc, torch.OutOfMemoryError):
        return f"CUDA out of memory at batch size {batch_size}: {OOM_FIX}"
    return None
