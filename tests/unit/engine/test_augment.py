"""Batched on-device augmentation: shapes, labels, real crops, fair flips, CIFAR stats."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.data import DeviceBatches, normalize, random_crop_flip

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def which_crop(out: torch.Tensor, padded: torch.Tensor) -> tuple[int, int, bool] | None:
    """(dy, dx, flipped) of the 32x32 window of ``padded`` that ``out`` equals, or None."""
    for dy in range(9):
        for dx in range(9):
            window = padded[:, dy : dy + 32, dx : dx + 32]
            if torch.equal(out, window):
                return dy, dx, False
            if torch.equal(out, window.flip(2)):
                return dy, dx, True
    return None


def test_crop_flip_keeps_shape_and_dtype() -> None:
    x = torch.randn(5, 3, 32, 32)
    out = random_crop_flip(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype


def test_every_output_is_a_window_of_the_reflect_padded_image_and_offsets_vary() -> None:
    image = torch.randn(3, 32, 32)  # random pixels: no two windows coincide by accident
    padded = F.pad(image[None], (4, 4, 4, 4), mode="reflect")[0]
    out = random_crop_flip(image.expand(300, 3, 32, 32).contiguous(),
                           torch.Generator().manual_seed(1))
    found = [which_crop(o, padded) for o in out]
    assert None not in found
    offsets = {(dy, dx) for dy, dx, _ in found}
    assert len(offsets) > 40  # of 81 possible; a stuck crop would give one
    assert {dy for dy, _ in offsets} == set(range(9)) and {dx for _, dx in offsets} == set(range(9))


def test_about_half_the_images_are_flipped() -> None:
    image = torch.randn(3, 32, 32)
    padded = F.pad(image[None], (4, 4, 4, 4), mode="reflect")[0]
    out = random_crop_flip(image.expand(400, 3, 32, 32).contiguous(),
                           torch.Generator().manual_seed(2))
    flips = sum(which_crop(o, padded)[2] for o in out)
    assert 0.4 < flips / 400 < 0.6


def test_same_generator_seed_gives_the_same_augmentation() -> None:
    x = torch.randn(16, 3, 32, 32)
    a = random_crop_flip(x, torch.Generator().manual_seed(3))
    b = random_crop_flip(x, torch.Generator().manual_seed(3))
    c = random_crop_flip(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_labels_travel_with_their_images_through_shuffled_augmented_batches() -> None:
    # Each image is one solid value (its id), which survives crop and flip; its label is id % 10.
    n = 50
    ids = torch.arange(n)
    x = ids.view(n, 1, 1, 1).expand(n, 3, 32, 32).to(torch.uint8).contiguous()
    y = ids % 10
    batches = DeviceBatches(x, y, batch_size=8, device=torch.device("cpu"), augment=True,
                            shuffle=True, seed=0)
    assert len(batches) == 7
    seen: list[int] = []
    for xb, yb in batches:
        assert xb.shape[1:] == (3, 32, 32) and xb.dtype == torch.float32
        # Undo the normalisation on channel 0 to read each image's id back.
        raw = xb[:, 0] * (CIFAR_STD[0] * 255) + CIFAR_MEAN[0] * 255
        assert torch.allclose(raw, raw[:, :1, :1].expand_as(raw), atol=1e-3), \
            "an image is no longer solid"
        got = raw[:, 0, 0].round().long()
        assert torch.equal(got % 10, yb)
        seen += got.tolist()
    assert sorted(seen) == list(range(n))  # each image exactly once per epoch
    assert seen != list(range(n))  # and shuffled


def test_unshuffled_unaugmented_batches_come_in_order() -> None:
    x = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    y = torch.arange(10)
    batches = DeviceBatches(x, y, batch_size=4, device=torch.device("cpu"), augment=False,
                            shuffle=False, seed=0)
    got = list(batches)
    assert [len(yb) for _, yb in got] == [4, 4, 2]
    assert torch.equal(torch.cat([yb for _, yb in got]), y)
    assert torch.allclose(torch.cat([xb for xb, _ in got]), normalize(x))


def test_normalize_uses_the_cifar10_channel_statistics() -> None:
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    expected = (x.float() / 255 - mean) / std
    out = normalize(x)
    assert out.dtype == torch.float32
    assert torch.allclose(out, expected, atol=1e-5)
