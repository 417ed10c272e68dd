"""The training loop: one readable function that emits events to a callback.

It never raises for a run-level problem: divergence, CUDA out of memory, bad
data and bugs all end as a ``RunFailed`` event, so the worker, the CLI and the
tests handle one shape of outcome.
"""

from __future__ import annotations

import math
import shutil
import socket
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
from engine.models import build_model, count_parameters
from engine.schedule import linear_factor

Emit = Callable[[TrainingEvent], None]
CHECKPOINT_FORMAT = 1


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
            raise DataError(f"--device {requested} asked for CUDA but none is available; use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DataError(f"--device {requested}: only {torch.cuda.device_count()} CUDA device(s); use cuda:0..")
    return dev


def build_optimizer(model: nn.Module, config: RunConfig, device: torch.device) -> torch.optim.Optimizer:
    fast = {"fused": True} if device.type == "cuda" else {"foreach": True}
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.max_lr, momentum=config.momentum,
                               nesterov=True, weight_decay=config.weight_decay, **fast)
    return torch.optim.Adam(model.parameters(), lr=config.max_lr, weight_decay=config.weight_decay, **fast)


def build_scheduler(optimizer: torch.optim.Optimizer, config: RunConfig, total_steps: int):
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
def evaluate(model: nn.Module, batches: DeviceBatches, autocast, tta: bool = False,
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
    confusion = confusion.view(num_classes, num_classes).cpu()
    return total_loss.item() / n, confusion.diag().sum().item() / n, confusion


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, config: RunConfig,
                    epoch: int, step: int, val_acc: float | None, best_val_acc: float | None,
                    class_names: list[str], history: dict | None = None) -> None:
    """state_dict plus the config, loadable with plain ``torch.load`` (weights_only too).

    ``history`` holds the metrics so far as plain lists, so a resumed run can
    replay any its recorder never saw (its supervisor may have died first).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    model_state = getattr(model, "_orig_mod", model).state_dict()
    tmp = path.with_suffix(".tmp")
    torch.save({
        "format": CHECKPOINT_FORMAT,
        "state_dict": model_state,
        "optimizer": optimizer.state_dict(),
        "config": config.to_dict(),
        "epoch": epoch,
        "step": step,
        "val_acc": val_acc,
        "best_val_acc": best_val_acc,
        "class_names": list(class_names),
        "history": history or {"epochs": [], "steps": []},
    }, tmp)
    tmp.replace(path)  # atomic: a killed run never leaves half a checkpoint


def load_checkpoint(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def model_from_checkpoint(path: str | Path) -> tuple[nn.Module, RunConfig]:
    ckpt = load_checkpoint(path)
    config = RunConfig.from_dict(ckpt["config"])
    model = build_model(config.model, config.width_mult, logit_scale=config.logit_scale)
    model.load_state_dict(ckpt["state_dict"])
    return model, config


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def train(config: RunConfig, emit: Emit | None = None, *, checkpoint_dir: str | Path | None = None,
          should_stop: Callable[[], bool] | None = None, resume_from: str | Path | None = None) -> TrainingEvent:
    """Train one run; every outcome is emitted and returned as the final event."""
    emit = emit or (lambda event: None)
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        final = _train(config, emit, checkpoint_dir, should_stop, resume_from)
    except Diverged as exc:
        final = RunFailed(reason=str(exc), traceback="", step=exc.step)
    except DataError as exc:
        final = RunFailed(reason=str(exc), traceback="")
    except torch.OutOfMemoryError as exc:
        final = RunFailed(
            reason=f"CUDA out of memory at batch size {config.batch_size}: lower --batch-size or --width-mult",
            traceback="".join(traceback.format_exception(exc)),
        )
    except Exception as exc:  # a bug or an environment problem: keep the whole story for the detail view
        final = RunFailed(reason=_one_line(exc), traceback="".join(traceback.format_exception(exc)))
    finally:
        torch.use_deterministic_algorithms(deterministic)  # don't leak the CPU setting to the caller
    if isinstance(final, RunFailed):
        emit(final)
    return final


def _train(config: RunConfig, emit: Emit, checkpoint_dir, should_stop, resume_from) -> TrainingEvent:
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
                                  augment=config.augment, shuffle=True, seed=config.seed, channels_last=cuda)
    eval_bs = max(config.batch_size, 512)
    val_batches = (DeviceBatches(splits.val_x, splits.val_y, eval_bs, device, False, False, 0, cuda)
                   if len(splits.val_x) else None)
    test_batches = (DeviceBatches(splits.test_x, splits.test_y, eval_bs, device, False, False, 0, cuda)
                    if splits.test_x is not None else None)

    model = build_model(config.model, config.width_mult, num_classes=len(splits.class_names),
                        logit_scale=config.logit_scale).to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, config, device)
    steps_per_epoch = len(train_batches)
    total_steps = steps_per_epoch * config.epochs
    scheduler = build_scheduler(optimizer, config, total_steps)

    start_epoch, best_val_acc = 0, None
    history: dict[str, list] = {"epochs": [], "steps": []}
    if resume_from:
        ckpt = load_checkpoint(resume_from)
        model.load_state_dict(ckpt["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
        start_epoch, best_val_acc = int(ckpt["epoch"]), ckpt.get("best_val_acc")
        history = ckpt.get("history") or history
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(start_epoch * steps_per_epoch):
                scheduler.step()  # fast-forward the per-batch schedule to where the run stopped

    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else nullcontext
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    train_model = model
    compile_seconds = 0.0
    if config.compile:
        t0 = time.perf_counter()
        train_model = torch.compile(model)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        xb, yb = next(iter(train_batches))
        tail = len(train_batches.x) % config.batch_size
        for size in {len(yb), tail} - {0}:  # the last partial batch has its own shape
            with autocast():
                criterion(train_model(xb[:size]), yb[:size]).backward()  # compile now, not in epoch 1
        optimizer.zero_grad(set_to_none=True)
        model.load_state_dict(state)
        compile_seconds = time.perf_counter() - t0

    emit(RunStarted(
        config=config.to_dict(), device=str(device), host=socket.gethostname(), torch_version=str(torch.__version__),
        num_params=count_parameters(model), num_train=len(splits.train_x), num_val=len(splits.val_x),
        num_test=0 if splits.test_x is None else len(splits.test_x), steps_per_epoch=steps_per_epoch,
        total_steps=total_steps, start_epoch=start_epoch, dataset_note=splits.note,
    ))
    for row in history["steps"]:  # replay what came before the resume point (idempotent in the store)
        emit(StepMetrics(step=int(row[0]), epoch=int(row[1]), loss=row[2], lr=row[3], images_per_s=row[4]))
    for row in history["epochs"]:
        emit(EpochMetrics(**row))

    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir else None
    best_path = last_path = None
    final_val_acc = None
    step = start_epoch * steps_per_epoch
    train_seconds = 0.0
    window = torch.zeros(config.log_every, device=device)
    window_lrs = [0.0] * config.log_every  # host floats: the lr each step of the window ran at
    for epoch in range(start_epoch, config.epochs):
        model.train()
        t_epoch = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        seen, w_i, t_window, w_images = 0, 0, time.perf_counter(), 0
        for xb, yb in train_batches:
            with autocast():
                logits = train_model(xb)
                loss = criterion(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            clip_gradients(model, config)
            optimizer.step()
            lr = optimizer.param_groups[0]["lr"]
            window_lrs[w_i] = lr
            scheduler.step()
            step += 1
            detached = loss.detach().float()
            window[w_i] = detached
            loss_sum += detached * len(yb)
            correct += (logits.argmax(1) == yb).sum()
            seen += len(yb)
            w_images += len(yb)
            w_i += 1
            if w_i == config.log_every or seen == len(train_batches.x):
                values = window[:w_i].tolist()  # the one host sync every log_every steps
                bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
                if bad is not None:
                    at = step - w_i + bad + 1
                    raise Diverged(f"diverged at step {at} (lr={window_lrs[bad]:.3g}): loss is {values[bad]}", at)
                now = time.perf_counter()
                metrics = StepMetrics(step=step, epoch=epoch + 1, loss=sum(values) / w_i, lr=lr,
                                      images_per_s=w_images / max(now - t_window, 1e-9))
                history["steps"].append([metrics.step, metrics.epoch, metrics.loss, metrics.lr, metrics.images_per_s])
                emit(metrics)
                w_i, w_images, t_window = 0, 0, now
                if should_stop is not None and should_stop():
                    return _cancelled(emit, step, epoch + 1)
        train_time = time.perf_counter() - t_epoch
        train_seconds += train_time
        train_loss = loss_sum.item() / seen
        val_loss = val_acc = None
        if val_batches is not None:
            val_loss, val_acc, _ = evaluate(model, val_batches, autocast, config.tta, len(splits.class_names))
            final_val_acc = val_acc
        improved = val_acc is not None and (best_val_acc is None or val_acc > best_val_acc)
        if improved:
            best_val_acc = val_acc
        epoch_metrics = EpochMetrics(
            epoch=epoch + 1, train_loss=train_loss, train_acc=correct.item() / seen, val_loss=val_loss,
            val_acc=val_acc, lr=optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - t_epoch,
            images_per_s=seen / max(train_time, 1e-9), step=step,
        )
        history["epochs"].append(asdict(epoch_metrics))
        emit(epoch_metrics)
        if ckpt_dir is not None:
            last_path = ckpt_dir / "last.pt"
            save_checkpoint(last_path, model, optimizer, config, epoch + 1, step, val_acc, best_val_acc,
                            splits.class_names, history)
            emit(CheckpointSaved(epoch=epoch + 1, path=str(last_path), kind="last"))
            if improved or val_batches is None:
                best_path = ckpt_dir / "best.pt"
                # The same state as last.pt: copy it (atomically) rather than serialise it twice.
                shutil.copyfile(last_path, best_path.with_suffix(".tmp"))
                best_path.with_suffix(".tmp").replace(best_path)
                emit(CheckpointSaved(epoch=epoch + 1, path=str(best_path), kind="best"))
        if should_stop is not None and should_stop():
            return _cancelled(emit, step, epoch + 1)

    test_loss = test_acc = per_class = confusion_list = None
    if test_batches is not None:
        test_loss, test_acc, confusion = evaluate(model, test_batches, autocast, config.tta, len(splits.class_names))
        per_class = (confusion.diag().float() / confusion.sum(1).clamp(min=1)).tolist()
        confusion_list = confusion.tolist()
    if ckpt_dir is not None and best_path is None and (ckpt_dir / "best.pt").exists():
        best_path = ckpt_dir / "best.pt"  # a resumed run whose best epoch came before the resume
    total_images = len(splits.train_x) * (config.epochs - start_epoch)
    finished = RunFinished(
        best_val_acc=best_val_acc, final_val_acc=final_val_acc, test_loss=test_loss, test_acc=test_acc,
        per_class_acc=per_class, confusion=confusion_list, class_names=list(splits.class_names),
        train_seconds=train_seconds, images_per_s=total_images / max(train_seconds, 1e-9),
        compile_seconds=compile_seconds,
        checkpoint_best=str(best_path) if best_path else None,
        checkpoint_last=str(last_path) if last_path else None,
    )
    emit(finished)
    return finished


def _cancelled(emit: Emit, step: int, epoch: int) -> RunCancelled:
    event = RunCancelled(step=step, epoch=epoch)
    emit(event)
    return event
