"""Which devices a worker serves: `--devices all` or a list, and the GPUs this process sees.

Torch-free and SQL-free (the launcher uses it, and the launcher is the TUI's). GPUs are
counted with NVML (worker.machine) and filtered by CUDA_VISIBLE_DEVICES as CUDA would:
the list is read up to its first entry that names no GPU, and a UUID entry counts as a
GPU whose NVML index is unknown. Only where NVML cannot answer but a GPU driver node
exists (/dev/nvidiactl, or /dev/kfd for ROCm) is torch asked, in a subprocess, so the
caller never imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

VISIBLE_ENV = "CUDA_VISIBLE_DEVICES"
DRIVER_NODES = ("/dev/nvidiactl", "/dev/kfd")
TORCH_COUNT_TIMEOUT_S = 60.0


class DeviceListError(ValueError):
    """A --devices value that cannot be served; one line naming the fix."""


def parse_devices(spec: str, discover: Callable[[], list[str]] | None = None) -> list[str]:
    """``all`` (every visible GPU, else the CPU) or a comma list such as ``cuda:0,cuda:2``
    or ``cpu:0,cpu:1`` (CPU "devices" let one machine test several slots). ``cuda`` means
    ``cuda:0``; ``auto`` is a single-device worker's (`--device auto`), not a list's."""
    words = [word.strip().lower() for word in spec.split(",")]
    if words == ["all"]:
        return (discover or discover_devices)()
    devices: list[str] = []
    for word in words:
        device = _one_device(word)
        if device in devices:
            raise DeviceListError(f"--devices names {device} twice; name each device once")
        devices.append(device)
    return devices


def _one_device(word: str) -> str:
    head, colon, index = word.partition(":")
    if head in ("cpu", "cuda") and (not colon or index.isdecimal()):
        return "cuda:0" if word == "cuda" else word
    raise DeviceListError(f"--devices: {word or '(empty)'!r} is not a device; use all, or a "
                          "comma list of cuda:N or cpu:N (e.g. cuda:0,cuda:2)")


def visible_gpus(nvml_count: int, env: Mapping[str, str] | None = None) -> list[int | None]:
    """The NVML index of each GPU this process sees, in CUDA's order (cuda:0 first);
    None for one named by UUID. ``nvml_count`` is how many GPUs NVML sees."""
    env = os.environ if env is None else env
    raw = env.get(VISIBLE_ENV)
    if raw is None:
        return list(range(nvml_count))
    seen: list[int | None] = []
    for entry in (part.strip() for part in raw.split(",")):
        if entry.startswith(("GPU-", "MIG-")):
            seen.append(None)
        elif entry.isdecimal() and int(entry) < nvml_count and int(entry) not in seen:
            seen.append(int(entry))
        else:  # "", "-1", a missing or repeated index: CUDA stops reading here
            break
    return seen


def nvml_index(device: str, env: Mapping[str, str] | None = None,
               nvml_count: int | None = None) -> int | None:
    """The NVML index of ``cuda:N`` as this process sees it, or None when unknown."""
    head, _, index = device.partition(":")
    if head != "cuda":
        return None
    count = nvml_gpu_count() if nvml_count is None else nvml_count
    visible = visible_gpus(count or 0, env)
    position = int(index or 0)
    return visible[position] if position < len(visible) else None


def nvml_gpu_count() -> int | None:
    """GPUs NVML sees, or None when NVML cannot be read here."""
    from worker.machine import read_gpus

    gpus, why = read_gpus()
    if gpus:
        return len(gpus)
    return 0 if why and "NVML sees no device" in why else None


def torch_gpu_count() -> int:
    """torch's count, asked in a subprocess (the caller stays torch-free); 0 on any failure."""
    code = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=TORCH_COUNT_TIMEOUT_S, check=False)
        return int(out.stdout.strip() or 0)
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0


def visible_gpu_count(env: Mapping[str, str] | None = None,
                      nvml_count: Callable[[], int | None] = nvml_gpu_count,
                      torch_count: Callable[[], int] = torch_gpu_count,
                      driver_nodes: tuple[str, ...] = DRIVER_NODES) -> int:
    """GPUs this process may train on: NVML filtered by CUDA_VISIBLE_DEVICES; torch in a
    subprocess only when NVML cannot tell and a GPU driver is there."""
    count = nvml_count()
    if count is not None:
        return len(visible_gpus(count, env))
    if any(Path(node).exists() for node in driver_nodes):
        return torch_count()  # it honours CUDA_VISIBLE_DEVICES itself
    return 0


def discover_devices(count: Callable[[], int] = visible_gpu_count) -> list[str]:
    """Every visible GPU (cuda:0..), or the CPU when there is none."""
    gpus = count()
    return [f"cuda:{i}" for i in range(gpus)] if gpus else ["cpu"]
