"""The training loop, in named phases that emit events to a callback.

``_train`` reads top to bottom: set up, restore, warm up the compiler, announce,
then per epoch train, close (validate) and checkpoint, and finally evaluate on
the test set. The hot loop never waits on the device: losses stay on it and are
read once per ``log_every`` steps; every host sync is marked ``# host sync``.

It never raises for a run-level problem: divergence, CUDA out of memory, bad
data and bugs all end as a ``RunFailed`` event, so the worker, the CLI and the
tests handle one shape of outcome.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.checkpoint import (  # noqa: F401  (CHECKPOINT_FORMAT, model_from_checkpoint: re-exported)
    CHECKPOINT_FORMAT,
    CheckpointOwnerError,
    CheckpointWriteError,
    check_owner,
    copy_checkpoint,
    load_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from engine.config import RunConfig
from engine.data import DataError, DeviceBatches, load_splits
from engine.events import (
    CheckpointSaved,
    EpochMetrics,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    StepMetrics,
    TrainingEvent,
)
from engine.failures import out_of_memory
from engine.formatting import first_line
from engine.loop_state import Autocast, EpochTotals, Progress, ReadoutWindow, RunParts
from engine.models import build_model, count_parameters
from engine.paths import host_name
from engine.schedule import linear_factor

Emit = Callable[[TrainingEvent], None]


class Diverged(Exception):
    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


def pick_device(requested: str) -> torch.device:
    """auto -> CUDA when present, else CPU; an explicit CUDA request must be satisfiable."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(requested)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DataError(f"--device {requested} asked for CUDA but none is available; "
                            "use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DataError(f"--device {requested}: only {torch.cuda.device_count()} "
                            "CUDA device(s); use cuda:0..")
    return dev


def build_optimizer(model: nn.Module, config: RunConfig,
                    device: torch.device) -> torch.optim.Optimizer:
    fast = {"fused": True} if device.type == "cuda" else {"foreach": True}
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.max_lr, momentum=config.momentum,
                               nesterov=config.nesterov, weight_decay=config.weight_decay,
                               **fast)
    return torch.optim.Adam(model.parameters(), lr=config.max_lr,
                            weight_decay=config.weight_decay, **fast)


def build_scheduler(optimizer: torch.optim.Optimizer, config: RunConfig,
                    total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """One-cycle (stepped every batch) or a linear warm-up then linear decay to zero."""
    if config.schedule == "linear":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: linear_factor(step, total_steps, config.pct_start))
    # Adam keeps the classic notebook's beta1 cycling; SGD keeps its configured momentum.
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.max_lr, total_steps=total_steps, pct_start=config.pct_start,
        cycle_momentum=config.optimizer != "sgd",
    )


def clip_gradients(model: nn.Module, config: RunConfig) -> None:
    if config.grad_clip is None:
        return
    if config.grad_clip_mode == "norm":
        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    else:
        nn.utils.clip_grad_value_(model.parameters(), config.grad_clip)


@torch.no_grad()
def evaluate(model: nn.Module, batches: DeviceBatches, autocast: Autocast, tta: bool = False,
             num_classes: int = 10) -> tuple[float, float, torch.Tensor]:
    """Mean loss, accuracy and the confusion matrix (rows = true class)."""
    model.eval()
    total_loss = torch.zeros((), device=batches.x.device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.long, device=batches.x.device)
    for xb, yb in batches:
        with autocast():
            logits = model(xb)
            if tta:
                logits = (logits + model(xb.flip(3))) / 2
        logits = logits.float()
        total_loss += F.cross_entropy(logits, yb, reduction="sum")
        # index_add_ rather than bincount: bincount syncs with the host on CUDA
        confusion.index_add_(0, yb * num_classes + logits.argmax(1), torch.ones_like(yb))
    n = max(1, len(batches.x))
    confusion = confusion.view(num_classes, num_classes).cpu()  # host sync: once per evaluation
    return total_loss.item() / n, confusion.diag().sum().item() / n, confusion


