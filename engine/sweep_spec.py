"""Sweep specs: what a user writes to search over run fields, parsed and checked once.

Pure stdlib, like the field table it builds on: the CLI's inline syntax
(``--max-lr 0.005,0.01``, ``--max-lr 1e-3:1e-1:log``) and a W&B-shaped sweep file both
become one frozen ``SweepSpec``, so the two ways of writing a sweep are refused with
the same words and give the same sweep. Every value goes through ``parse_field`` and
``validate_field``, so a sweep never queues a run that ``train`` would refuse.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from engine.config import (
    FIELDS,
    ConfigError,
    FieldSpec,
    RunConfig,
    config_from_preset,
    parse_field,
    validate_field,
)

METHODS = ("grid", "random", "tpe")
METRICS = ("val_acc", "test_acc", "val_loss")
GOALS = ("max", "min")
MAX_GRID_POINTS = 10_000  # a typo such as 1,2,...,500 x 500 should not enumerate millions
MAX_TRIALS = 100_000
MAX_REPEAT = 100
# Fields a sweep cannot vary: the sweep's own name and the recipe it starts from.
NOT_SWEPT = ("name", "preset")


class SweepSpecError(ValueError):
    """A sweep that must not be queued; the message is one line naming the fix."""


@dataclass(frozen=True)
class ParamRange:
    """A continuous (or whole-number) interval that random/tpe samples from."""

    low: float
    high: float
    log: bool = False
    integer: bool = False


@dataclass(frozen=True)
class SweepSpec:
    """One sweep: the method, what it optimises, and the fields it fixes, lists or samples."""

    method: str = "grid"
    metric: str = "val_acc"
    goal: str = "max"
    trials: int | None = None  # random/tpe: trial count; grid: None (every point)
    prune: bool = False
    repeat: int = 1  # runs per trial, seeds 0..repeat-1
    retries: int = 1  # each run's automatic requeues after an interruption (queue's default)
    preset: str | None = "seed"
    fixed: dict[str, Any] = field(default_factory=dict)
    values: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    ranges: dict[str, ParamRange] = field(default_factory=dict)
    name: str | None = None
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["values"] = {k: list(v) for k, v in self.values.items()}
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in known}
        kept["fixed"] = dict(kept.get("fixed") or {})
        kept["values"] = {k: tuple(v) for k, v in (kept.get("values") or {}).items()}
        kept["ranges"] = {k: ParamRange(**r) for k, r in (kept.get("ranges") or {}).items()}
        kept["tags"] = tuple(kept.get("tags") or ())
        return cls(**kept)

    def grid_points(self) -> list[dict[str, Any]]:
        """Every combination of the listed values, in table order; [{}] with no lists."""
        names = list(self.values)
        combos = itertools.product(*self.values.values())
        return [dict(zip(names, combo, strict=True)) for combo in combos]

    def trial_count(self) -> int:
        if self.method == "grid":
            return math.prod(len(v) for v in self.values.values())
        return int(self.trials or 0)

    def run_count(self) -> int:
        return self.trial_count() * self.repeat

    def configs_for(self, params: dict[str, Any]) -> list[RunConfig]:
        """The runs of one trial: preset + fixed + params, one per seed when repeated."""
        base = {**self.fixed, **params}
        seeds = [{"seed": s} for s in range(self.repeat)] if self.repeat > 1 else [{}]
        configs = []
        for seed in seeds:
            try:
                configs.append(config_from_preset(self.preset, **base, **seed).validate())
            except ConfigError as exc:
                raise SweepSpecError(next(iter(exc.errors.values()))) from None
        return configs


# -- one field's text ----------------------------------------------------------------
def _spec(name: str) -> FieldSpec:
    key = name.lstrip("-").replace("-", "_")
    if key not in FIELDS or key in NOT_SWEPT:
        raise SweepSpecError(f"unknown parameter {name!r}; use a run field such as max_lr "
                             "(see `cifar-tui queue --help`)")
    return FIELDS[key]


def _one(spec: FieldSpec, text: str) -> Any:
    """A single value's text, typed and checked by the field table."""
    try:
        value = parse_field(spec.name, text)
    except ValueError as exc:  # "max lr must be a number, ..." -> "--max-lr must be ..."
        raise SweepSpecError(str(exc).replace(spec.name.replace("_", " "), spec.flag, 1)) from None
    if problem := validate_field(spec.name, value):
        raise SweepSpecError(problem)
    return value


