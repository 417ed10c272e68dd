"""Seed groups on the CLI: `runs --group` and `compare g:N` (storage/groups.py does the
grouping and the statistics; this only prints them)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from cli.common import open_store, print_json
from engine import formatting as fmt

if TYPE_CHECKING:
    from storage.groups import Column, RunGroup, Stat

GROUP_HELP = ("g:N stands for every run in run N's seed group (runs whose settings differ "
              "only in seed and name): `compare g:12 g:15` shows each group's mean ± std")


def is_group_ref(ref: str) -> bool:
    from storage.groups import GROUP_PREFIX

    return str(ref).strip().lower().startswith(GROUP_PREFIX)


def _console() -> Any:
    from cli.history import _console as console

    return console()


def _with_count(text: str, s: Stat, n: int) -> str:
    """Say how many runs the figure is over when some have no value (queued, failed)."""
    return text if s.n == n or s.mean is None else f"{text} ({s.n} of {n})"


def _setting_text(group: RunGroup, keys: list[str]) -> str:
    if not keys:  # one group, or groups equal but for run-time-only differences
        return group.runs[0].name
    return " ".join(f"{k}={fmt.setting(group.settings.get(k))}" for k in keys)


def print_groups(args: argparse.Namespace, flt: Any) -> int:
    """`runs --group`: one row per seed group; --limit/--offset page the groups."""
    from rich.table import Table

    from storage.groups import differing_settings, load_groups, stat_text

    with open_store(args) as store:
        groups = load_groups(store, flt, sort=args.sort, descending=not args.asc)
    shown = groups[args.offset:args.offset + args.limit]
    if args.json:
        print_json([g.to_dict() for g in shown])
        return 0
    if not shown:
        print("no runs match" if any(vars(flt).values()) else "no runs yet")
        return 0
    keys = differing_settings(groups)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("group", "n", "settings", "model", "best val", "test", "time", "seeds"):
        right = col in ("n", "best val", "test", "time")
        table.add_column(col, justify="right" if right else "left", no_wrap=col != "settings")
    for g in shown:
        val, test = g.stats["best_val_acc"], g.stats["test_acc"]
        seeds = ",".join(str(s) for s in g.seeds)
        table.add_row(
            g.label, str(g.n), _setting_text(g, keys), g.runs[0].model,
            _with_count(stat_text(val), val, g.n), _with_count(stat_text(test), test, g.n),
            fmt.duration(g.stats["duration_s"].mean), seeds)
    console = _console()
    console.print(table)
    runs = sum(g.n for g in groups)
    console.print(f"[dim]groups {args.offset + 1}-{args.offset + len(shown)} of {len(groups)} "
                  f"({runs} runs) · mean ± sample std over seeds · g:N names run N's group "
                  "(cifar-tui compare g:N g:M)[/dim]")
    return 0


def compare_groups(args: argparse.Namespace) -> int:
    """`compare` with a g:N among its operands: each group (or run) as one column."""
    from rich.table import Table

    from storage.groups import load_columns, settings_diff, stat_text

    with open_store(args) as store:
        columns = load_columns(store, args.runs)
    diff = settings_diff(columns)
    if args.json:
        print_json({"columns": [c.to_dict() for c in columns], "config_diff": diff})
        return 0
    console = _console()

    def table(title: str) -> Table:
        t = Table(title=title, title_justify="left", box=None, header_style="bold")
        t.add_column("")
        for c in columns:
            t.add_column(f"{c.label} (n={len(c.runs)})", justify="right")
        return t

    params = table("settings that differ")
    for key, values in diff.items():
        params.add_row(key, *(_values_text(v) for v in values))
    console.print(params if diff else "[dim]same settings[/dim]")
    metrics = table("metrics (mean ± sample std over the runs with a value)")
    for name, label in (("best_val_acc", "best val acc"), ("test_acc", "test acc")):
        metrics.add_row(label, *(_with_count(stat_text(c.stats[name]), c.stats[name],
                                             len(c.runs)) for c in columns))
    metrics.add_row("time (mean)", *(fmt.duration(c.stats["duration_s"].mean) for c in columns))
    metrics.add_row("runs", *(" ".join(f"#{i}" for i in c.run_ids) for c in columns))
    console.print(metrics)
    _print_curves(console, columns, table("val acc by epoch: mean (min–max)"))
    return 0


def _values_text(value: Any) -> str:
    if isinstance(value, list):  # a group's seeds
        return ",".join(fmt.setting(v) for v in value)
    return fmt.setting(value)


def _print_curves(console: Any, columns: list[Column], table: Any) -> None:
    bands = [{p.epoch: p for p in c.curves["val_acc"]} for c in columns]
    epochs = sorted({ep for b in bands for ep in b})
    for ep in epochs:
        cells = []
        for b in bands:
            p = b.get(ep)
            if p is None:
                cells.append("–")
            elif p.n == 1:
                cells.append(f"{p.mean * 100:.2f}")
            else:
                cells.append(f"{p.mean * 100:.2f} ({p.low * 100:.1f}–{p.high * 100:.1f})")
        table.add_row(str(ep), *cells)
    if epochs:
        console.print(table)
