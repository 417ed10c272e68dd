"""A fake machine reader for the system pane: fixed figures, two GPUs (one without a power
sensor), or none with NVML's reason. No GPU is at hand, so the GPU path is faked here."""

from __future__ import annotations

from dataclasses import replace

from engine.events import GpuSample, SystemSample
from worker.machine import MachineReading

GPUS = (
    GpuSample(index=0, name="NVIDIA H100 80GB HBM3", util_pct=97.0, mem_used_mb=61_440.0,
              mem_total_mb=81_559.0, temp_c=78.0, power_w=612.4),
    GpuSample(index=1, name="NVIDIA A10", util_pct=3.0, mem_used_mb=512.0,
              mem_total_mb=23_028.0, temp_c=38.0, power_w=None),  # no power sensor
)


class FakeMachine:
    """Fixed figures; each read moves the CPU and GPU 0 on, so refreshes can be seen."""

    def __init__(self, gpus: tuple[GpuSample, ...] = GPUS, no_gpu: str | None = None) -> None:
        self.gpus, self.no_gpu, self.reads = gpus, no_gpu, 0

    def __call__(self) -> MachineReading:
        self.reads += 1
        step = self.reads - 1
        gpus = tuple(g if g.index else replace(g, util_pct=(97.0 - 11 * step) % 101)
                     for g in self.gpus)
        sample = SystemSample(cpu_pct=(41.0 + 13 * step) % 101, ram_used_mb=5_324.8,
                              ram_total_mb=15_974.4, disk_used_pct=63.0, gpus=gpus, time=0.0)
        return MachineReading(sample, self.no_gpu)


NO_DRIVER = "no NVIDIA GPU (no NVIDIA driver: NVML Shared Library Not Found)"