def _listable(spec: FieldSpec) -> bool:
    return bool(spec.choices) or spec.kind in (int, float, bool)


def parse_field_values(name: str, text: str) -> tuple[str, Any]:
    """One flag's text: ("value", v), ("values", (v, ...)) or ("range", ParamRange)."""
    spec = _spec(name)
    text = text.strip()
    if not _listable(spec):  # free text (device cuda:0, a folder): always one value
        return "value", _one(spec, text)
    if ":" in text:
        return "range", _range(spec, text)
    if "," not in text:
        return "value", _one(spec, text)
    items = [part.strip() for part in text.split(",")]
    if "" in items:
        raise SweepSpecError(f"{spec.flag} {text!r} has an empty item; "
                             "write the values with single commas, e.g. 0.005,0.01,0.02")
    return "values", _distinct(spec, tuple(_one(spec, item) for item in items))


def _distinct(spec: FieldSpec, values: tuple[Any, ...]) -> tuple[Any, ...]:
    for i, v in enumerate(values):
        if v in values[:i]:
            shown = str(v).lower() if isinstance(v, bool) else repr(v)  # as typed: true
            raise SweepSpecError(f"{spec.flag} lists {shown} twice; give each value once")
    return values


def _bound(spec: FieldSpec, text: str) -> float:
    try:
        return int(text) if spec.kind is int else float(text)
    except ValueError:
        word = "whole numbers" if spec.kind is int else "numbers"
        raise SweepSpecError(f"{spec.flag} range ends must be {word}, got {text!r}") from None


def _range(spec: FieldSpec, text: str) -> ParamRange:
    if spec.choices or spec.kind is bool:
        shown = ",".join(spec.choices) if spec.choices else "true,false"
        raise SweepSpecError(f"{spec.flag} is a choice, not a number: list the choices "
                             f"({spec.flag} {shown}) instead of a range")
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("log", "uniform")):
        raise SweepSpecError(f"{spec.flag} range {text!r} is not low:high or low:high:log, "
                             "e.g. 1e-3:1e-1:log")
    log = len(parts) == 3 and parts[2] == "log"
    fix = f"{spec.flag} " + ":".join([parts[1], parts[0], *parts[2:]])
    return make_range(spec.name, _bound(spec, parts[0]), _bound(spec, parts[1]), log,
                      shown=text, fix=fix)


def make_range(name: str, low: Any, high: Any, log: bool, shown: str, fix: str) -> ParamRange:
    """A checked range: ends in order, inside the field's bounds, > 0 when log. Whole
    numbers for an int field. ``shown`` is the range as written, ``fix`` the reversal."""
    spec = _spec(name)
    integer = spec.kind is int
    if spec.choices or spec.kind not in (int, float):
        raise SweepSpecError(f"{spec.flag} is a choice, not a number: give it a list of values")
    for end in (low, high):
        if isinstance(end, bool) or not isinstance(end, int | float) or (
                integer and not isinstance(end, int)):
            word = "whole numbers" if integer else "numbers"
            raise SweepSpecError(f"{spec.flag} range ends must be {word}, got {end!r}")
    if low > high:
        fix = fix if fix.startswith("swap") else f"write {fix}"
        raise SweepSpecError(f"{spec.flag} range {shown} has its bounds reversed; "
                             f"{fix} (low first)")
    if low == high:
        raise SweepSpecError(f"{spec.flag} range {shown} is empty; give low < high, "
                             f"or the one value {low}")
    if log and low <= 0:
        raise SweepSpecError(f"{spec.flag} log range {shown} needs a low end > 0 "
                             "(a log scale cannot reach 0); raise it or drop :log")
    for end in (low, high):
        problem = validate_field(spec.name, end)
        if problem:
            raise SweepSpecError(problem)
    if integer:
        return ParamRange(int(low), int(high), log, True)
    return ParamRange(float(low), float(high), log, False)


# -- whole specs ---------------------------------------------------------------------
Entry = tuple[str, Any]  # ("value", v) | ("values", tuple) | ("range", ParamRange)


def spec_from_texts(texts: dict[str, str], **options: Any) -> SweepSpec:
    """Flags as raw text ({"max_lr": "1e-3:1e-1:log", ...}) plus sweep options -> a spec.

    Options (None = not given): method, metric, goal, trials, prune, repeat, preset,
    name, tags. Everything is checked; a problem raises SweepSpecError."""
    entries = {_spec(k).name: parse_field_values(k, v) for k, v in texts.items()}
    return build_spec(entries, {k: v for k, v in options.items() if v is not None})