def _one_line(exc: BaseException) -> str:
    line = first_line(str(exc))
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def train(config: RunConfig, emit: Emit | None = None, *,
          checkpoint_dir: str | Path | None = None,
          should_stop: Callable[[], bool] | None = None,
          resume_from: str | Path | None = None,
          owner: str | None = None) -> TrainingEvent:
    """Train one run; every outcome is emitted and returned as the final event.

    ``owner`` (opaque, e.g. "<store id>/run-<id>") is written into every checkpoint,
    and a ``resume_from`` checkpoint naming another owner is refused."""
    emit = emit or (lambda event: None)
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        final = _train(config, emit, checkpoint_dir, should_stop or (lambda: False), resume_from,
                       owner)
    except Diverged as exc:
        final = RunFailed(reason=str(exc), traceback="", step=exc.step)
    except (DataError, CheckpointOwnerError, CheckpointWriteError) as exc:
        final = RunFailed(reason=str(exc), traceback="")
    except Exception as exc:  # out of memory (the fix named), a bug: keep the whole story
        final = RunFailed(reason=out_of_memory(exc, config.batch_size) or _one_line(exc),
                          traceback="".join(traceback.format_exception(exc)))
    finally:
        torch.use_deterministic_algorithms(deterministic)  # don't leak the CPU setting
    if isinstance(final, RunFailed):
        emit(final)
    return final


def _train(config: RunConfig, emit: Emit, checkpoint_dir: str | Path | None,
           should_stop: Callable[[], bool], resume_from: str | Path | None,
           owner: str | None = None) -> TrainingEvent:
    run = _setup(config, checkpoint_dir)
    run.owner = owner
    progress = _restore(run, resume_from)
    if config.compile:
        progress.compile_seconds = _warm_up_compile(run)
    _announce(run, progress, emit)
    window = ReadoutWindow.empty(config.log_every, run.device)
    for epoch in range(progress.start_epoch + 1, config.epochs + 1):  # 1-based, as events count
        totals = _train_epoch(run, progress, window, epoch, emit, should_stop)
        if isinstance(totals, RunCancelled):
            return totals
        val_acc, improved = _close_epoch(run, progress, totals, epoch, emit)
        _save_checkpoints(run, progress, epoch, val_acc, improved, emit)
        if should_stop():
            return _cancelled(emit, progress.step, epoch)
    return _finish(run, progress, emit)


def _setup(config: RunConfig, checkpoint_dir: str | Path | None) -> RunParts:
    """Seed, data on the device, model, optimizer and schedule."""
    config.validate()
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        torch.use_deterministic_algorithms(True, warn_only=True)

    splits = load_splits(config)
    train_batches = DeviceBatches(splits.train_x, splits.train_y, config.batch_size, device,
                                  augment=config.augment, shuffle=True, seed=config.seed,
                                  channels_last=cuda)

    def eval_batches(x: torch.Tensor, y: torch.Tensor) -> DeviceBatches:  # in order, unaugmented
        return DeviceBatches(x, y, max(config.batch_size, 512), device, False, False, 0, cuda)

    val_batches = eval_batches(splits.val_x, splits.val_y) if len(splits.val_x) else None
    test_batches = (eval_batches(splits.test_x, splits.test_y)
                    if splits.test_x is not None else None)

    model = build_model(config.model, config.width_mult, num_classes=len(splits.class_names),
                        logit_scale=config.logit_scale).to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, config, device)
    scheduler = build_scheduler(optimizer, config, len(train_batches) * config.epochs)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else nullcontext
    return RunParts(
        config=config, device=device, splits=splits, train_batches=train_batches,
        val_batches=val_batches, test_batches=test_batches, model=model, optimizer=optimizer,
        scheduler=scheduler, criterion=nn.CrossEntropyLoss(label_smoothing=config.label_smoothing),
        autocast=autocast, checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
        train_model=model,
    )


def _restore(run: RunParts, resume_from: str | Path | None) -> Progress:
    """Weights, optimizer, schedule position and metrics so far from a checkpoint."""
    progress = Progress()
    if not resume_from:
        return progress
    ckpt = load_checkpoint(resume_from)
    check_owner(ckpt, resume_from, run.owner)
    run.model.load_state_dict(ckpt["state_dict"])
    run.optimizer.load_state_dict(ckpt["optimizer"])
    progress.start_epoch, progress.best_val_acc = int(ckpt["epoch"]), ckpt.get("best_val_acc")
    progress.history = ckpt.get("history") or progress.history
    progress.step = progress.start_epoch * run.steps_per_epoch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(progress.step):
            run.scheduler.step()  # fast-forward the per-batch schedule to where the run stopped
    return progress


