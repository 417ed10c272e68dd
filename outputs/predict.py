"""Predictions from a stored run: its checkpoint's model, images read with PIL, top-k classes.

The model is rebuilt from the run's config (as the engine does) and its checkpoint's
weights; images go through the engine's own batches (``DeviceBatches``: the same
normalisation with the CIFAR-10 mean/std every run trains with) and the same forward
pass as the engine's evaluation, so a test image saved as a PNG gets the class
``evaluate`` gives it.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from engine.checkpoint import load_checkpoint
from engine.config import RunConfig
from engine.data import DeviceBatches
from engine.models import build_model

if TYPE_CHECKING:
    from storage import RunDetail

CHECKPOINT_KINDS = ("best", "last")
IMAGE_SIZE = 32  # CIFAR-10's size: every run trains on 32x32 images, never resized
EVAL_BATCH = 512  # the engine evaluates in batches of max(batch_size, 512)
Autocast = Callable[[], AbstractContextManager[Any]]


class PredictError(Exception):
    """A one-line problem with the run, its checkpoint or an image, naming the fix."""


@dataclass
class LoadedModel:
    """A run's model in eval mode on its device, with what it needs to be used as trained."""

    run_id: int
    model: nn.Module
    config: RunConfig
    class_names: list[str]
    checkpoint: Path
    kind: str
    epoch: int | None
    device: torch.device
    autocast: Autocast


# -- the run's model ------------------------------------------------------------------


def checkpoint_path(detail: RunDetail, kind: str) -> Path:
    """The run's ``kind`` checkpoint, which must exist on this machine."""
    recorded = detail.checkpoints.get(kind)
    if not recorded:
        other = next((k for k in CHECKPOINT_KINDS if k != kind and detail.checkpoints.get(k)), None)
        fix = (f"use --checkpoint {other}" if other else
               "train it first (`cifar-tui queue` or `cifar-tui train`) or pick another run")
        raise PredictError(f"run {detail.id} ({detail.status}) has no {kind} checkpoint: {fix}")
    path = Path(recorded)
    if not path.is_file():
        raise PredictError(f"run {detail.id}'s {kind} checkpoint {path} is missing (deleted, or "
                           "written on another host): retrain the run or pick another one")
    return path


def pick_device(requested: str | None, trained_on: str | None) -> torch.device:
    """``requested`` when given; else the kind of device the run trained on (so the numbers
    match its stored ones: CUDA evaluates in bfloat16) when there is one, else the CPU."""
    from engine.data import DataError
    from engine.train import pick_device as engine_pick

    if requested:
        try:
            return engine_pick(requested)
        except (DataError, RuntimeError) as exc:
            raise PredictError(str(exc)) from None
    if (trained_on or "").startswith("cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def load_run_model(detail: RunDetail, kind: str, owner: str | None = None,
                   device: str | None = None) -> LoadedModel:
    """The run's ``kind`` checkpoint in the model its config describes, ready for inference.

    ``owner`` ("<store id>/run-<id>") refuses a checkpoint another run or store wrote."""
    path = checkpoint_path(detail, kind)
    ckpt = _read_checkpoint(path)
    found = ckpt.get("owner")
    if owner is not None and found is not None and found != owner:
        raise PredictError(f"checkpoint {path} belongs to another store or run ({found}, not "
                           f"{owner}): pick the run that wrote it")
    config = RunConfig.from_dict(detail.config)
    names = [str(n) for n in ckpt.get("class_names") or detail.class_names or []]
    model = build_model(config.model, config.width_mult, num_classes=len(names) or 10,
                        logit_scale=config.logit_scale)
    problem = state_dict_problem(model.state_dict(), ckpt["state_dict"])
    if problem:
        raise PredictError(
            f"checkpoint {path} does not fit run {detail.id}'s model ({config.model}, width "
            f"{config.width_mult:g}): {problem}; pick the run that wrote it")
    model.load_state_dict(ckpt["state_dict"])
    dev = pick_device(device, detail.device)
    model.to(dev).eval()
    autocast: Autocast = nullcontext
    if dev.type == "cuda":  # as the engine trains and evaluates on CUDA
        model.to(memory_format=torch.channels_last)
        autocast = lambda: torch.autocast("cuda", dtype=torch.bfloat16)  # noqa: E731
    epoch = ckpt.get("epoch")
    return LoadedModel(run_id=detail.id, model=model, config=config,
                       class_names=names or [str(i) for i in range(10)], checkpoint=path,
                       kind=kind, epoch=int(epoch) if epoch is not None else None, device=dev,
                       autocast=autocast)


def _read_checkpoint(path: Path) -> dict:
    try:
        ckpt = load_checkpoint(path)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        raise PredictError(f"checkpoint {path} could not be read ({type(exc).__name__}"
                           f"{': ' + reason if reason else ''}): retrain the run or pick "
                           "another one") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise PredictError(f"{path} is not a cifar-tui checkpoint (no state_dict): retrain "
                           "the run or pick another one")
    return ckpt


