"""`sweep` (queue a grid/random/tpe sweep; `sweep show ID`, `sweep cancel ID`) and `sweeps`.

A sweep is written inline (``--max-lr 1e-3:1e-1:log --optimizer adam,sgd``) or in a
W&B-shaped YAML file (``--file sweep.yaml``); both become one ``SweepSpec``
(engine/sweep_spec.py), which the worker package queues and steers.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from cli.common import CliError, add_retries_argument, db_parent, open_store, print_json
from cli.config_args import add_config_arguments, config_texts, pin_data_dir
from engine.sweep_spec import (
    METHODS,
    METRICS,
    SweepSpec,
    SweepSpecError,
    parse_field_values,
    spec_from_texts,
    spec_from_wandb,
)

CONFIRM_ABOVE = 100  # more runs than this asks [y/N] (or needs --yes)
ACTIONS = ("show", "cancel")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", parents=[db_parent()],
        help="queue a sweep (grid, random or tpe); `sweep show ID`, `sweep cancel ID`",
        description="Queue a sweep over run fields: a list a,b,c or a range low:high[:log] "
                    "on any config flag, or a W&B-shaped --file. `sweep show ID` shows a "
                    "sweep's trials best first; `sweep cancel ID` stops it. --name names "
                    "the sweep (its runs are named after it).")
    p.add_argument("action", nargs="?", metavar="show|cancel",
                   help="show or cancel a sweep instead of queueing one")
    p.add_argument("sweep_id", nargs="?", metavar="ID", help="the sweep to show or cancel")
    p.add_argument("--file", metavar="YAML",
                   help="a W&B-shaped sweep file (method, metric, parameters, run_cap); "
                        "flags given here override it")
    p.add_argument("--method", default=None, help=f"{', '.join(METHODS)} (default grid)")
    p.add_argument("--trials", type=int, default=None, metavar="N",
                   help="random/tpe: how many trials (a grid runs every point)")
    p.add_argument("--metric", default=None,
                   help=f"what a trial is judged by: {', '.join(METRICS)} (default val_acc)")
    p.add_argument("--goal", default=None, help="max or min (default min for val_loss, else max)")
    p.add_argument("--prune", action="store_true",
                   help="stop trials that fall behind early (judged on each epoch's validation)")
    add_sweep_run_arguments(p)
    add_retries_argument(p)  # each run's, as queue's
    add_config_arguments(p, lists=True)  # its --name names the sweep
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_sweep)

    s = sub.add_parser("sweeps", parents=[db_parent()], help="list the sweeps",
                       description="List every sweep: method, metric, status, trials and runs.")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=run_sweeps)


def add_sweep_run_arguments(parser: argparse.ArgumentParser) -> None:
    """--repeat, --tag, --yes and the worker flags, shared by `sweep` and `queue`."""
    if not any(a.dest == "tag" for a in parser._actions):
        parser.add_argument("--tag", action="append", default=[], help="tag (repeatable)")
    parser.add_argument("--repeat", type=int, default=None, metavar="K",
                        help="run each config K times, with seeds 0 to K-1")
    parser.add_argument("--yes", action="store_true",
                        help=f"queue more than {CONFIRM_ABOVE} runs without asking")
    if not any(a.dest == "no_worker" for a in parser._actions):
        parser.add_argument("--worker-device", default="auto",
                            help="device of the worker to start if this store has none alive")
        parser.add_argument("--no-worker", action="store_true",
                            help="only queue; do not start a worker")


# -- queueing ---------------------------------------------------------------------------
def run_sweep(args: argparse.Namespace) -> int:
    if args.action is not None:
        return _act_on_sweep(args)
    options = dict(method=args.method, metric=args.metric, goal=args.goal, trials=args.trials,
                   prune=True if args.prune else None, repeat=args.repeat, preset=args.preset,
                   name=args.name, tags=tuple(args.tag) or None)
    texts = config_texts(args)
    try:
        if args.file is not None:
            spec = spec_from_wandb(load_sweep_file(args.file), texts, **options)
        else:
            spec = spec_from_texts(texts, **options)
    except SweepSpecError as exc:
        raise CliError(str(exc)) from None
    spec = dataclasses.replace(spec, retries=args.retries)
    if spec.method == "grid" and spec.run_count() == 1:
        raise CliError("this sweep is one run: give a list (--max-lr 0.005,0.01), a range "
                       "with --method random|tpe, or --repeat K; or `cifar-tui queue` one run")
    return queue_spec(args, spec)


def sweep_of_queue(args: argparse.Namespace) -> SweepSpec | None:
    """`queue`'s flags as a grid sweep, or None when each is one value and --repeat is 1."""
    texts = config_texts(args)
    try:
        kinds = {name: parse_field_values(name, text)[0] for name, text in texts.items()}
        ranged = next((name for name, kind in kinds.items() if kind == "range"), None)
        if ranged is not None:
            flag = "--" + ranged.replace("_", "-")
            raise CliError(f"{flag} {texts[ranged]} is a range; ranges need "
                           "`cifar-tui sweep --method random|tpe --trials N`")
        if "values" not in kinds.values() and args.repeat in (None, 1):
            return None
        spec = spec_from_texts(texts, method="grid", repeat=args.repeat, preset=args.preset,
                               name=args.name, tags=tuple(args.tag) or None)
        return dataclasses.replace(spec, retries=args.retries)
    except SweepSpecError as exc:
        raise CliError(str(exc)) from None


