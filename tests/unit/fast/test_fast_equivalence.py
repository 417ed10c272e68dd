"""The fast path's batched uint8 pipeline gives what torchvision's per-image pipeline gives."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image
from support.data import SHARED_SUBSET

from engine.data import MEAN, STD, normalize, random_crop_flip
from engine.models import build_model

TV_AUG = T.Compose([T.RandomCrop(32, padding=4, padding_mode="reflect"), T.RandomHorizontalFlip()])
TV_TENSOR = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])
N_DRAWS = 1800


def cifar_images(n: int) -> torch.Tensor:
    """Real CIFAR-10 images when the shared slice is there, else random pixels
    (N, 3, 32, 32) uint8."""
    batch = SHARED_SUBSET / "cifar-10-batches-py" / "data_batch_1"
    if batch.exists():
        with open(batch, "rb") as fh:
            data = np.asarray(pickle.load(fh, encoding="latin1")["data"][:n], dtype=np.uint8)
        return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))


def to_pil(x: torch.Tensor) -> Image.Image:
    return Image.fromarray(x.permute(1, 2, 0).numpy())


def coordinate_image() -> torch.Tensor:
    """Red = row, green = column: the output's pixels say which window was cut and whether
    it was flipped."""
    r = torch.arange(32, dtype=torch.uint8)
    return torch.stack([r[:, None].expand(32, 32), r[None, :].expand(32, 32),
                        torch.zeros(32, 32, dtype=torch.uint8)])


def window_sequences() -> torch.Tensor:
    """Row (or column) indices seen by each of the 9 windows of the reflect-padded 32-pixel axis."""
    p = torch.arange(-4, 36).abs()
    p = torch.where(p > 31, 62 - p, p)
    return torch.stack([p[d : d + 32] for d in range(9)])


def decode(out: torch.Tensor) -> tuple[int, int, bool]:
    """(dy, dx, flipped) for a crop of ``coordinate_image``; fails if it is not a
    reflect-padded window."""
    seqs = window_sequences()
    rows, cols = out[0, :, 0].long(), out[1, 0, :].long()
    dy = [d for d in range(9) if torch.equal(seqs[d], rows)]
    dx = [(d, False) for d in range(9) if torch.equal(seqs[d], cols)]
    dx += [(d, True) for d in range(9) if torch.equal(seqs[d].flip(0), cols)]
    assert len(dy) == 1 and len(dx) == 1, "not a window of the reflect-padded image"
    return dy[0], dx[0][0], dx[0][1]


def shift_stats(decoded: list[tuple[int, int, bool]]) -> tuple[np.ndarray, np.ndarray, float]:
    dy = np.bincount([d[0] for d in decoded], minlength=9)
    dx = np.bincount([d[1] for d in decoded], minlength=9)
    return dy, dx, float(np.mean([d[2] for d in decoded]))


def chi2_uniform(counts: np.ndarray) -> float:
    expected = counts.sum() / len(counts)
    return float(((counts - expected) ** 2 / expected).sum())


@pytest.fixture(scope="module")
def engine_and_torchvision_shifts() -> tuple[tuple, tuple]:
    image = coordinate_image()
    engine_out = random_crop_flip(image.float().expand(N_DRAWS, 3, 32, 32).contiguous(),
                                  torch.Generator().manual_seed(0))
    torch.manual_seed(0)  # torchvision draws from the global generator
    pil = to_pil(image)
    tv_out = [T.functional.pil_to_tensor(TV_AUG(pil)) for _ in range(N_DRAWS)]
    return shift_stats([decode(o) for o in engine_out]), shift_stats([decode(o) for o in tv_out])


def test_shifts_are_uniform_over_0_to_8_on_both_axes_like_torchvision(
    engine_and_torchvision_shifts,
) -> None:
    # chi-square, 8 degrees of freedom: 26.1 is the 0.1% critical value
    for dy, dx, _ in engine_and_torchvision_shifts:
        assert (dy > 0).all() and (dx > 0).all()
        assert chi2_uniform(dy) < 26.1 and chi2_uniform(dx) < 26.1
    (e_dy, e_dx, _), (t_dy, t_dx, _) = engine_and_torchvision_shifts
    assert np.abs(e_dy / N_DRAWS - t_dy / N_DRAWS).max() < 0.04
    assert np.abs(e_dx / N_DRAWS - t_dx / N_DRAWS).max() < 0.04


def test_flip_rate_is_one_half_like_torchvision(engine_and_torchvision_shifts) -> None:
    (_, _, engine_rate), (_, _, tv_rate) = engine_and_torchvision_shifts
    assert 0.46 < engine_rate < 0.54 and 0.46 < tv_rate < 0.54
    assert abs(engine_rate - tv_rate) < 0.06


def test_augmented_batches_have_torchvisions_channel_mean_and_std() -> None:
    x = cifar_images(1000)
    engine = random_crop_flip(normalize(x), torch.Generator().manual_seed(1))
    torch.manual_seed(1)
    tv = torch.stack([TV_TENSOR(TV_AUG(to_pil(img))) for img in x])
    assert engine.shape == tv.shape
    e_mean, t_mean = engine.mean((0, 2, 3)), tv.mean((0, 2, 3))
    e_std, t_std = engine.std((0, 2, 3)), tv.std((0, 2, 3))
    # the same images, cropped differently: the statistics agree to well under 1% of a std
    assert torch.allclose(e_mean, t_mean, atol=0.01), (e_mean, t_mean)
    assert torch.allclose(e_std, t_std, atol=0.01), (e_std, t_std)


def test_engine_normalize_equals_totensor_then_normalize() -> None:
    x = cifar_images(64)
    tv = torch.stack([TV_TENSOR(to_pil(img)) for img in x])
    assert torch.allclose(normalize(x), tv, atol=1e-5)


def test_same_weights_give_the_same_cross_entropy_on_a_fixed_batch() -> None:
    x = cifar_images(64)
    y = torch.arange(64) % 10
    torch.manual_seed(0)
    model = build_model("resnet9", 0.125).eval()
    with torch.no_grad():
        engine_loss = F.cross_entropy(model(normalize(x)), y, label_smoothing=0.2)
        tv_loss = F.cross_entropy(model(torch.stack([TV_TENSOR(to_pil(img)) for img in x])), y,
                                  label_smoothing=0.2)
    assert torch.isfinite(engine_loss)
    assert abs(engine_loss.item() - tv_loss.item()) < 1e-5
