"""Whether this machine has a device, asked before a worker claims any run.

torch is imported only for a CUDA request: a CPU or auto worker stays torch-free
until its training child starts.
"""

from __future__ import annotations


def device_problem(device: str) -> str | None:
    """Why this machine cannot train on ``device`` (already a valid device name), as one
    line with the fix; None when it can. ``auto`` always can: it falls back to the CPU."""
    head, _, index = device.partition(":")
    if head != "cuda":
        return None
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count and (not index or int(index) < count):
        return None
    choices = f"use cuda:0..cuda:{count - 1}, cpu or auto" if count else "use --device cpu or auto"
    return f"no CUDA device {device} on this machine ({count} visible); {choices}"
