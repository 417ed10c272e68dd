"""Read the machine: CPU, RAM and disk (psutil) and each NVIDIA GPU (NVML, via nvidia-ml-py).

Torch- and SQL-free, for the worker's sampler and the TUI's system pane alike. psutil and
pynvml are imported on first use, so importing this module costs nothing. NVML is started
once per process and shut down at exit; a machine without it (no driver, no GPU, no
nvidia-ml-py) reads as no GPUs plus a one-line reason, never an error.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from engine.events import GpuSample, SystemSample

MIB = 1024 * 1024
NO_GPU = "no NVIDIA GPU"
FIRST_CPU_WINDOW_S = 0.1  # psutil's first non-blocking CPU figure is 0.0: measure briefly once

T = TypeVar("T")


@dataclass(frozen=True)
class MachineReading:
    """A sample and, when it has no GPU, why: "no NVIDIA GPU (the reason)"."""

    sample: SystemSample
    no_gpu: str | None


class _Nvml:
    """NVML opened once per process: the module, one handle per GPU, or why there are none."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.opened = False
        self.module: Any = None
        self.gpus: list[tuple[int, str, Any]] = []  # index, name, handle
        self.reason: str | None = None

    def open(self) -> None:
        with self.lock:
            if self.opened:
                return
            self.opened = True
            try:
                import pynvml
            except ImportError:
                self.reason = f"{NO_GPU} (nvidia-ml-py is not installed)"
                return
            try:
                pynvml.nvmlInit()
            except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
                self.reason = f"{NO_GPU} ({_nvml_words(exc)})"
                return
            self.module = pynvml
            atexit.register(self.close)
            self.gpus = _devices(pynvml)
            if not self.gpus:
                self.reason = f"{NO_GPU} (NVML sees no device)"

    def close(self) -> None:
        """Shut NVML down (at exit, or between tests); the next read opens it again."""
        with self.lock:
            if self.module is not None:
                try:
                    self.module.nvmlShutdown()
                except Exception:  # noqa: S110 - nothing left to tell at exit
                    pass
                atexit.unregister(self.close)
            self.opened, self.module, self.gpus, self.reason = False, None, [], None


_NVML = _Nvml()
_CPU_PRIMED = threading.Event()


def _nvml_words(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "Library Not Found" in text or "Driver Not Loaded" in text:
        return f"no NVIDIA driver: {text}"
    return text


def _figure(read: Callable[[], T]) -> T | None:
    """One NVML figure, or None when this GPU cannot tell it (no sensor, a lost GPU)."""
    try:
        return read()
    except Exception:
        return None


def _devices(nvml: Any) -> list[tuple[int, str, Any]]:
    count = _figure(nvml.nvmlDeviceGetCount) or 0
    found = []
    for index in range(count):
        handle = _figure(lambda i=index: nvml.nvmlDeviceGetHandleByIndex(i))
        if handle is None:
            continue
        name = _figure(lambda h=handle: nvml.nvmlDeviceGetName(h))
        if isinstance(name, bytes):  # older bindings answer bytes
            name = name.decode(errors="replace")
        found.append((index, name or f"GPU {index}", handle))
    return found


def _gpu(nvml: Any, index: int, name: str, handle: Any) -> GpuSample:
    memory = _figure(lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
    power_mw = _figure(lambda: nvml.nvmlDeviceGetPowerUsage(handle))
    return GpuSample(
        index=index, name=name,
        util_pct=_figure(lambda: float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)),
        mem_used_mb=None if memory is None else memory.used / MIB,
        mem_total_mb=None if memory is None else memory.total / MIB,
        temp_c=_figure(lambda: float(nvml.nvmlDeviceGetTemperature(
            handle, nvml.NVML_TEMPERATURE_GPU))),
        power_w=None if power_mw is None else power_mw / 1000.0,
    )


def read_gpus() -> tuple[tuple[GpuSample, ...], str | None]:
    """Every GPU's figures, and why there are none when there are none."""
    _NVML.open()
    nvml = _NVML.module
    if nvml is None:
        return (), _NVML.reason
    return tuple(_gpu(nvml, *gpu) for gpu in _NVML.gpus), _NVML.reason


def _existing(path: str | Path) -> Path:
    """The path, or its nearest existing parent: a run folder may not be made yet."""
    place = Path(os.path.abspath(path))
    while not place.exists() and place.parent != place:
        place = place.parent
    return place


def machine_reading(disk_path: str | Path) -> MachineReading:
    """CPU since the last call, RAM, the disk holding ``disk_path``, and each GPU."""
    import psutil

    if _CPU_PRIMED.is_set():
        cpu = psutil.cpu_percent(interval=None)
    else:  # the first non-blocking figure would read 0 %
        cpu = psutil.cpu_percent(interval=FIRST_CPU_WINDOW_S)
        _CPU_PRIMED.set()
    ram = psutil.virtual_memory()
    disk = psutil.disk_usage(str(_existing(disk_path)))
    gpus, no_gpu = read_gpus()
    sample = SystemSample(cpu_pct=float(cpu), ram_used_mb=(ram.total - ram.available) / MIB,
                          ram_total_mb=ram.total / MIB, disk_used_pct=float(disk.percent),
                          gpus=gpus)
    return MachineReading(sample, no_gpu)


def read_machine(disk_path: str | Path) -> SystemSample:
    """The machine now (see ``machine_reading``), as the worker stores it with a run."""
    return machine_reading(disk_path).sample


def close_nvml() -> None:
    """Shut NVML down now rather than at exit (tests swap the pynvml module in and out)."""
    _NVML.close()
