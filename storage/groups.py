"""Seed groups: runs whose configs differ only in ``seed`` (and ``name``), as one answer.

Pure functions over the records the store already returns (``RunSummary``, ``RunDetail``,
``EpochRow``), plus one read (``configs_of``): the run list has no configs, and finding
the group of one run means looking at every run's config, which ``get_run`` would load
with all its epochs and attempts. SQLAlchemy is imported only there, so the TUI can group
without paying for it on its first frame.

Only ``seed`` and ``name`` are ignored, as issue 14 asks: ``log_every``, ``device``,
``data_dir`` and ``compile`` change no result in theory, but a run that differs in them
is kept apart, so a group never mixes runs someone set up differently on purpose.
A stored config is completed with the current defaults first, so a run stored before a
field existed groups with one that has the field at its default.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.config import RunConfig
from storage.records import EpochRow, RunDetail, RunSummary, to_jsonable

if TYPE_CHECKING:
    from storage.runs import RunStore

IGNORED = ("seed", "name")  # the settings that may differ inside a group
GROUP_PREFIX = "g:"  # `compare g:12`: the group run 12 belongs to
STAT_FIELDS = ("best_val_acc", "test_acc", "duration_s")


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (n-1) of the runs that have a value.

    Only completed runs have one: a failed, cancelled, pruned or still running run may
    carry the best val acc of its first epochs, which would pull the mean down. ``n``
    counts the runs with a value; ``std`` is None with fewer than two."""

    mean: float | None
    std: float | None
    n: int


@dataclass(frozen=True)
class RunGroup:
    """Runs of one setting over seeds; ``runs`` oldest (lowest id) first."""

    key: str
    runs: tuple[RunSummary, ...]
    settings: dict[str, Any]  # the shared config, without seed and name
    stats: dict[str, Stat] = field(default_factory=dict)  # STAT_FIELDS -> Stat
    seeds: tuple[Any, ...] = ()

    @property
    def id(self) -> int:
        """The lowest run id in the group: it names the group (``g:<id>``)."""
        return self.runs[0].id

    @property
    def label(self) -> str:
        return f"{GROUP_PREFIX}{self.id}"

    @property
    def run_ids(self) -> list[int]:
        return [r.id for r in self.runs]

    @property
    def n(self) -> int:
        return len(self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.label, "n": self.n, "run_ids": self.run_ids,
            "seeds": list(self.seeds),
            "statuses": {s: sum(r.status == s for r in self.runs)
                         for s in dict.fromkeys(r.status for r in self.runs)},
            **{name: to_jsonable(self.stats[name]) for name in STAT_FIELDS},
            "settings": self.settings,
        }


def settings_of(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config completed with today's defaults, without the ignored fields."""
    full = RunConfig.from_dict(dict(config)).to_dict()
    return {k: v for k, v in full.items() if k not in IGNORED}


def group_key(config: Mapping[str, Any]) -> str:
    """Equal for two configs exactly when they differ at most in ``IGNORED``."""
    return json.dumps(settings_of(config), sort_keys=True, default=str)


def stat(values: Iterable[float | None]) -> Stat:
    present = [float(v) for v in values if v is not None]
    if not present:
        return Stat(None, None, 0)
    std = statistics.stdev(present) if len(present) > 1 else None
    return Stat(statistics.mean(present), std, len(present))


def group_runs(runs: Sequence[RunSummary],
               configs: Mapping[int, Mapping[str, Any]]) -> list[RunGroup]:
    """The groups of ``runs``, in the order of each group's first run in ``runs``
    (so a sorted run list gives groups in that order). ``configs``: run id -> config."""
    members: dict[str, list[RunSummary]] = {}
    for run in runs:
        members.setdefault(group_key(configs[run.id]), []).append(run)
    return [make_group(key, group, configs) for key, group in members.items()]


def run_stats(runs: Sequence[RunSummary]) -> dict[str, Stat]:
    """The statistics of STAT_FIELDS over the completed runs among ``runs``."""
    done = [r for r in runs if r.status == "completed"]
    return {name: stat(getattr(r, name) for r in done) for name in STAT_FIELDS}


def make_group(key: str, runs: Sequence[RunSummary],
               configs: Mapping[int, Mapping[str, Any]]) -> RunGroup:
    ordered = tuple(sorted(runs, key=lambda r: r.id))
    stats = run_stats(ordered)
    seeds = tuple(configs[r.id].get("seed") for r in ordered)
    return RunGroup(key, ordered, settings_of(configs[ordered[0].id]), stats, seeds)


def sort_groups(groups: list[RunGroup], by: str, descending: bool) -> list[RunGroup]:
    """By a statistic's mean (groups without a value last), else as given."""
    if by not in STAT_FIELDS:
        return groups
    have = [g for g in groups if g.stats[by].mean is not None]
    rest = [g for g in groups if g.stats[by].mean is None]
    have.sort(key=lambda g: (g.stats[by].mean, g.id), reverse=descending)
    return have + rest


def differing_settings(groups: Sequence[RunGroup]) -> list[str]:
    """The settings whose values are not the same in every group (what tells them apart)."""
    keys = sorted({k for g in groups for k in g.settings})
    return [k for k in keys if len({json.dumps(g.settings.get(k), default=str)
                                    for g in groups}) > 1]


# -- curves -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BandPoint:
    """One epoch of a group's curve: the mean over the runs that reached it, and the
    lowest and highest of them (the band)."""

    epoch: int
    mean: float
    low: float
    high: float
    n: int


def band(curves: Iterable[Sequence[EpochRow]], metric: str) -> list[BandPoint]:
    """Per epoch, mean/min/max of ``metric`` (an EpochRow field) over the runs with a value."""
    by_epoch: dict[int, list[float]] = {}
    for rows in curves:
        for row in rows:
            value = getattr(row, metric)
            if value is not None:
                by_epoch.setdefault(row.epoch, []).append(float(value))
    return [BandPoint(ep, statistics.mean(v), min(v), max(v), len(v))
            for ep, v in sorted(by_epoch.items())]


def stat_text(s: Stat, percent: bool = True, digits: int = 2, sep: str = " ± ") -> str:
    """``91.20 ± 0.35`` (accuracies in percent points); a lone value's std is ``—``,
    no value at all is ``–`` (as the run tables show an empty cell)."""
    if s.mean is None:
        return "–"
    scale = 100.0 if percent else 1.0
    std = "—" if s.std is None else f"{s.std * scale:.{digits}f}"
    return f"{s.mean * scale:.{digits}f}{sep}{std}"


# -- comparing groups side by side --------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One side of a comparison: a group, or a single run (a group of one)."""

    label: str  # "g:12" or "#12"
    runs: list[RunDetail]
    settings: dict[str, Any]  # the shared settings, with ``seed`` the one value or all
    stats: dict[str, Stat]
    curves: dict[str, list[BandPoint]]  # "val_acc"/"val_loss" -> per-epoch band

    @property
    def run_ids(self) -> list[int]:
        return [r.id for r in self.runs]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "n": len(self.runs), "run_ids": self.run_ids,
                "settings": self.settings,
                **{k: to_jsonable(v) for k, v in self.stats.items()},
                "curves": to_jsonable(self.curves)}


