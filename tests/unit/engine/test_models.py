"""Model factories: parameter counts, output shapes, width multiplier, the registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.models import MODEL_REGISTRY, ResNet18Seed, build_model, count_parameters


@pytest.mark.parametrize(("name", "expected"), [("resnet9", 6_573_130), ("resnet18", 11_173_962)])
def test_full_width_models_have_the_published_parameter_counts(name: str, expected: int) -> None:
    assert count_parameters(build_model(name)) == expected


@pytest.mark.parametrize("name", sorted(MODEL_REGISTRY))
def test_every_model_maps_a_cifar_batch_to_ten_logits(name: str) -> None:
    model = build_model(name, width=0.125).eval()
    with torch.no_grad():
        out = model(torch.randn(3, 3, 32, 32))
    assert out.shape == (3, 10)


@pytest.mark.parametrize("name", sorted(MODEL_REGISTRY))
def test_width_multiplier_shrinks_the_model(name: str) -> None:
    counts = [count_parameters(build_model(name, width=w)) for w in (1.0, 0.5, 0.125)]
    assert counts[0] > counts[1] > counts[2]
    # Conv weights scale with width squared, so half width is roughly a quarter of the parameters.
    assert counts[1] < counts[0] * 0.3


def test_num_classes_sets_the_output_width() -> None:
    out = build_model("resnet9", width=0.125, num_classes=4).eval()(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 4)


def test_unknown_model_name_raises_listing_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown model 'resnet50'") as info:
        build_model("resnet50")
    for name in MODEL_REGISTRY:
        assert name in str(info.value)


def test_resnet18_seed_keeps_the_notebook_layout() -> None:
    """Three pooled stages, then conv 256->512 with no pool, residual, avg-pool 4 and linear."""
    model = build_model("resnet18-seed")
    assert isinstance(model, ResNet18Seed)
    convs = [m for m in model.features.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 64), (64, 64), (64, 64),
        (64, 128), (128, 128), (128, 128),
        (128, 256), (256, 256), (256, 256),
        (256, 512), (512, 512), (512, 512),
    ]
    pools = [m for m in model.features.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 3
    conv_512 = model.features[6]  # conv 256->512
    assert not any(isinstance(m, nn.MaxPool2d) for m in conv_512.modules())
    assert isinstance(model.classifier[0], nn.AvgPool2d) and model.classifier[0].kernel_size == 4
    assert isinstance(model.classifier[-1], nn.Linear) and model.classifier[-1].in_features == 512
    # 32 -> 16 -> 8 -> 4 after three pools: the 512 stage keeps 4x4 for the avg-pool.
    with torch.no_grad():
        feats = model.eval().features(torch.randn(1, 3, 32, 32))
    assert feats.shape == (1, 512, 4, 4)


def test_resnet9_follows_the_classic_notebook_layout() -> None:
    model = build_model("resnet9")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 64), (64, 128), (128, 128), (128, 128), (128, 256), (256, 512), (512, 512), (512, 512),
    ]
    drop = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(drop) == 1 and drop[0].p == pytest.approx(0.2)


def test_resnet18_has_no_stem_max_pool_and_ends_in_global_average_pool() -> None:
    model = build_model("resnet18")
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    assert isinstance(model.head[0], nn.AdaptiveAvgPool2d)
    assert model.stem[0].kernel_size == (3, 3) and model.stem[0].stride == (1, 1)


def test_logit_scale_multiplies_the_output_without_new_parameters() -> None:
    torch.manual_seed(0)
    plain = build_model("resnet9", width=0.125).eval()
    scaled = build_model("resnet9", width=0.125, logit_scale=0.125).eval()
    scaled.load_state_dict(plain.state_dict())  # same keys: the scale is not a parameter
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(scaled(x), plain(x) * 0.125)