def load_sweep_file(path: str) -> Any:
    """The YAML document in ``path``; a missing, unreadable or invalid file is one line."""
    import yaml  # PyYAML, installed with optuna; only sweep files need it

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"sweep file {path} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise CliError(f"cannot read sweep file {path}: {reason}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise CliError(f"sweep file {path} is not valid YAML{where}: {problem}; "
                       "fix it (see the README's Sweeps section)") from None


def queue_spec(args: argparse.Namespace, spec: SweepSpec) -> int:
    """Say how many runs the sweep makes, confirm a big one, queue it, start a worker."""
    from cli.worker import _ensure_worker, check_device
    from worker.sweeps import queue_sweep

    spec = pin_data_dir(spec)
    runs = spec.run_count()
    trials = spec.trial_count()
    seeds = f" x {spec.repeat} seeds" if spec.repeat > 1 else ""
    what = "grid point" if spec.method == "grid" else f"{spec.method} trial"
    print(f"this sweep makes {runs} run(s): {trials} {what}(s){seeds}",
          file=sys.stderr if args.json else sys.stdout)
    if not _confirmed(runs, args.yes):
        print("nothing queued")
        return 1
    if not args.no_worker:
        check_device(args.worker_device)  # refused before anything is queued
    with open_store(args) as store:
        try:
            sweep_id, run_ids = queue_sweep(store, spec)
        except SweepSpecError as exc:  # a bad combination, refused before anything is written
            raise CliError(str(exc)) from None
        url, store_id = store.url, store.store_id
    started = "" if args.no_worker else _ensure_worker(url, store_id, args.worker_device)
    if args.json:
        print_json({"sweep_id": sweep_id, "run_ids": run_ids, "run_count": runs,
                    "spec": spec.to_dict()})
    elif run_ids:
        print(f"sweep {sweep_id}: queued runs {_id_span(run_ids)}{started}")
    else:
        print(f"sweep {sweep_id}: workers queue its trials one by one as they free up "
              f"(`cifar-tui sweep show {sweep_id}`){started}")
    return 0


