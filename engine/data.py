"""CIFAR-10 loading, the train/val split, and batched on-device augmentation.

The whole dataset lives on the training device as uint8; normalisation, crop
and flip are whole-batch tensor ops (the airbench pattern), so there is no
per-image PIL work and no DataLoader in the hot loop.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.config import RunConfig
from engine.paths import (
    BATCHES_DIRNAME,
    DATA_ENV,
    OFFLINE_ENV,
    downloads_allowed,
    find_batches_dir,
    resolve_data_dir,
)

CLASS_NAMES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


class DataError(Exception):
    """A one-line data problem naming the file and what to do about it."""


@dataclass
class CifarSplits:
    """uint8 images (N, 3, 32, 32) and int64 labels, still on the CPU."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor | None
    test_y: torch.Tensor | None
    class_names: list[str]
    note: str = ""  # e.g. "no test_batch: test metrics skipped", or "synthetic data"


def ensure_cifar10(root: Path) -> Path:
    """Return the batches folder, downloading it with torchvision if missing and allowed."""
    found = find_batches_dir(root)
    if found is not None:
        return found
    fix = (
        f"pass --data-dir pointing at a folder that holds {BATCHES_DIRNAME}, "
        f"set ${DATA_ENV}, or use --dataset synthetic"
    )
    if not downloads_allowed():
        raise DataError(f"no CIFAR-10 found in {root} and downloads are off "
                        f"(${OFFLINE_ENV}=1): {fix}")
    try:
        from torchvision.datasets import CIFAR10

        root.mkdir(parents=True, exist_ok=True)
        CIFAR10(str(root), train=True, download=True)
    except Exception as exc:  # no network, a full disk, a bad mirror...
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"no CIFAR-10 found in {root} and the download failed "
                        f"({first_line}): {fix}") from None
    found = find_batches_dir(root)
    if found is None:
        raise DataError(f"the CIFAR-10 download into {root} left no {BATCHES_DIRNAME}: {fix}")
    return found