def spec_from_wandb(doc: Any, texts: dict[str, str] | None = None,
                    **options: Any) -> SweepSpec:
    """A loaded W&B-shaped sweep file (method, metric {name, goal}, parameters, run_cap);
    ``texts`` and ``options`` (the command line) override or extend what the file says."""
    if not isinstance(doc, dict):
        raise SweepSpecError("the sweep file must be a mapping with method:, metric: and "
                             "parameters: (see the README's Sweeps section)")
    unknown = sorted(set(map(str, doc)) - FILE_KEYS)
    if unknown:
        raise SweepSpecError(f"unknown key {unknown[0]!r} in the sweep file; it takes: "
                             f"{', '.join(sorted(FILE_KEYS))}")
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise SweepSpecError("parameters: in the sweep file must map names to "
                             "{values: [...]}, {value: x} or {min: a, max: b}")
    from_file = _file_options(doc, params)
    entries = {_spec(str(k)).name: _file_entry(str(k), p) for k, p in params.items()
               if str(k) != "preset"}
    entries.update({_spec(k).name: parse_field_values(k, v) for k, v in (texts or {}).items()})
    given = {k: v for k, v in options.items() if v is not None}
    return build_spec(entries, {**from_file, **given})


# W&B's own keys that say where to run (program, command, project, ...) mean nothing here.
FILE_KEYS = frozenset({"method", "metric", "parameters", "run_cap", "name", "description",
                       "early_terminate", "program", "command", "project", "entity",
                       "repeat", "preset", "tags"})
DISTRIBUTIONS = ("uniform", "log_uniform_values", "int_uniform")