def _confirmed(runs: int, yes: bool) -> bool:
    if runs <= CONFIRM_ABOVE or yes:
        return True
    if not sys.stdin.isatty():
        raise CliError(f"this sweep makes {runs} runs, more than {CONFIRM_ABOVE}; "
                       "pass --yes to queue them")
    try:
        answer = input(f"queue {runs} runs? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _id_span(ids: list[int]) -> str:
    if ids == list(range(ids[0], ids[0] + len(ids))) and len(ids) > 1:
        return f"{ids[0]}-{ids[-1]}"
    return ", ".join(map(str, ids))


# -- show, cancel, list -------------------------------------------------------------------
def _act_on_sweep(args: argparse.Namespace) -> int:
    if args.action not in ACTIONS:
        raise CliError(f"unknown sweep action {args.action!r}; use `cifar-tui sweep show ID`, "
                       "`cifar-tui sweep cancel ID`, or flags to queue a sweep")
    given = [flag for flag, value in (("--file", args.file), ("--method", args.method),
                                      ("--trials", args.trials), ("--repeat", args.repeat))
             if value is not None] + ["--" + k.replace("_", "-") for k in config_texts(args)]
    if given:
        raise CliError(f"sweep {args.action} takes a sweep id only, not {given[0]}; "
                       "to queue a sweep leave out show/cancel")
    if args.sweep_id is None:
        raise CliError(f"sweep {args.action} needs a sweep id, e.g. `cifar-tui sweep "
                       f"{args.action} 3` (`cifar-tui sweeps` lists them)")
    try:
        sweep_id = int(args.sweep_id)
    except ValueError:
        raise CliError(f"a sweep id is a number, got {args.sweep_id[:40]!r}; "
                       "`cifar-tui sweeps` lists them") from None
    with open_store(args) as store:
        if args.action == "cancel":
            print(store.cancel_sweep(sweep_id))
            return 0
        from worker.sweeps import settle, summarize

        store.get_sweep(sweep_id)  # a missing sweep is one line before any telling
        settle(store, log=lambda _line: None)  # tell trials that ended since a worker last did
        summary = summarize(store, sweep_id)
    if args.json:
        print_json(_summary_json(summary))
    else:
        _print_summary(summary)
    return 0


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "off" if value is None else str(value)


def _params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={_num(v)}" for k, v in params.items())


def _summary_json(summary: Any) -> dict[str, Any]:
    return {"sweep": dataclasses.asdict(summary.record),
            "trials": [dataclasses.asdict(t) for t in summary.trials],
            "best": dataclasses.asdict(summary.best) if summary.best else None,
            "best_so_far": summary.best_so_far, "importances": summary.importances}


def _print_summary(summary: Any) -> None:
    rec = summary.record
    print(f"sweep {rec.id} {rec.name!r}: {rec.method}, {rec.goal} {rec.metric}, {rec.status}; "
          f"{rec.trials_asked} of {rec.n_trials} trial(s) asked, {_runs_text(rec.run_counts)}")
    if summary.best is not None:
        best = summary.best
        print(f"best: trial {best.number}, {rec.metric} {_num(best.value)} "
              f"(run {', '.join(map(str, best.run_ids))}): {_params(best.params)}")
    if not summary.trials:
        print("no trials yet")
        return
    print(f"{'trial':>5}  {'state':<9} {rec.metric:>9}  {'runs':<12} params")
    for t in summary.trials:
        mark = "*" if summary.best is not None and t.number == summary.best.number else " "
        runs = ",".join(map(str, t.run_ids)) or "-"
        print(f"{t.number:>4}{mark}  {t.state:<9} {t.value_text:>9}  {runs:<12} "
              f"{_params(t.params)}")
    if summary.importances:
        ranked = sorted(summary.importances.items(), key=lambda kv: -kv[1])
        print("importance: " + ", ".join(f"{k} {v:.2f}" for k, v in ranked))


def _runs_text(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "no runs yet"
    return f"{total} run(s): " + ", ".join(f"{n} {status}" for status, n in counts.items() if n)


def run_sweeps(args: argparse.Namespace) -> int:
    from worker.sweeps import settle

    with open_store(args) as store:
        settle(store, log=lambda _line: None)  # so a sweep whose runs all ended says so
        sweeps = store.list_sweeps()
    if args.json:
        print_json([dataclasses.asdict(s) for s in sweeps])
        return 0
    if not sweeps:
        print("no sweeps yet; queue one with `cifar-tui sweep --max-lr 0.005,0.01,0.02`")
        return 0
    print(f"{'id':>4}  {'name':<20} {'method':<6} {'judged by':<12} {'status':<9} "
          f"{'trials':>9}  runs")
    for s in sweeps:
        trials = f"{s.trials_asked}/{s.n_trials}"
        print(f"{s.id:>4}  {s.name[:20]:<20} {s.method:<6} {s.goal + ' ' + s.metric:<12} "
              f"{s.status:<9} {trials:>9}  {_runs_text(s.run_counts)}")
    return 0