def load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One official python-format batch as (N, 3, 32, 32) uint8 and (N,) int64."""
    fix = "re-download it (delete the folder and run again) or point --data-dir at a good copy"
    try:
        with open(path, "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")
    except FileNotFoundError:
        raise DataError(f"{path} is missing: {fix}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            ImportError, IndexError, KeyError, MemoryError) as exc:
        raise DataError(f"{path} is truncated or corrupt ({type(exc).__name__}): {fix}") from None
    if (not isinstance(entry, dict) or "data" not in entry
            or ("labels" not in entry and "fine_labels" not in entry)):
        raise DataError(f"{path} is not a CIFAR-10 batch (no 'data'/'labels' keys): {fix}")
    data = np.asarray(entry["data"])
    labels = np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path} has images of shape {data.shape} ({data.dtype}); "
                        f"expected N x 3072 uint8: {fix}")
    if labels.shape != (data.shape[0],):
        raise DataError(f"{path} has {labels.shape[0]} labels for {data.shape[0]} images: {fix}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise DataError(f"{path} has labels outside 0..9: {fix}")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(
    root: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, list[str]]:
    folder = ensure_cifar10(root)
    parts = [load_batch(p) for p in sorted(folder.glob("data_batch_*"))]
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    test_path = folder / "test_batch"
    test_x = test_y = None
    if test_path.exists():
        test_x, test_y = load_batch(test_path)
    names = CLASS_NAMES
    meta = folder / "batches.meta"
    if meta.exists():
        try:
            with open(meta, "rb") as fh:
                names = list(pickle.load(fh, encoding="latin1")["label_names"]) or CLASS_NAMES
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError):
            names = CLASS_NAMES  # the label names are cosmetic; the data is what matters
    return train_x, train_y, test_x, test_y, names


def synthetic_cifar(n_train: int = 5000, n_test: int = 1000, seed: int = 0):
    """Random images whose class sets a coloured offset, so a model can learn something."""
    rng = np.random.default_rng(seed)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, size=n)
        base = rng.integers(0, 128, size=(n, 3, 32, 32))
        tint = (np.arange(10)[:, None] * np.array([25, 13, 7]) % 128)[y]
        return (base + tint[:, :, None, None]).astype(np.uint8), y.astype(np.int64)

    train_x, train_y = make(n_train)
    test_x, test_y = make(n_test)
    return train_x, train_y, test_x, test_y, [f"synthetic-{i}" for i in range(10)]


def load_splits(config: RunConfig) -> CifarSplits:
    """Load the data the config names and split train/val with a seed-fixed permutation."""
    if config.dataset == "synthetic":
        n = (config.limit_train + int(config.limit_train * config.val_fraction) + 1
             if config.limit_train else 5000)
        train_x, train_y, test_x, test_y, names = synthetic_cifar(max(n, 20), 1000, config.seed)
        note = "synthetic data: random images, not CIFAR-10"
    else:
        train_x, train_y, test_x, test_y, names = load_cifar10(resolve_data_dir(config.data_dir))
        note = ("" if test_x is not None
                else "no test_batch in the data folder: test metrics skipped")
    n = len(train_x)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(config.seed)).numpy()
    n_val = int(round(n * config.val_fraction))
    val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    if config.limit_train:
        train_idx = train_idx[: config.limit_train]
    if len(train_idx) == 0:
        raise DataError("the training split is empty: lower --val-fraction or add data")

    def t(a: np.ndarray | None) -> torch.Tensor | None:
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a))

    return CifarSplits(
        train_x=t(train_x[train_idx]), train_y=t(train_y[train_idx]),
        val_x=t(train_x[val_idx]), val_y=t(train_y[val_idx]),
        test_x=t(test_x), test_y=t(test_y), class_names=names, note=note,
    )


# -- on-device batch ops ------------------------------------------------------

_STATS: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}
_HOST_MEMORY_TUNED = False


def keep_host_memory_warm() -> None:
    """Stop glibc from unmapping each freed batch and page-faulting it back for the next.

    Batch-sized tensors are above glibc's mmap threshold, so on the CPU every
    batch paid fresh page faults: measured here, augmentation ran at 40k or
    300k images/s depending on that alone. Raising the thresholds once makes
    freed batches get reused. No effect on CUDA (PyTorch caches GPU memory).
    """
    global _HOST_MEMORY_TUNED
    if _HOST_MEMORY_TUNED:
        return
    _HOST_MEMORY_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 * 1024 * 1024)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1024 * 1024 * 1024)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def normalize(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (B,3,H,W) -> float32 normalised with the CIFAR-10 channel statistics.

    The statistics are cached per device: building them each batch would be a
    blocking host-to-device copy in the hot loop.
    """
    stats = _STATS.get(x_uint8.device)
    if stats is None:
        shape = (1, 3, 1, 1)
        stats = _STATS[x_uint8.device] = (
            (torch.tensor(MEAN) * 255).view(shape).to(x_uint8.device),
            (torch.tensor(STD) * 255).view(shape).to(x_uint8.device),
        )
    return (x_uint8.float() - stats[0]) / stats[1]


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Map indices in [-pad, size + pad) onto [0, size) as reflect padding does."""
    index = index.abs()
    return torch.where(index > size - 1, 2 * (size - 1) - index, index)


def random_crop_flip(x: torch.Tensor, generator: torch.Generator | None = None,
                     pad: int = 4) -> torch.Tensor:
    """Random crop after ``pad``-pixel reflect padding, and a horizontal flip, for a whole batch.

    The padding, the crop offset and the flip are all folded into two gather
    indices, so the padded batch is never materialised.
    """
    b, c, h, w = x.shape
    dev = x.device
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=dev)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=dev)
    flip = torch.rand(b, generator=generator, device=dev) < 0.5
    rows = _reflect(dy[:, None] - pad + torch.arange(h, device=dev), h)
    rows = rows.view(b, 1, h, 1).expand(b, c, h, w)
    cols = dx[:, None] - pad + torch.arange(w, device=dev)
    cols = _reflect(torch.where(flip[:, None], cols.flip(1), cols), w)
    cols = cols.view(b, 1, 1, w).expand(b, c, h, w)
    return x.gather(2, rows).gather(3, cols)


class DeviceBatches:
    """Shuffled, normalised, augmented batches from uint8 tensors kept on the device."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, device: torch.device,
                 augment: bool, shuffle: bool, seed: int, channels_last: bool = False):
        self.x = x.to(device, non_blocking=True)
        self.y = y.to(device, non_blocking=True)
        self.batch_size = batch_size
        self.augment = augment
        self.shuffle = shuffle
        self.channels_last = channels_last
        self.generator = torch.Generator(device=device).manual_seed(seed)
        if torch.device(device).type == "cpu":
            keep_host_memory_warm()

    def __len__(self) -> int:
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        order = (torch.randperm(n, generator=self.generator, device=self.x.device)
                 if self.shuffle else None)
        for start in range(0, n, self.batch_size):
            if order is None:
                stop = start + self.batch_size
                xb, yb = self.x[start:stop], self.y[start:stop]
            else:
                idx = order[start:start + self.batch_size]
                xb, yb = self.x[idx], self.y[idx]
            xb = normalize(xb)
            if self.augment:  # after normalising: float gathers vectorise, uint8 ones don't (CPU)
                xb = random_crop_flip(xb, self.generator)
            if self.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yield xb, yb