def _warm_up_compile(run: RunParts) -> float:
    """Compile now on throwaway steps, not in epoch 1; returns the seconds it took."""
    t0 = time.perf_counter()
    run.train_model = torch.compile(run.model)
    state = {k: v.clone() for k, v in run.model.state_dict().items()}
    xb, yb = next(iter(run.train_batches))
    tail = len(run.train_batches.x) % run.config.batch_size
    for size in {len(yb), tail} - {0}:  # the last partial batch has its own shape
        with run.autocast():
            run.criterion(run.train_model(xb[:size]), yb[:size]).backward()
    run.optimizer.zero_grad(set_to_none=True)
    run.model.load_state_dict(state)  # the warm-up steps leave no trace on the weights
    return time.perf_counter() - t0


def _announce(run: RunParts, progress: Progress, emit: Emit) -> None:
    """RunStarted, then a replay of what came before the resume point (idempotent in the store)."""
    splits, config = run.splits, run.config
    emit(RunStarted(
        config=config.to_dict(), device=str(run.device), host=host_name(),
        torch_version=str(torch.__version__), num_params=count_parameters(run.model),
        num_train=len(splits.train_x), num_val=len(splits.val_x),
        num_test=0 if splits.test_x is None else len(splits.test_x),
        steps_per_epoch=run.steps_per_epoch, total_steps=run.steps_per_epoch * config.epochs,
        start_epoch=progress.start_epoch, dataset_note=splits.note,
    ))
    for row in progress.history["steps"]:  # [step, epoch, loss, lr, images_per_s]
        emit(StepMetrics(step=int(row[0]), epoch=int(row[1]), loss=row[2], lr=row[3],
                         images_per_s=row[4]))
    for row in progress.history["epochs"]:
        emit(EpochMetrics(**row))


def _train_epoch(run: RunParts, progress: Progress, window: ReadoutWindow, epoch: int, emit: Emit,
                 should_stop: Callable[[], bool]) -> EpochTotals | RunCancelled:
    """The hot loop: no host sync except the read-out every ``log_every`` steps."""
    run.model.train()
    totals = EpochTotals.start(run.device, time.perf_counter())
    window.restart(totals.started)
    for xb, yb in run.train_batches:
        loss, logits, lr = _train_step(run, xb, yb)
        progress.step += 1
        window.add(loss, lr, len(yb))
        totals.add(loss, logits, yb)
        if window.size == run.config.log_every or totals.seen == len(run.train_batches.x):
            _read_out(progress, window, epoch, emit)
            if should_stop():
                return _cancelled(emit, progress.step, epoch)
    return totals


