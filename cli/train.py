"""`cifar-tui train`: train in the foreground with a progress bar, then print the results."""

from __future__ import annotations

import argparse
import sys

from cli.common import CliError, add_retries_argument, db_parent, print_json
from cli.config_args import add_config_arguments, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train", parents=[db_parent()], help="train one run in the foreground",
        description="Train one run in the foreground and print its results. "
                    "The run is recorded in the store.",
    )
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (config and results) on stdout")
    parser.add_argument("--checkpoint-dir", default=None,
                        help="where best.pt and last.pt go (default: the run's folder "
                             "under its store's artifact root, see `cifar-tui store`)")
    parser.add_argument("--no-store", action="store_true",
                        help="do not record the run in the run store")
    add_retries_argument(parser)  # a killed run is requeued for the worker
    parser.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # refuses bad values before torch is even imported
    load_torch()
    from engine.data import DataError, ensure_cifar10, resolve_data_dir

    if config.dataset == "cifar10":
        try:
            ensure_cifar10(resolve_data_dir(config.data_dir))
        except DataError as exc:
            raise CliError(str(exc)) from None
    from cli.train_session import TrainSession

    session = TrainSession(config, db_url=args.db, use_store=not args.no_store,
                           checkpoint_dir=args.checkpoint_dir, retries=args.retries,
                           show_progress=not args.json and sys.stderr.isatty())
    outcome = session.run()
    if args.json:
        print_json(outcome.to_json())
    else:
        outcome.print_summary()
    if outcome.succeeded:
        return 0
    # 130: ctrl+c and 143: SIGTERM, as shells expect
    return {"interrupt": 130, "terminate": 143}.get(session.stop_reason or "", 1)


def load_torch() -> None:
    """Import torch inside the CLI's error boundary: under a memory cap (ulimit -v) or
    with a broken install the import fails, and that is one line, never a traceback."""
    try:
        import torch  # noqa: F401
    except (ImportError, OSError, MemoryError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"could not load torch: {reason}; free some memory or raise the limit "
                       "(ulimit -v), or reinstall torch if it is broken") from None
