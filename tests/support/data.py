"""The repository's paths, and tiny CIFAR-10 folders in the official python format."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED_SUBSET = REPO.parent / "shared" / "data" / "cifar-10-subset"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar_folder(root: Path, n_train_per_batch: int = 40, n_test: int = 40,
                       n_batches: int = 2, separable: bool = True, seed: int = 0,
                       with_test: bool = True) -> Path:
    """Write tiny CIFAR-10 files in the official python format; return the folder holding them.

    With ``separable`` each class is a distinct solid colour plus noise, so a tiny
    model can learn it well above chance in a few steps.
    """
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    palette = rng.integers(0, 256, size=(10, 3))

    def batch(n: int, label: str) -> dict:
        labels = rng.integers(0, 10, size=n)
        if separable:
            img = palette[labels][:, :, None, None] + rng.normal(0, 12, size=(n, 3, 32, 32))
        else:
            img = rng.integers(0, 256, size=(n, 3, 32, 32))
        data = np.clip(img, 0, 255).astype(np.uint8).reshape(n, 3072)
        return {"batch_label": label, "labels": labels.tolist(), "data": data}

    for i in range(1, n_batches + 1):
        with open(folder / f"data_batch_{i}", "wb") as fh:
            label = f"training batch {i} of {n_batches}"
            pickle.dump(batch(n_train_per_batch, label), fh, protocol=2)
    if with_test:
        with open(folder / "test_batch", "wb") as fh:
            pickle.dump(batch(n_test, "testing batch 1 of 1"), fh, protocol=2)
    meta = {"label_names": CLASSES, "num_cases_per_batch": n_train_per_batch, "num_vis": 3072}
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump(meta, fh, protocol=2)
    return root
