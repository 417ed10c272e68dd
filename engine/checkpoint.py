"""Checkpoints: a plain dict of state_dicts, the config and the metrics so far.

Loadable with plain ``torch.load(..., weights_only=True)``, and the config
beside the weights rebuilds the model from any checkpoint (nanoGPT's layout).
"""

from __future__ import annotations

import contextlib
import errno
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.config import RunConfig
from engine.models import build_model

CHECKPOINT_FORMAT = 1
# A write that failed with less free space than the file needs plus this counts as a full
# disk: torch's own writer reports ENOSPC only as "unexpected pos ..." or "file write failed".
FULL_MARGIN_BYTES = 1_000_000
MOVE_HINT = "point the store's artifact root elsewhere (`cifar-tui store --artifact-root PATH`)"


class CheckpointWriteError(Exception):
    """A checkpoint could not be written (most often a full disk); no partial file is left
    and the previous checkpoint, if any, is untouched."""


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    config: RunConfig, epoch: int, step: int, val_acc: float | None,
                    best_val_acc: float | None, class_names: list[str],
                    history: dict | None = None, owner: str | None = None) -> None:
    """state_dict plus the config, loadable with plain ``torch.load`` (weights_only too).

    ``history`` holds the metrics so far as plain lists, so a resumed run can
    replay any its recorder never saw (its supervisor may have died first).
    ``owner`` names the store and run the file belongs to (opaque here).
    """
    model_state = getattr(model, "_orig_mod", model).state_dict()
    state = {
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
        "owner": owner,
    }
    with _written_atomically(path, _tensor_bytes(state)) as tmp, open(tmp, "wb") as fh:
        torch.save(state, fh)  # our file object: closed, so its space freed, on an error


def copy_checkpoint(source: Path, dest: Path) -> None:
    """Copy a saved checkpoint atomically: cheaper than serialising the same state twice."""
    with _written_atomically(dest, source.stat().st_size) as tmp:
        shutil.copyfile(source, tmp)


@contextlib.contextmanager
def _written_atomically(path: Path, needed: int) -> Iterator[Path]:
    """A temp file beside ``path``, renamed over it once written (a killed run never leaves
    half a checkpoint). On a write error the partial temp file is removed, or it would keep
    the disk full, and the error says what happened and how much space is missing."""
    tmp = path.with_suffix(".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        tmp.replace(path)
    except BaseException as exc:  # ctrl+c too: never leave the partial file behind
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, (OSError, RuntimeError)):  # RuntimeError: torch's C++ writer
            raise write_error(path, needed, exc) from exc
        raise


def write_error(path: Path, needed: int, exc: BaseException) -> CheckpointWriteError:
    """Name a full disk as such, with the space needed and free; anything else as it is."""
    folder = next((p for p in (path.parent, *path.parents) if p.exists()), path.parent)
    try:
        free: int | None = shutil.disk_usage(folder).free
    except OSError:
        free = None
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT) or (
            free is not None and free < needed + FULL_MARGIN_BYTES):
        have = f"{free / 1e6:.1f} MB free" if free is not None else "free space unknown"
        return CheckpointWriteError(
            f"disk full writing checkpoint {path}: about {needed / 1e6:.1f} MB needed, "
            f"{have} in {folder}; free space or {MOVE_HINT}")
    lines = str(exc).strip().splitlines()
    reason = getattr(exc, "strerror", None) or (lines[-1] if lines else type(exc).__name__)
    return CheckpointWriteError(
        f"could not write checkpoint {path} ({reason}); check that {folder} is "
        f"writable, or {MOVE_HINT}")


def _tensor_bytes(obj: Any) -> int:
    """The bytes of every tensor in a (nested) state dict: about a checkpoint's size."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(v) for v in obj)
    return 0


def load_checkpoint(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


class CheckpointOwnerError(Exception):
    """A resume was pointed at a checkpoint another store or run wrote."""


def check_owner(ckpt: dict, path: str | Path, owner: str | None) -> None:
    """Refuse a checkpoint whose recorded owner is not ``owner``: loading it would put
    another run's weights (and metrics) into this one. Older files name no owner and
    are taken as they are."""
    found = ckpt.get("owner")
    if owner is not None and found is not None and found != owner:
        raise CheckpointOwnerError(
            f"checkpoint {path} belongs to another store or run ({found}, not {owner}); "
            "it was not loaded: move it away, then resume again to start this run over")


def model_from_checkpoint(path: str | Path) -> tuple[nn.Module, RunConfig]:
    ckpt = load_checkpoint(path)
    config = RunConfig.from_dict(ckpt["config"])
    model = build_model(config.model, config.width_mult, logit_scale=config.logit_scale)
    model.load_state_dict(ckpt["state_dict"])
    return model, config
