"""`cifar-tui predict` (classify image files with a run's checkpoint) and `cifar-tui evaluate`
(re-score a checkpoint on the test split). torch is imported only once one of them runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cli.arg_types import int_between
from cli.common import CliError, db_parent, open_store, print_json
from cli.train import load_torch

if TYPE_CHECKING:
    from outputs.evaluate import Evaluation

KINDS = ("best", "last")


def register(sub: argparse._SubParsersAction) -> None:
    db = db_parent()
    p = sub.add_parser("predict", parents=[db], help="classify images with a run's checkpoint",
                       description="Print each image's top classes as the run's model sees "
                                   "them. Images of any size are centre-cropped and resized "
                                   "to 32x32.")
    p.add_argument("images", metavar="IMAGE", nargs="+",
                   help="image files (anything PIL opens) or folders of them")
    _common(p)
    p.add_argument("--top", type=int_between(1, 10), default=3, metavar="K",
                   help="how many classes to show per image (default 3)")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="average with the horizontally flipped image (default: as the run "
                        "evaluated, its own --tta setting)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", parents=[db], help="re-score a run's checkpoint on the test set",
                       description="Accuracy, per-class accuracy and the confusion matrix of a "
                                   "checkpoint on the test split, scored as the run was.")
    _common(p)
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="folder holding cifar-10-batches-py (default: the one the run used)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object, with each test image's prediction")
    p.set_defaults(func=cmd_evaluate)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, metavar="RUN", help="run id or name")
    p.add_argument("--checkpoint", choices=KINDS, default="best",
                   help="best (highest val accuracy, the default) or last (the final weights)")
    p.add_argument("--device", default=None,
                   help="cpu, cuda or cuda:N (default: the kind the run trained on, if here)")


@contextmanager
def _loaded(args: argparse.Namespace) -> Iterator[tuple[Any, Any]]:
    """The run (RunDetail) and its model; every problem on the way is one CliError line."""
    from engine.config import validate_field

    if args.device and (problem := validate_field("device", args.device)):
        raise CliError(problem)
    with open_store(args) as store:
        run_id = store.resolve_run(args.run)
        detail = store.get_run(run_id)
        owner = f"{store.store_id}/run-{run_id}"
    load_torch()
    from outputs.predict import PredictError, load_run_model

    try:
        loaded = load_run_model(detail, args.checkpoint, owner=owner, device=args.device)
        yield detail, loaded
    except PredictError as exc:
        raise CliError(str(exc)) from None


def cmd_predict(args: argparse.Namespace) -> int:
    with _loaded(args) as (_, loaded):
        from outputs.predict import image_files, predict_files

        files, skipped = image_files(args.images)
        tta = loaded.config.tta if args.tta is None else args.tta
        predictions = predict_files(loaded, files, args.top, tta)
    if skipped:
        print(f"cifar-tui: skipped {skipped} non-image file{'s' * (skipped != 1)}",
              file=sys.stderr)
    if args.json:
        print_json({"run": loaded.run_id, "checkpoint": str(loaded.checkpoint),
                    "epoch": loaded.epoch, "tta": tta, "skipped": skipped,
                    "predictions": [p.to_dict() for p in predictions]})
        return 0
    width = max(len(p.path) for p in predictions)
    for p in predictions:
        print(p.line(width))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    with _loaded(args) as (detail, loaded):
        from outputs.evaluate import evaluate_run

        result = evaluate_run(loaded, detail, args.data_dir)
    if args.json:
        print_json(result.to_dict())
        return 0
    for line in evaluation_lines(result, detail.device):
        print(line)
    return 0


def evaluation_lines(r: Evaluation, trained_on: str | None) -> list[str]:
    from outputs.evaluate import checkpoint_label

    lines = [f"run {r.run_id}, {checkpoint_label(r.checkpoint, r.epoch)} on {r.device}, "
             f"tta {'on' if r.tta else 'off'}: {r.num_images} test images",
             f"test acc {r.accuracy:.2%}  loss {r.loss:.4f}  {_stored_note(r, trained_on)}",
             "per class: " + "  ".join(
                 f"{n} {a:.1%}" for n, a in zip(r.class_names, r.per_class_acc, strict=True)),
             "confusion (rows: true class, columns: predicted):"]
    heads = [n[:5] for n in r.class_names]
    if len(set(heads)) < len(heads):  # e.g. synthetic-0..9: number the columns instead
        heads = [str(i) for i in range(len(heads))]
    name_w = max(len(n) for n in r.class_names)
    cell = max(5, max(len(str(v)) for row in r.confusion for v in row))
    lines.append(" " * name_w + "".join(f" {h:>{cell}}" for h in heads))
    for name, row in zip(r.class_names, r.confusion, strict=True):
        lines.append(f"{name:<{name_w}}" + "".join(f" {v:>{cell}}" for v in row))
    return lines


def _stored_note(r: Evaluation, trained_on: str | None) -> str:
    if r.stored is None:
        return ("(the stored results were scored on the final weights: "
                "--checkpoint last of a completed run)")
    if r.matches_stored:
        return "(the same as the stored results)"
    return (f"(stored {r.stored['test_acc']:.2%} on {trained_on or '?'}: differs; on another "
            "kind of device, or other test data, the scores change a little)")