def state_dict_problem(expected: dict[str, torch.Tensor], found: dict[str, Any]) -> str | None:
    """What keeps ``found`` from loading into a model whose state dict is ``expected``."""
    missing = [k for k in expected if k not in found]
    extra = [k for k in found if k not in expected]
    if missing or extra:
        parts = [f"{len(missing)} weights missing (e.g. {missing[0]})" if missing else "",
                 f"{len(extra)} unexpected (e.g. {extra[0]})" if extra else ""]
        return ", ".join(p for p in parts if p)
    for key, tensor in expected.items():
        shape = tuple(getattr(found[key], "shape", ()))
        if shape != tuple(tensor.shape):
            return f"{key} has shape {list(shape)}, the model needs {list(tensor.shape)}"
    return None


# -- images ---------------------------------------------------------------------------


def image_files(paths: Sequence[str | Path]) -> tuple[list[Path], int]:
    """The images to classify: each file named, and a folder's image files (sorted).

    Returns them with the number of non-image files skipped in folders; a file named
    explicitly that is not an image is an error."""
    files: list[Path] = []
    skipped = 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(p for p in path.iterdir() if p.is_file()):
                if is_image(child):
                    files.append(child)
                else:
                    skipped += 1
        elif path.is_file():
            files.append(path)  # read (and refused if not an image) by load_image
        else:
            raise PredictError(f"{path} does not exist: name an image file or a folder of them")
    if not files:
        raise PredictError(f"no image files in {', '.join(map(str, paths))}"
                           f"{f' ({skipped} other files skipped)' if skipped else ''}: "
                           "name image files (PNG, JPEG, ...) or a folder holding some")
    return files, skipped


def is_image(path: Path) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    return True


def load_image(path: Path) -> np.ndarray:
    """The image as uint8 (3, 32, 32) RGB: EXIF-rotated, centre-cropped to a square and
    resized (area-averaged) when it is not 32x32 already; a 32x32 image is used as it is."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            img = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, SyntaxError, Image.DecompressionBombError) as exc:
        raise PredictError(f"{path} is not an image PIL can read ({type(exc).__name__}): "
                           "name PNG, JPEG or other image files") from None
    except (OSError, ValueError) as exc:
        raise PredictError(f"{path} could not be read as an image ({first_words(exc)}): "
                           "check the file, or name another") from None
    if img.size != (IMAGE_SIZE, IMAGE_SIZE):
        img = ImageOps.fit(img, (IMAGE_SIZE, IMAGE_SIZE), method=Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy()


def first_words(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:100] if text else type(exc).__name__


# -- inference ------------------------------------------------------------------------


@torch.no_grad()
def logits_for(loaded: LoadedModel, images: np.ndarray, tta: bool) -> torch.Tensor:
    """Float32 logits (N, classes) for uint8 images (N, 3, 32, 32), computed as the engine's
    ``evaluate`` does: normalised by ``DeviceBatches``, averaged with the flip under ``tta``."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    labels = torch.zeros(len(x), dtype=torch.long)  # DeviceBatches wants labels; unused
    batch = max(loaded.config.batch_size, EVAL_BATCH)
    batches = DeviceBatches(x, labels, batch, loaded.device, augment=False, shuffle=False,
                            seed=0, channels_last=loaded.device.type == "cuda")
    out = []
    for xb, _ in batches:
        with loaded.autocast():
            logits = loaded.model(xb)
            if tta:
                logits = (logits + loaded.model(xb.flip(3))) / 2
        out.append(logits.float().cpu())
    return torch.cat(out) if out else torch.zeros(0, len(loaded.class_names))


@dataclass
class Prediction:
    path: str
    top: list[tuple[int, str, float]]  # (class index, class name, probability), best first

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "class": self.top[0][1], "index": self.top[0][0],
                "top": [{"index": i, "class": n, "prob": p} for i, n, p in self.top]}

    def line(self, width: int = 0) -> str:
        shown = "  ".join(f"{name} {p:6.1%}" for _, name, p in self.top)
        return f"{self.path:<{width}}  {shown}"


def predict_files(loaded: LoadedModel, files: Sequence[Path], top: int,
                  tta: bool) -> list[Prediction]:
    """Top-``top`` classes with softmax probabilities for each image file."""
    images = np.stack([load_image(f) for f in files])
    probs = torch.softmax(logits_for(loaded, images, tta), dim=1)
    best = probs.topk(min(top, probs.shape[1]), dim=1)
    return [
        Prediction(path=str(f), top=[(int(i), loaded.class_names[int(i)], float(p))
                                     for p, i in zip(values.tolist(), indices.tolist(),
                                                     strict=True)])
        for f, values, indices in zip(files, best.values, best.indices, strict=True)
    ]
