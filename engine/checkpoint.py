"""Checkpoints: a plain dict of state_dicts, the config and the metrics so far.

Loadable with plain ``torch.load(..., weights_only=True)``, and the config
beside the weights rebuilds the model from any checkpoint (nanoGPT's layout).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from torch import nn

from engine.config import RunConfig
from engine.models import build_model

CHECKPOINT_FORMAT = 1


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    config: RunConfig, epoch: int, step: int, val_acc: float | None,
                    best_val_acc: float | None, class_names: list[str],
                    history: dict | None = None, owner: str | None = None) -> None:
    """state_dict plus the config, loadable with plain ``torch.load`` (weights_only too).

    ``history`` holds the metrics so far as plain lists, so a resumed run can
    replay any its recorder never saw (its supervisor may have died first).
    ``owner`` names the store and run the file belongs to (opaque here).
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
        "owner": owner,
    }, tmp)
    tmp.replace(path)  # atomic: a killed run never leaves half a checkpoint


def copy_checkpoint(source: Path, dest: Path) -> None:
    """Copy a saved checkpoint atomically: cheaper than serialising the same state twice."""
    tmp = dest.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(dest)


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
