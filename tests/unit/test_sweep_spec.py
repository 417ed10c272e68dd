"""engine.sweep_spec: the inline syntax and the W&B-shaped file give one checked SweepSpec;
every bad spec is one line naming the fix."""

from __future__ import annotations

import json

import pytest

from engine.config import validate_field
from engine.sweep_spec import (
    ParamRange,
    SweepSpec,
    SweepSpecError,
    parse_field_values,
    spec_from_texts,
    spec_from_wandb,
)


def refused(texts: dict[str, str], **options) -> str:
    with pytest.raises(SweepSpecError) as info:
        spec_from_texts(texts, **options)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_comma_list_is_typed_values_and_one_value_stays_a_value() -> None:
    assert parse_field_values("max-lr", "0.005, 0.01,0.02") == ("values", (0.005, 0.01, 0.02))
    assert parse_field_values("optimizer", "adam,sgd") == ("values", ("adam", "sgd"))
    assert parse_field_values("epochs", "3") == ("value", 3)
    assert parse_field_values("grad_clip", "0,0.1") == ("values", (None, 0.1))  # 0 = off
    assert parse_field_values("device", "cuda:0") == ("value", "cuda:0")  # not a range


def test_ranges_are_uniform_log_or_whole_numbers_by_field() -> None:
    assert parse_field_values("max_lr", "1e-3:1e-1:log") == ("range", ParamRange(1e-3, 0.1, True))
    assert parse_field_values("max_lr", "1e-3:1e-1") == ("range", ParamRange(1e-3, 0.1))
    kind, rng = parse_field_values("epochs", "2:8")
    assert (kind, rng) == ("range", ParamRange(2, 8, False, True))
    assert isinstance(rng.low, int) and isinstance(rng.high, int)


@pytest.mark.parametrize(("texts", "options", "words"), [
    ({"max_lr": "1e-1:1e-3:log"}, {"method": "tpe", "trials": 5},
     "has its bounds reversed; write --max-lr 1e-3:1e-1:log"),
    ({"optimizer": "adam:sgd"}, {"method": "random", "trials": 5},
     "--optimizer is a choice, not a number: list the choices (--optimizer adam,sgd)"),
    ({"max_lr": "0:1e-1:log"}, {"method": "tpe", "trials": 5}, "needs a low end > 0"),
    ({"max_lr": "0.1"}, {"method": "bayes"}, "unknown method 'bayes'; --method must be one of"),
    ({"max_lr": "1e-3:1e-1"}, {"method": "tpe", "trials": 0}, "--trials must be a whole number"),
    ({"max_lr": "1e-3:1e-1"}, {"method": "tpe"}, "--method tpe needs --trials N"),
    ({"max_lr": "1e-3:1e-1"}, {}, "a grid cannot cover; give a list"),
    ({"max_lr": "0.1,0.2"}, {"method": "grid", "trials": 3}, "drop --trials"),
    ({"max_lr": "0.1"}, {"prune": True, "repeat": 3}, "--prune judges one run per trial"),
    ({"seed": "1,2"}, {"repeat": 3}, "--repeat 3 sets the seeds itself"),
    ({"epochs": "0,2"}, {}, validate_field("epochs", 0)),
    ({"max_lr": "1e-3:1e10"}, {"method": "tpe", "trials": 2}, validate_field("max_lr", 1e10)),
    ({"epochs": "2.5:8"}, {"method": "tpe", "trials": 2}, "range ends must be whole numbers"),
    ({"max_lr": "0.1,0.1"}, {}, "lists 0.1 twice"),
    ({"max_lr": "0.1,"}, {}, "has an empty item"),
    ({"max_lr": "0.1:0.1"}, {"method": "tpe", "trials": 2}, "is empty; give low < high"),
    ({"max_lr": "1:2:cubic"}, {"method": "tpe", "trials": 2}, "is not low:high or low:high:log"),
    ({"batch": "1,2"}, {}, "unknown parameter 'batch'"),
    ({"epochs": "3"}, {"method": "random", "trials": 3}, "has nothing to search"),
    ({"val_fraction": "0"}, {}, "--metric val_acc needs a validation split"),
    ({"max_lr": "0.1"}, {"prune": True, "metric": "test_acc"}, "test_acc comes only at the end"),
    ({"max_lr": "0.1"}, {"preset": "huge"}, "unknown preset 'huge'; --preset must be one of"),
    ({"max_lr": ",".join(map(str, range(1, 101))), "epochs": ",".join(map(str, range(1, 102)))},
     {}, "the grid has 10100 points"),
], ids=["reversed", "range-on-choice", "log-low-0", "method", "zero-trials", "no-trials",
        "range-in-grid", "grid-trials", "prune-repeat", "repeat-seed-list", "out-of-bounds",
        "range-out-of-bounds", "int-range-float", "duplicate", "empty-item", "empty-range",
        "bad-scale", "unknown-field", "nothing-to-search", "no-val-split", "prune-test-acc",
        "preset", "huge-grid"])
def test_a_bad_spec_is_one_line_naming_the_fix(texts, options, words) -> None:
    assert words in refused(texts, **options)


def test_grid_points_are_the_product_of_the_lists_in_table_order() -> None:
    spec = spec_from_texts({"optimizer": "adam,sgd", "max_lr": "0.01,0.02,0.04"}, repeat=2)
    assert list(spec.values) == ["max_lr", "optimizer"]  # the field table's order
    points = spec.grid_points()
    assert len(points) == spec.trial_count() == 6
    assert {(p["max_lr"], p["optimizer"]) for p in points} == {
        (lr, opt) for lr in (0.01, 0.02, 0.04) for opt in ("adam", "sgd")}
    assert spec.run_count() == 12
    assert SweepSpec().grid_points() == [{}] and SweepSpec().trial_count() == 1


