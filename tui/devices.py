"""Which devices this machine has, without torch: the form refuses a GPU that is not there.

/proc/driver/nvidia/gpus (one folder per GPU) or `nvidia-smi -L` count NVIDIA GPUs. When
neither answers the count is unknown (a ROCm build of torch also calls its GPUs cuda), so the
form warns instead of refusing.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

PROC_GPUS = Path("/proc/driver/nvidia/gpus")


@cache
def gpu_count() -> int | None:
    """NVIDIA GPUs on this machine, or None when there is no way to tell."""
    if PROC_GPUS.is_dir():
        return sum(1 for p in PROC_GPUS.iterdir() if p.is_dir())
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=3, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return 0 if "couldn't communicate" in out.stdout + out.stderr else None
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


def device_check(device: str) -> tuple[str | None, str | None]:
    """(problem, warning) for a device the config rules already accept."""
    if device in ("auto", "cpu") or not device.startswith("cuda"):
        return None, None
    index = int(device.partition(":")[2] or 0)
    count = gpu_count()
    if count is None:
        return None, f"cannot tell whether this machine has {device} (no nvidia-smi)"
    if index >= count:
        have = "no NVIDIA GPU" if count == 0 else f"{count} GPU(s): cuda:0..cuda:{count - 1}"
        return f"this machine has no {device}; it has {have} (use auto or cpu)", None
    return None, None
