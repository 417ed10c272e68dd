"""Events the training loop emits: plain, picklable dataclasses, never tensors.

The one definition shared by the engine, the worker, the store and the TUI.
Pure stdlib so the UI side can import it without torch.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class RunStarted:
    config: dict[str, Any]
    device: str
    host: str
    torch_version: str
    num_params: int
    num_train: int
    num_val: int
    num_test: int
    steps_per_epoch: int
    total_steps: int
    start_epoch: int = 0
    dataset_note: str = ""
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class StepMetrics:
    """Mean training loss over the last ``log_every`` steps, emitted at a bounded rate."""

    step: int
    epoch: int
    loss: float
    lr: float
    images_per_s: float
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    lr: float
    seconds: float
    images_per_s: float
    step: int = 0
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class CheckpointSaved:
    epoch: int
    path: str
    kind: str  # "best" or "last"


@dataclass(frozen=True)
class RunFinished:
    best_val_acc: float | None
    final_val_acc: float | None
    test_loss: float | None
    test_acc: float | None
    per_class_acc: list[float] | None
    confusion: list[list[int]] | None
    class_names: list[str]
    train_seconds: float
    images_per_s: float
    compile_seconds: float = 0.0
    checkpoint_best: str | None = None
    checkpoint_last: str | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class RunFailed:
    reason: str  # one line, for lists and the CLI
    traceback: str = ""  # full detail, for the run's detail view
    step: int | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class RunCancelled:
    step: int
    epoch: int
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class GpuSample:
    """One NVIDIA GPU at one instant (NVML). A figure NVML cannot read is None."""

    index: int
    name: str
    util_pct: float | None = None
    mem_used_mb: float | None = None
    mem_total_mb: float | None = None
    temp_c: float | None = None
    power_w: float | None = None


@dataclass(frozen=True)
class SystemSample:
    """The machine at one instant, sampled by the worker while a run trains."""

    cpu_pct: float
    ram_used_mb: float
    ram_total_mb: float
    disk_used_pct: float
    gpus: tuple[GpuSample, ...] = ()
    time: float = field(default_factory=_now)


TrainingEvent = (
    RunStarted | StepMetrics | EpochMetrics | CheckpointSaved
    | RunFinished | RunFailed | RunCancelled
)
TERMINAL_EVENTS = (RunFinished, RunFailed, RunCancelled)


def event_to_dict(event: TrainingEvent) -> dict[str, Any]:
    """A JSON-ready dict with the event's type name under ``"event"``."""
    return {"event": type(event).__name__, **asdict(event)}