def _train_step(run: RunParts, xb: torch.Tensor,
                yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """One optimizer step; returns the loss (on the device), the logits and the lr it ran at."""
    with run.autocast():
        logits = run.train_model(xb)
        loss = run.criterion(logits, yb)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clip_gradients(run.model, run.config)
    run.optimizer.step()
    lr = run.optimizer.param_groups[0]["lr"]  # a host float, read before the schedule moves it
    run.scheduler.step()
    return loss.detach().float(), logits, lr


def _read_out(progress: Progress, window: ReadoutWindow, epoch: int, emit: Emit) -> None:
    """Check the window's losses and emit their mean as StepMetrics; raise if one diverged."""
    values = window.losses[:window.size].tolist()  # host sync: once per read-out window
    bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    if bad is not None:
        at = progress.step - window.size + bad + 1
        raise Diverged(f"diverged at step {at} (lr={window.lrs[bad]:.3g}): loss is {values[bad]}",
                       at)
    now = time.perf_counter()
    metrics = StepMetrics(step=progress.step, epoch=epoch, loss=sum(values) / window.size,
                          lr=window.lrs[window.size - 1],
                          images_per_s=window.images / max(now - window.started, 1e-9))
    progress.history["steps"].append(
        [metrics.step, metrics.epoch, metrics.loss, metrics.lr, metrics.images_per_s])
    emit(metrics)
    window.restart(now)


def _close_epoch(run: RunParts, progress: Progress, totals: EpochTotals, epoch: int,
                 emit: Emit) -> tuple[float | None, bool]:
    """Validate and emit EpochMetrics; returns the val accuracy and whether it is the best."""
    train_time = time.perf_counter() - totals.started
    progress.train_seconds += train_time
    train_loss = totals.loss_sum.item() / totals.seen  # host sync: once per epoch
    val_loss = val_acc = None
    if run.val_batches is not None:
        val_loss, val_acc, _ = evaluate(run.model, run.val_batches, run.autocast, run.config.tta,
                                        run.num_classes)
        progress.final_val_acc = val_acc
    improved = val_acc is not None and (progress.best_val_acc is None
                                        or val_acc > progress.best_val_acc)
    if improved:
        progress.best_val_acc = val_acc
    metrics = EpochMetrics(
        epoch=epoch, train_loss=train_loss,
        train_acc=totals.correct.item() / totals.seen,  # host sync: once per epoch
        val_loss=val_loss, val_acc=val_acc, lr=run.optimizer.param_groups[0]["lr"],
        seconds=time.perf_counter() - totals.started,
        images_per_s=totals.seen / max(train_time, 1e-9), step=progress.step,
    )
    progress.history["epochs"].append(asdict(metrics))
    emit(metrics)
    return val_acc, improved


def _save_checkpoints(run: RunParts, progress: Progress, epoch: int, val_acc: float | None,
                      improved: bool, emit: Emit) -> None:
    """last.pt every epoch; best.pt when val accuracy improved (every epoch without val)."""
    if run.checkpoint_dir is None:
        return
    progress.last_path = run.checkpoint_dir / "last.pt"
    save_checkpoint(progress.last_path, run.model, run.optimizer, run.config, epoch,
                    progress.step, val_acc, progress.best_val_acc, run.splits.class_names,
                    progress.history, owner=run.owner)
    emit(CheckpointSaved(epoch=epoch, path=str(progress.last_path), kind="last"))
    if improved or run.val_batches is None:
        progress.best_path = run.checkpoint_dir / "best.pt"
        copy_checkpoint(progress.last_path, progress.best_path)  # the same state as last.pt
        emit(CheckpointSaved(epoch=epoch, path=str(progress.best_path), kind="best"))


def _finish(run: RunParts, progress: Progress, emit: Emit) -> RunFinished:
    """Evaluate on the test set and emit RunFinished."""
    test_loss = test_acc = per_class = confusion_list = None
    if run.test_batches is not None:
        test_loss, test_acc, confusion = evaluate(run.model, run.test_batches, run.autocast,
                                                  run.config.tta, run.num_classes)
        per_class = (confusion.diag().float() / confusion.sum(1).clamp(min=1)).tolist()
        confusion_list = confusion.tolist()
    best_path, ckpt_dir = progress.best_path, run.checkpoint_dir
    if ckpt_dir is not None and best_path is None and (ckpt_dir / "best.pt").exists():
        best_path = ckpt_dir / "best.pt"  # a resumed run whose best epoch came before the resume
    total_images = len(run.splits.train_x) * (run.config.epochs - progress.start_epoch)
    finished = RunFinished(
        best_val_acc=progress.best_val_acc, final_val_acc=progress.final_val_acc,
        test_loss=test_loss, test_acc=test_acc, per_class_acc=per_class,
        confusion=confusion_list, class_names=list(run.splits.class_names),
        train_seconds=progress.train_seconds,
        images_per_s=total_images / max(progress.train_seconds, 1e-9),
        compile_seconds=progress.compile_seconds,
        checkpoint_best=str(best_path) if best_path else None,
        checkpoint_last=str(progress.last_path) if progress.last_path else None,
    )
    emit(finished)
    return finished


def _cancelled(emit: Emit, step: int, epoch: int) -> RunCancelled:
    event = RunCancelled(step=step, epoch=epoch)
    emit(event)
    return event