def test_random_and_tpe_count_their_trials_and_repeats() -> None:
    spec = spec_from_texts({"max_lr": "1e-3:1e-1:log"}, method="tpe", trials=7, repeat=3)
    assert (spec.trial_count(), spec.run_count(), spec.goal) == (7, 21, "max")
    assert spec_from_texts({"max_lr": "1e-3:1e-1"}, method="random", trials=2,
                           metric="val_loss").goal == "min"


def test_configs_for_one_trial_are_the_preset_plus_fixed_plus_params_per_seed() -> None:
    spec = spec_from_texts({"epochs": "3", "max_lr": "0.01,0.02", "dataset": "synthetic"},
                           repeat=3)
    configs = spec.configs_for({"max_lr": 0.02})
    assert [c.seed for c in configs] == [0, 1, 2]
    assert {(c.epochs, c.max_lr, c.dataset, c.preset) for c in configs} == {
        (3, 0.02, "synthetic", "seed")}
    assert len(spec_from_texts({"epochs": "3"}).configs_for({})) == 1


def test_configs_for_refuses_a_bad_combination_in_one_line() -> None:
    spec = spec_from_texts({"max_lr": "1e-3:1e-1"}, method="random", trials=2)
    with pytest.raises(SweepSpecError, match="learning rate"):
        spec.configs_for({"max_lr": -1.0})


def test_to_dict_survives_json_and_comes_back_equal() -> None:
    spec = spec_from_texts({"max_lr": "1e-3:1e-1:log", "optimizer": "adam,sgd", "epochs": "2:6",
                            "grad_clip": "0"}, method="tpe", trials=9, name="lr hunt",
                           tags=("a", "b"))
    assert SweepSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.fixed == {"grad_clip": None}


def test_a_wandb_file_gives_the_same_spec_as_the_inline_flags() -> None:
    doc = {
        "method": "bayes", "run_cap": 12,
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {
            "max-lr": {"min": "1e-3", "max": 0.1, "distribution": "log_uniform_values"},
            "optimizer": {"values": ["adam", "sgd"]},
            "epochs": {"min": 2, "max": 8},
            "batch_size": {"value": 128},
            "label_smoothing": {"values": [0.1]},
        },
        "program": "train.py",  # W&B's own key: ignored
    }
    inline = spec_from_texts({"max_lr": "1e-3:1e-1:log", "optimizer": "adam,sgd",
                              "epochs": "2:8", "batch_size": "128", "label_smoothing": "0.1"},
                             method="tpe", trials=12, metric="val_loss")
    assert spec_from_wandb(doc) == inline


def test_command_line_options_and_flags_override_the_file() -> None:
    doc = {"method": "random", "run_cap": 4, "parameters": {
        "max_lr": {"values": [0.01, 0.02]}, "epochs": {"value": 3}}}
    spec = spec_from_wandb(doc, {"epochs": "5", "optimizer": "adam,sgd"}, trials=6, method=None)
    assert (spec.method, spec.trials) == ("random", 6)
    assert spec.fixed == {"epochs": 5}
    assert spec.values == {"max_lr": (0.01, 0.02), "optimizer": ("adam", "sgd")}


@pytest.mark.parametrize(("doc", "words"), [
    ({"parameters": {"lr": {"values": [1, 2]}}}, "unknown parameter 'lr'"),
    ({"parameters": {"max_lr": {"min": 0.1, "max": 0.01}}, "method": "random", "run_cap": 2},
     "bounds reversed; swap min and max"),
    ({"parameters": {"max_lr": {"min": 0.1, "max": 1, "distribution": "q_uniform"}}},
     "unknown distribution 'q_uniform'"),
    ({"parameters": {"max_lr": [0.1, 0.2]}}, "parameter max_lr must be {values: [...]}"),
    ({"parameters": {"max_lr": {"values": []}}}, "values must be a non-empty list"),
    ({"method": "grid", "paramters": {}}, "unknown key 'paramters' in the sweep file"),
    (["method", "grid"], "the sweep file must be a mapping"),
    ({"method": "hyperband"}, "unknown method 'hyperband'"),
    ({"parameters": {"max_lr": {"min": 1, "max": 2, "distribution": "int_uniform"}}},
     "int_uniform needs a whole-number field"),
    ({"parameters": {"preset": {"values": ["seed", "fast"]}}}, "run one sweep per preset"),
], ids=["unknown-param", "reversed", "distribution", "not-a-mapping", "empty-values",
        "unknown-key", "not-a-dict", "method", "int-on-float", "preset-list"])
def test_a_bad_file_is_one_line(doc, words) -> None:
    with pytest.raises(SweepSpecError) as info:
        spec_from_wandb(doc)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_the_file_can_set_the_preset_repeat_and_early_termination() -> None:
    doc = {"method": "grid", "preset": "fast", "repeat": 2,
           "parameters": {"max_lr": {"values": [0.2, 0.4]}}}
    spec = spec_from_wandb(doc)
    assert (spec.preset, spec.repeat, spec.run_count()) == ("fast", 2, 4)
    assert spec.configs_for({"max_lr": 0.2})[1].optimizer == "sgd"  # the fast recipe
    pruned = spec_from_wandb({"early_terminate": {"type": "hyperband"},
                              "parameters": {"max_lr": {"values": [0.2, 0.4]}}})
    assert pruned.prune
