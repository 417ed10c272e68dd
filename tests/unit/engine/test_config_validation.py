"""RunConfig validation: each bad value gets its own one-line message naming the flag."""

from __future__ import annotations

import pickle

import pytest

from engine.config import (
    PRESETS,
    ConfigError,
    RunConfig,
    config_from_preset,
    parse_field,
    validate_field,
)

BAD_VALUES = [
    # (field, value, words the message must contain)
    ("max_lr", 0.0, "learning rate (--max-lr) must be a number > 0"),
    ("max_lr", -0.1, "learning rate (--max-lr) must be a number > 0"),
    ("max_lr", float("nan"), "learning rate (--max-lr) must be a finite number, got nan"),
    ("epochs", 0, "epochs (--epochs) must be a whole number >= 1"),
    ("epochs", 2.5, "epochs (--epochs) must be a whole number >= 1"),
    ("batch_size", 0, "batch size (--batch-size) must be a whole number >= 1"),
    ("width_mult", 0, "width multiplier (--width-mult) must be a number > 0"),
    ("width_mult", 9.0, "width multiplier (--width-mult) must be at most 8"),
    ("weight_decay", -1e-4, "weight decay (--weight-decay) must be a number >= 0"),
    ("grad_clip", -0.1, "gradient clip (--grad-clip) must be a number > 0 (or 0 to turn it off)"),
    ("pct_start", 1.0, "warm-up fraction (--pct-start) must be between 0 and 1"),
    ("momentum", 1.0, "momentum (--momentum) must be in [0, 1)"),
    ("label_smoothing", -0.1, "label smoothing (--label-smoothing) must be in [0, 1)"),
    ("val_fraction", 1.0, "validation fraction (--val-fraction) must be in [0, 1)"),
    ("limit_train", 0, "--limit-train must be a whole number >= 1"),
    ("log_every", 0, "--log-every must be a whole number >= 1"),
    ("seed", -1, "seed (--seed) must be a whole number >= 0"),
    ("model", "resnet50",
     "unknown model 'resnet50'; --model must be one of: resnet9, resnet18, resnet18-seed"),
    ("optimizer", "rmsprop", "unknown optimizer 'rmsprop'; --optimizer must be one of: adam, sgd"),
    ("grad_clip_mode", "max", "--grad-clip-mode must be one of: value, norm"),
    ("dataset", "mnist", "unknown dataset 'mnist'; --dataset must be one of: cifar10, synthetic"),
    ("schedule", "cosine", "--schedule must be one of: onecycle, linear"),
    ("device", "tpu", "unknown device 'tpu'; use auto, cpu, cuda or cuda:N"),
    ("device", "cuda:x", "unknown device 'cuda:x'"),
    ("preset", "huge", "unknown preset 'huge'; --preset must be one of: seed, resnet18"),
    ("augment", 1, "--augment must be true or false, got 1"),
    ("name", 3, "--name must be text, got 3"),
    # Upper bounds: huge values are refused here, not overflowed deep in training.
    ("epochs", 10**20, "epochs (--epochs) must be at most 10000, got 100000000000000000000"),
    ("batch_size", 65_537, "batch size (--batch-size) must be at most 65536"),
    ("seed", 2**32, "seed (--seed) must be at most 4294967295, got 4294967296"),
    ("log_every", 10**20, "--log-every must be at most 1000000"),
    ("limit_train", 10**20, "--limit-train must be at most 100000"),
    ("max_lr", 1e10, "learning rate (--max-lr) must be at most 1000000000"),
    ("max_lr", float("inf"), "learning rate (--max-lr) must be a finite number, got inf"),
    ("max_lr", 10**400, "learning rate (--max-lr) must be at most 1000000000, got 1000000000"),
    ("weight_decay", 2.0, "weight decay (--weight-decay) must be at most 1"),
    ("grad_clip", 1e7, "gradient clip (--grad-clip) must be at most 1000000"),
    ("logit_scale", 1001.0, "logit scale (--logit-scale) must be at most 1000"),
    ("device", "cuda:100000000000000000000", "unknown device 'cuda:100000000000000000000'"),
]