def make_column(label: str, runs: Sequence[RunDetail]) -> Column:
    ordered = sorted(runs, key=lambda r: r.id)
    seeds = [r.config.get("seed") for r in ordered]
    settings = {**settings_of(ordered[0].config),
                "seed": seeds[0] if len(seeds) == 1 else seeds}
    stats = run_stats(ordered)
    # The completed runs' curves (a pruned run's early epochs would bend the band), or
    # every run's while none has completed yet.
    drawn = [r for r in ordered if r.status == "completed"] or ordered
    curves = {m: band((r.epoch_rows for r in drawn), m) for m in ("val_acc", "val_loss")}
    return Column(label, ordered, settings, stats, curves)


def settings_diff(columns: Sequence[Column]) -> dict[str, list[Any]]:
    """Setting -> each column's value, for the settings that are not the same in all."""
    keys = sorted({k for c in columns for k in c.settings})
    out = {}
    for key in keys:
        values = [c.settings.get(key) for c in columns]
        if len({json.dumps(v, default=str) for v in values}) > 1:
            out[key] = values
    return out


# -- reading the store ---------------------------------------------------------------


def configs_of(store: RunStore, run_ids: Sequence[int] | None = None) -> dict[int, dict]:
    """Run id -> stored config, for ``run_ids`` or every run: the one query grouping needs."""
    from sqlalchemy import select

    from storage.schema import Run

    stmt = select(Run.id, Run.config)
    if run_ids is not None:
        stmt = stmt.where(Run.id.in_(list(run_ids)))
    with store._read() as s:  # noqa: SLF001  (storage's own session, inside storage)
        return {run_id: dict(config or {}) for run_id, config in s.execute(stmt)}


def load_groups(store: RunStore, flt: Any = None, sort: str = "created_at",
                descending: bool = True) -> list[RunGroup]:
    """Every run matching the filter (a ``RunFilter``), grouped. Sorted by a statistic's
    mean when ``sort`` is one (best_val_acc, test_acc, duration_s), else in the order of
    each group's first run under ``sort`` (newest group first by default)."""
    total = store.count_runs(flt)
    runs = store.list_runs(flt, sort=sort, descending=descending, limit=total)
    groups = group_runs(runs, configs_of(store))  # all: a long IN list hits SQLite's limit
    return sort_groups(groups, sort, descending)


def group_of(store: RunStore, run_id: int) -> list[int]:
    """The ids of every run in the store in ``run_id``'s group (itself included)."""
    configs = configs_of(store)
    if run_id not in configs:
        store.get_run(run_id)  # raises RunNotFound with the store's own words
    key = group_key(configs[run_id])
    return sorted(i for i, c in configs.items() if group_key(c) == key)


def load_columns(store: RunStore, refs: Sequence[str]) -> list[Column]:
    """``compare``'s operands as columns: ``g:REF`` is the whole group of run REF (an id or
    a name), anything else one run. The same group (or run) twice is refused."""
    from storage.errors import BadFilter

    wanted: list[tuple[str, list[int]]] = []
    for ref in refs:
        text = str(ref).strip()
        if text.lower().startswith(GROUP_PREFIX):
            inner = text[len(GROUP_PREFIX):].strip()
            if not inner:
                raise BadFilter(f"{text!r} names no run; write g:ID, e.g. g:12 for run 12's group")
            ids = group_of(store, store.resolve_run(inner))
            wanted.append((f"{GROUP_PREFIX}{ids[0]}", ids))
        else:
            run_id = store.resolve_run(text)
            wanted.append((f"#{run_id}", [run_id]))
    seen: dict[tuple[int, ...], str] = {}
    for (label, ids), ref in zip(wanted, refs, strict=True):
        if tuple(ids) in seen:
            raise BadFilter(f"{ref} is the same as {seen[tuple(ids)]} ({label}); "
                            "compare different groups or runs")
        seen[tuple(ids)] = str(ref)
    details = {r.id: r for r in store.compare([i for _, ids in wanted for i in ids]).runs}
    return [make_column(label, [details[i] for i in ids]) for label, ids in wanted]
