"""`cifar-tui export`: runs as CSV or JSON, TensorBoard event files, or MLflow runs."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from cli.common import CliError, db_parent, open_store

FORMATS = ("csv", "json", "tensorboard", "mlflow")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "export", parents=[db_parent()],
        help="runs as CSV or JSON, TensorBoard event files or MLflow runs",
        description="CSV/JSON: one record per (run, epoch) with the full config, tags, notes, "
                    "results and timings (JSON adds each epoch's steps). tensorboard: a folder "
                    "per run under -o DIR. mlflow: one MLflow run per run, updated (never "
                    "duplicated) by a later export. tensorboard and mlflow need the export "
                    "extra: pip install 'cifar-tui[export]'.")
    p.add_argument("runs", metavar="RUN", nargs="*", help="run ids or names (default: all)")
    p.add_argument("--format", choices=FORMATS, default="csv")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="csv/json: write this file instead of stdout; tensorboard: the folder "
                        "to write (required)")
    p.add_argument("--mlflow-uri", metavar="URI",
                   help="mlflow: the tracking URI, e.g. sqlite:///mlflow.db or "
                        "http://host:5000 (default: $MLFLOW_TRACKING_URI)")
    p.add_argument("--experiment", metavar="NAME",
                   help="mlflow: the experiment (default: cifar-tui-<store id>)")
    p.add_argument("--with-checkpoints", action="store_true",
                   help="mlflow: upload each run's checkpoints as artifacts")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from outputs.export_tables import ExportError

    _check_options(args)
    try:
        if args.format == "tensorboard":
            return _tensorboard(args)
        if args.format == "mlflow":
            return _mlflow(args)
        return _table(args)
    except ExportError as exc:
        raise CliError(str(exc)) from None


def _check_options(args: argparse.Namespace) -> None:
    mlflow_only = [flag for flag, given in (("--mlflow-uri", args.mlflow_uri),
                                            ("--experiment", args.experiment),
                                            ("--with-checkpoints", args.with_checkpoints))
                   if given]
    if mlflow_only and args.format != "mlflow":
        raise CliError(f"{mlflow_only[0]} is for --format mlflow only; drop it or add "
                       "--format mlflow")
    if args.format == "tensorboard" and not args.output:
        raise CliError("--format tensorboard needs a folder to write: add -o DIR")
    if args.format == "mlflow":
        if args.output:
            raise CliError("--format mlflow writes to the tracking server, not a file: "
                           "drop -o and give --mlflow-uri URI")
        args.mlflow_uri = args.mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if not args.mlflow_uri:
            raise CliError("--format mlflow needs a tracking URI: add --mlflow-uri URI "
                           "(e.g. sqlite:///mlflow.db) or set MLFLOW_TRACKING_URI")


def _run_ids(store: Any, refs: list[str]) -> list[int] | None:
    return [store.resolve_run(ref) for ref in refs] if refs else None


def _table(args: argparse.Namespace) -> int:
    from outputs.export_tables import render, table_records

    with open_store(args) as store:
        records = table_records(store, _run_ids(store, args.runs),
                                with_steps=args.format == "json")
    text = render(records, args.format)
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {args.output}: {exc.strerror or exc}; "
                       "choose another file with -o") from None
    runs = len({r["run_id"] for r in records})
    print(f"wrote {len(records)} rows ({runs} runs) to {args.output}", file=sys.stderr)
    return 0


def _tensorboard(args: argparse.Namespace) -> int:
    from outputs.export_tables import load_runs
    from outputs.export_tensorboard import export_run, prepare

    root = Path(args.output).expanduser()
    with open_store(args) as store:
        runs = load_runs(store, _run_ids(store, args.runs))
    prepare(root)
    scalars = sum(export_run(root, run).scalars for run in runs)
    print(f"wrote {len(runs)} runs ({scalars} scalars) to {root}; "
          f"view them with: tensorboard --logdir {root}", file=sys.stderr)
    return 0


def _mlflow(args: argparse.Namespace) -> int:
    from outputs.export_mlflow import export_runs
    from outputs.export_tables import load_runs

    with open_store(args) as store:
        runs = load_runs(store, _run_ids(store, args.runs))
        store_id = store.store_id
    outcome = export_runs(runs, uri=args.mlflow_uri, store_id=store_id,
                          experiment=args.experiment, with_checkpoints=args.with_checkpoints)
    for line in outcome.warnings:
        print(f"cifar-tui: {line}", file=sys.stderr)
    print(outcome.summary(), file=sys.stderr)
    return 0