@pytest.mark.parametrize(("name", "value", "words"), BAD_VALUES,
                         ids=[f"{n}={v!r}"[:40] for n, v, _ in BAD_VALUES])
def test_bad_value_is_refused_with_a_one_line_message(name: str, value: object, words: str) -> None:
    message = validate_field(name, value)
    assert message is not None and words in message
    assert "\n" not in message
    errors = RunConfig(**{name: value}).errors()
    assert errors == {name: message}  # only the bad field is reported
    with pytest.raises(ConfigError) as info:
        RunConfig(**{name: value}).validate()
    assert info.value.errors == {name: message}


def test_a_huge_value_is_cut_short_in_the_message() -> None:
    message = validate_field("epochs", 10**5000)  # past Python's 4,300-digit repr limit
    assert message == "epochs (--epochs) must be at most 10000, got a number too long to print"
    message = validate_field("seed", 10**60)
    assert message is not None and len(message) < 120 and "(61 characters)" in message


@pytest.mark.parametrize(("name", "value"), [
    ("epochs", 10_000), ("batch_size", 65_536), ("seed", 2**32 - 1), ("seed", 0),
    ("width_mult", 8.0), ("max_lr", 1e8), ("log_every", 1_000_000), ("limit_train", 100_000),
])
def test_the_bounds_themselves_are_allowed(name: str, value: object) -> None:
    assert validate_field(name, value) is None


def test_every_error_is_reported_at_once() -> None:
    errors = RunConfig(max_lr=0, epochs=0, model="x").errors()
    assert set(errors) == {"max_lr", "epochs", "model"}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_is_valid(preset: str) -> None:
    assert config_from_preset(preset).errors() == {}


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1"])
def test_good_devices_pass(device: str) -> None:
    assert validate_field("device", device) is None


def test_seed_preset_is_the_classic_recipe() -> None:
    c = config_from_preset("seed")
    assert (c.model, c.optimizer, c.batch_size, c.epochs, c.max_lr, c.weight_decay) == (
        "resnet9", "adam", 400, 8, 0.01, 1e-4)
    assert (c.grad_clip, c.grad_clip_mode, c.augment, c.pct_start) == (0.1, "value", True, 0.3)
    assert config_from_preset("resnet18").model == "resnet18"


def test_preset_fields_can_be_overridden_and_clipping_turned_off() -> None:
    c = config_from_preset("seed", epochs=2, grad_clip=None)
    assert c.epochs == 2 and c.grad_clip is None and c.preset == "seed"


def test_unknown_preset_and_unknown_setting_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        config_from_preset("huge")
    with pytest.raises(ConfigError, match="unknown setting 'lr'"):
        config_from_preset("seed", lr=0.1)


def test_config_round_trips_through_a_dict_and_pickle() -> None:
    c = config_from_preset("seed", width_mult=0.5, name="x")
    assert RunConfig.from_dict({**c.to_dict(), "from_a_newer_version": 1}) == c
    assert pickle.loads(pickle.dumps(c)) == c


@pytest.mark.parametrize(("name", "text", "value"), [
    ("epochs", "3", 3), ("max_lr", "0.02", 0.02), ("grad_clip", "0", None), ("grad_clip", "", None),
    ("augment", "no", False), ("limit_train", "none", None), ("model", " resnet18 ", "resnet18"),
    ("grad_clip", "0.00", None), ("name", "  ", None), ("seed", "100000000000000000000", 10**20),
    ("compile", "yes", True), ("log_every", "5", 5), ("logit_scale", "0.125", 0.125),
])
def test_parse_field_turns_text_into_the_field_type(name: str, text: str, value: object) -> None:
    assert parse_field(name, text) == value


@pytest.mark.parametrize(("name", "text", "words"), [
    ("epochs", "three", "epochs must be a whole number, got 'three'"),
    ("max_lr", "fast", "max lr must be a number, got 'fast'"),
    ("augment", "maybe", "augment must be yes or no"),
    ("seed", "1" * 5000, "seed must be a whole number, got '11111"),  # int()'s digit limit
])
def test_parse_field_rejects_text_with_a_clear_message(name: str, text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_field(name, text)
