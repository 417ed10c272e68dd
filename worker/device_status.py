"""Per device, what a live worker is doing: the runs it trains (with images/s) and, where
NVML is present, its GPU's memory and utilisation. For `worker --status` and the TUI's
workers panel alike; torch-free, and the store is the caller's (no SQL here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.device_match import accepts
from engine.events import GpuSample
from engine.paths import host_name
from worker.device_list import nvml_index
from worker.launcher import WorkerInfo, parse_worker_id

if TYPE_CHECKING:
    from storage.runs import RunStore


@dataclass(frozen=True)
class TrainingRun:
    run_id: int
    name: str
    images_per_s: float | None
    slot: int = 0
    slurm_job: str | None = None


def training_runs(store: RunStore) -> dict[tuple[int, str], list[TrainingRun]]:
    """This store's running runs by the (pid, device) of the local worker training them."""
    from storage.records import RunFilter

    host = host_name()
    found: dict[tuple[int, str], list[TrainingRun]] = {}
    for summary in store.list_runs(RunFilter(status="running"), limit=100):
        who = parse_worker_id(store.get_run(summary.id).worker_id)
        if who is None or who.host != host or who.pid is None:
            continue
        run = TrainingRun(summary.id, summary.name, summary.images_per_s, who.slot,
                          who.slurm_job)
        found.setdefault((who.pid, who.device), []).append(run)
    for runs in found.values():
        runs.sort(key=lambda r: r.slot)
    return found


def gpu_of(device: str, gpus: Iterable[GpuSample],
           env: Mapping[str, str] | None = None) -> GpuSample | None:
    """The NVML reading of ``cuda:N`` (CUDA_VISIBLE_DEVICES honoured), else None."""
    gpus = list(gpus)
    index = nvml_index(device, env, nvml_count=len(gpus)) if gpus else None
    return next((g for g in gpus if g.index == index), None)


def gpu_words(gpu: GpuSample | None, compact: bool = False) -> str:
    """``GPU 87% 10.2/80.0 GB`` (compact: ``GPU 87% 10/80G``; a figure NVML cannot read is
    ?), or "" without a reading."""
    if gpu is None:
        return ""
    util = "?" if gpu.util_pct is None else f"{gpu.util_pct:.0f}%"
    if gpu.mem_used_mb is None or gpu.mem_total_mb is None:
        return f"GPU {util} ?/?{'G' if compact else ' GB'}"
    used, total = gpu.mem_used_mb / 1024, gpu.mem_total_mb / 1024
    if compact:
        return f"GPU {util} {used:.{1 if used < 10 else 0}f}/{total:.0f}G"
    return f"GPU {util} {used:.1f}/{total:.1f} GB"


def speed_words(images_per_s: float | None) -> str:
    return "" if images_per_s is None else f"{images_per_s:,.0f} img/s"


def run_words(run: TrainingRun, width: int = 24) -> str:
    text = f"#{run.run_id} {run.name}"
    return text if len(text) <= width else text[:width - 1] + "…"


def status_lines(info: WorkerInfo, runs: list[TrainingRun], gpu: GpuSample | None,
                 mine: bool) -> list[str]:
    """A device's lines for `worker --status`: one per run it trains (or "idle"), each
    within 80 columns; its GPU's figures on the first."""
    gpu_text = gpu_words(gpu)
    if not runs:
        return [f"  {info.device:<8} {'idle' if mine else '–':<26} {gpu_text}".rstrip()]
    lines = []
    for n, run in enumerate(runs):
        device = info.device if n == 0 else ""
        tail = gpu_text if n == 0 else ""
        lines.append(f"  {device:<8} {run_words(run):<24} {speed_words(run.images_per_s):>12}"
                     f"  {tail}".rstrip())
    return lines


def unserved_runs(store, devices: list[str]) -> list[tuple[int, str]]:
    """Queued runs (id, requested device) that none of ``devices`` may claim: they wait
    for a worker elsewhere (a CPU-only worker leaves cuda:N runs queued)."""
    from storage.records import RunFilter

    waiting = []
    for summary in store.list_runs(RunFilter(status="queued"), limit=100):
        requested = str(store.get_run(summary.id).config.get("device") or "auto")
        if not any(accepts(device, requested) for device in devices):
            waiting.append((summary.id, requested))
    return waiting
