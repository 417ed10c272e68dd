"""The state the training loop's phases share, as small dataclasses.

``RunParts`` is what setup builds and never changes; ``Progress`` is what moves
as the run trains (and what a checkpoint carries to a resumed run);
``ReadoutWindow`` and ``EpochTotals`` keep step losses on the device so the hot
loop never waits on it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from engine.config import RunConfig
from engine.data import CifarSplits, DeviceBatches

Autocast = Callable[[], AbstractContextManager]


@dataclass
class RunParts:
    """What setup builds: the same for the whole run."""

    config: RunConfig
    device: torch.device
    splits: CifarSplits
    train_batches: DeviceBatches
    val_batches: DeviceBatches | None
    test_batches: DeviceBatches | None
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    criterion: nn.Module
    autocast: Autocast
    checkpoint_dir: Path | None
    train_model: nn.Module  # the model, or its compiled wrapper (same weights)
    owner: str | None = None  # the store and run its checkpoints belong to (opaque)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train_batches)

    @property
    def num_classes(self) -> int:
        return len(self.splits.class_names)


@dataclass
class Progress:
    """What changes as the run trains; a checkpoint carries it to a resumed run."""

    start_epoch: int = 0
    step: int = 0
    best_val_acc: float | None = None
    final_val_acc: float | None = None
    history: dict[str, list] = field(default_factory=lambda: {"epochs": [], "steps": []})
    train_seconds: float = 0.0
    compile_seconds: float = 0.0
    best_path: Path | None = None
    last_path: Path | None = None


@dataclass
class ReadoutWindow:
    """Step losses kept on the device between read-outs, with the lr each step ran at."""

    losses: torch.Tensor  # (log_every,) on the device
    lrs: list[float]  # host floats
    size: int = 0
    images: int = 0
    started: float = 0.0

    @classmethod
    def empty(cls, log_every: int, device: torch.device) -> ReadoutWindow:
        return cls(torch.zeros(log_every, device=device), [0.0] * log_every)

    def restart(self, now: float) -> None:
        self.size, self.images, self.started = 0, 0, now

    def add(self, loss: torch.Tensor, lr: float, images: int) -> None:
        self.losses[self.size] = loss  # a device copy, no host sync
        self.lrs[self.size] = lr
        self.size += 1
        self.images += images


@dataclass
class EpochTotals:
    """One epoch's training loss and accuracy, summed on the device."""

    loss_sum: torch.Tensor
    correct: torch.Tensor
    started: float
    seen: int = 0

    @classmethod
    def start(cls, device: torch.device, now: float) -> EpochTotals:
        return cls(torch.zeros((), device=device),
                   torch.zeros((), dtype=torch.long, device=device), now)

    def add(self, loss: torch.Tensor, logits: torch.Tensor, yb: torch.Tensor) -> None:
        self.loss_sum += loss * len(yb)
        self.correct += (logits.argmax(1) == yb).sum()
        self.seen += len(yb)