def _file_options(doc: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    metric = doc.get("metric") or {}
    if isinstance(metric, str):
        metric = {"name": metric}
    if not isinstance(metric, dict):
        raise SweepSpecError("metric: in the sweep file must be {name: val_acc, goal: max}")
    goal = {"maximize": "max", "minimize": "min"}.get(metric.get("goal"), metric.get("goal"))
    preset = doc.get("preset", "seed")
    if "preset" in params:
        if not (isinstance(params["preset"], dict) and list(params["preset"]) == ["value"]):
            raise SweepSpecError("parameter preset takes one recipe, {value: seed}; "
                                 "run one sweep per preset")
        preset = params["preset"]["value"]
    tags = doc.get("tags") or ()
    options = {"method": {"bayes": "tpe"}.get(doc.get("method"), doc.get("method")),
               "metric": metric.get("name"), "goal": goal, "trials": doc.get("run_cap"),
               "prune": bool(doc.get("early_terminate")), "repeat": doc.get("repeat"),
               "preset": preset, "name": doc.get("name"),
               "tags": (tags,) if isinstance(tags, str) else tuple(map(str, tags))}
    return {k: v for k, v in options.items() if v is not None}


def _text(spec: FieldSpec, value: Any) -> str:
    """A YAML value as the text the CLI would have been given (YAML reads 1e-3 as text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, dict | list):
        raise SweepSpecError(f"parameter {spec.name} has {value!r} where one value belongs")
    return str(value)


def _file_entry(name: str, param: Any) -> Entry:
    spec = _spec(name)
    shape = (f"parameter {name} must be {{values: [...]}}, {{value: x}} or "
             "{min: a, max: b, distribution: ...}")
    if not isinstance(param, dict) or not param:
        raise SweepSpecError(shape)
    if "value" in param:
        return "value", _one(spec, _text(spec, param["value"]))
    if "values" in param:
        items = param["values"]
        if not isinstance(items, list) or not items:
            raise SweepSpecError(f"parameter {name}: values must be a non-empty list")
        typed = _distinct(spec, tuple(_one(spec, _text(spec, v)) for v in items))
        return ("value", typed[0]) if len(typed) == 1 else ("values", typed)
    if "min" not in param or "max" not in param:
        raise SweepSpecError(shape)
    dist = param.get("distribution") or ("int_uniform" if spec.kind is int else "uniform")
    if dist not in DISTRIBUTIONS:
        raise SweepSpecError(f"parameter {name}: unknown distribution {dist!r}; use one of: "
                             f"{', '.join(DISTRIBUTIONS)}")
    low, high = (_bound(spec, v) if isinstance(v, str) else v
                 for v in (param["min"], param["max"]))
    if dist == "int_uniform" and spec.kind is not int:
        raise SweepSpecError(f"parameter {name}: int_uniform needs a whole-number field; "
                             "use uniform or log_uniform_values")
    return "range", make_range(spec.name, low, high, dist == "log_uniform_values",
                               shown=f"min {low}, max {high}", fix="swap min and max")


def build_spec(entries: dict[str, Entry], options: dict[str, Any]) -> SweepSpec:
    """Entries by field plus options -> a checked spec, fields in table order."""
    method = _choice("method", options.get("method") or "grid", METHODS)
    metric = _choice("metric", options.get("metric") or "val_acc", METRICS)
    goal = _choice("goal", options.get("goal") or ("min" if metric == "val_loss" else "max"),
                   GOALS)
    repeat = _count("--repeat", options.get("repeat", 1), MAX_REPEAT)
    prune = bool(options.get("prune"))
    preset = options.get("preset", "seed")
    if preset is not None and (problem := validate_field("preset", preset)):
        raise SweepSpecError(problem)
    ordered = {name: entries[name] for name in FIELDS if name in entries}
    fixed = {k: v for k, (kind, v) in ordered.items() if kind == "value"}
    values = {k: v for k, (kind, v) in ordered.items() if kind == "values"}
    ranges = {k: v for k, (kind, v) in ordered.items() if kind == "range"}
    trials = _trials(method, options.get("trials"), values, ranges)
    _check_combination(metric, prune, repeat, ordered, fixed, values)
    tags = tuple(options.get("tags") or ())
    spec = SweepSpec(method=method, metric=metric, goal=goal, trials=trials, prune=prune,
                     repeat=repeat, preset=preset, fixed=fixed, values=values, ranges=ranges,
                     name=options.get("name"), tags=tags)
    spec.configs_for({k: v[0] for k, v in values.items()}
                     | {k: r.low for k, r in ranges.items()})
    return spec


def _choice(what: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SweepSpecError(f"unknown {what} {value!r}; --{what} must be one of: "
                             f"{', '.join(allowed)}")
    return value


def _count(flag: str, value: Any, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise SweepSpecError(f"{flag} must be a whole number from 1 to {most}, got {value!r}")
    return value


def _trials(method: str, trials: Any, values: dict, ranges: dict) -> int | None:
    if method == "grid":
        if trials is not None:
            raise SweepSpecError("--method grid runs every point of the lists; drop --trials "
                                 "(or run_cap), or use --method random|tpe to run N of them")
        if ranges:
            name = next(iter(ranges))
            raise SweepSpecError(f"{FIELDS[name].flag} is a range, which a grid cannot cover; "
                                 "give a list (e.g. 0.001,0.01,0.1) or use --method random|tpe")
        points = math.prod(len(v) for v in values.values())
        if points > MAX_GRID_POINTS:
            raise SweepSpecError(f"the grid has {points} points, more than {MAX_GRID_POINTS}; "
                                 "shorten the lists or use --method random|tpe with --trials")
        return None
    if trials is None:
        raise SweepSpecError(f"--method {method} needs --trials N (how many trials to run)")
    if not values and not ranges:
        raise SweepSpecError(f"--method {method} has nothing to search; give a list "
                             "(--optimizer adam,sgd) or a range (--max-lr 1e-3:1e-1:log)")
    return _count("--trials", trials, MAX_TRIALS)


def _check_combination(metric: str, prune: bool, repeat: int, entries: dict[str, Entry],
                       fixed: dict, values: dict) -> None:
    if prune and repeat > 1:
        raise SweepSpecError("--prune judges one run per trial, so it cannot go with "
                             "--repeat; drop --prune or --repeat")
    if prune and metric == "test_acc":
        raise SweepSpecError("--prune judges each epoch's validation, but test_acc comes only "
                             "at the end; use --metric val_acc or val_loss, or drop --prune")
    if repeat > 1 and "seed" in entries:
        raise SweepSpecError(f"--repeat {repeat} sets the seeds itself (0 to {repeat - 1}); "
                             "drop --seed or --repeat")
    no_val = fixed.get("val_fraction") == 0 or 0 in values.get("val_fraction", ())
    if metric.startswith("val") and no_val:
        raise SweepSpecError(f"--metric {metric} needs a validation split, which "
                             "--val-fraction 0 leaves out; raise it or use --metric test_acc")


__all__ = [
    "GOALS", "MAX_GRID_POINTS", "METHODS", "METRICS", "ParamRange", "SweepSpec",
    "SweepSpecError", "build_spec", "make_range", "parse_field_values", "spec_from_texts",
    "spec_from_wandb",
]
