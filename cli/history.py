"""Browse the run history: runs, show, compare, tag, note, rm (export: cli/export.py)."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from typing import TYPE_CHECKING, Any

from cli.arg_types import MAX_PAGE, int_between
from cli.common import CliError, db_parent, open_store, print_json
from cli.groups import GROUP_HELP, compare_groups, is_group_ref, print_groups
from engine import formatting as fmt

if TYPE_CHECKING:
    from storage import RunDetail


def register(sub: Any) -> None:
    db = db_parent()
    p = sub.add_parser("runs", parents=[db], help="list runs (filter, sort, page)")
    p.add_argument("--status", help="queued, running, completed, failed, cancelled, "
                   "interrupted or pruned (comma-separated)")
    p.add_argument("--model", help="only this model")
    p.add_argument("--tag", help="only runs with this tag")
    p.add_argument("--search", metavar="TEXT", help="text in the name, notes or model, or a run id")
    p.add_argument("--sort", default="created_at", metavar="COL",
                   help="column to sort by (default created_at)")
    p.add_argument("--asc", action="store_true", help="ascending (default: descending)")
    page = int_between(0, MAX_PAGE)  # a huge N is a usage error, not a driver overflow
    p.add_argument("--limit", type=page, default=50, metavar="N",
                   help="at most N runs (default 50)")
    p.add_argument("--offset", type=page, default=0, metavar="N", help="skip the first N runs")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--group", action="store_true",
                   help="one row per seed group (runs whose settings differ only in seed and "
                        "name): n, mean ± std of best val and test acc, mean time; --limit "
                        "and --offset then count groups, and --sort best_val_acc, test_acc "
                        "or duration_s sorts by the mean")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("show", parents=[db], help="one run: config, epochs and results")
    p.add_argument("run", metavar="RUN", help="run id or name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("compare", parents=[db], help="runs side by side: differing params, metrics")
    p.add_argument("runs", metavar="RUN", nargs="+",
                   help=f"two or more run ids or names; {GROUP_HELP}")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("tag", parents=[db], help="tag a run (--remove to untag)")
    p.add_argument("run", metavar="RUN")
    p.add_argument("tag", metavar="TAG")
    p.add_argument("--remove", action="store_true", help="remove the tag instead")
    p.set_defaults(func=cmd_tag)

    p = sub.add_parser("note", parents=[db], help="set a run's note (empty text clears it)")
    p.add_argument("run", metavar="RUN")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--append", action="store_true",
                   help="add TEXT after the current note (\"; \" between) instead of replacing it")
    p.set_defaults(func=cmd_note)

    p = sub.add_parser("rm", parents=[db], help="delete a run, its metrics and its checkpoints")
    p.add_argument("--keep-checkpoints", action="store_true", help="leave best.pt/last.pt on disk")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p.set_defaults(func=cmd_rm)


# -- helpers ------------------------------------------------------------------------


def _console() -> Any:
    from rich.console import Console

    # Piped output (grep, a file) gets wide rows rather than columns cut to 80.
    width = None if sys.stdout.isatty() else 200
    return Console(highlight=False, soft_wrap=False, width=width)


# The CLI has room for two decimals; the TUI's tables show one.
pct = partial(fmt.pct, digits=2)


# -- commands -----------------------------------------------------------------------


def cmd_runs(args: argparse.Namespace) -> int:
    from rich.table import Table

    from storage import RunFilter

    if args.limit < 0 or args.offset < 0:
        raise CliError("--limit and --offset must be >= 0")
    flt = RunFilter(status=args.status, model=args.model, tag=args.tag, text=args.search)
    if args.group:
        return print_groups(args, flt)
    with open_store(args) as store:
        runs = store.list_runs(flt, sort=args.sort, descending=not args.asc,
                               limit=args.limit, offset=args.offset)
        total = store.count_runs(flt)
    if args.json:
        print_json([r.to_dict() for r in runs])
        return 0
    if not runs:
        print("no runs match" if total == 0 and any(vars(flt).values()) else "no runs yet")
        return 0
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col, justify in (("id", "right"), ("name", "left"), ("status", "left"), ("model", "left"),
                         ("epoch", "right"), ("best val", "right"), ("test", "right"),
                         ("lr", "right"), ("bs", "right"), ("time", "right"),
                         ("created", "left"), ("tags", "left")):
        table.add_column(col, justify=justify, no_wrap=col != "tags", min_width=len(col))
    for r in runs:
        table.add_row(
            str(r.id), r.name, r.status, r.model, f"{r.current_epoch or 0}/{r.epochs}",
            pct(r.best_val_acc), pct(r.test_acc), f"{r.max_lr:g}", str(r.batch_size),
            fmt.duration(r.duration_s), fmt.timestamp(r.created_at), ",".join(r.tags),
        )
    console = _console()
    console.print(table)
    shown = f"{args.offset + 1}-{args.offset + len(runs)}" if len(runs) else "0"
    console.print(f"[dim]runs {shown} of {total}[/dim]")
    return 0


def cmd_show(args: argparse.Namespace) -> int:

    with open_store(args) as store:
        detail = store.get_run(store.resolve_run(args.run))
    if args.json:
        print_json(detail.to_dict())
        return 0
    console = _console()
    head = f"[bold]run {detail.id}[/bold] {detail.name}  [{detail.status}]"
    console.print(head)
    facts = [
        ("created", fmt.timestamp(detail.created_at)),
        ("started", fmt.timestamp(detail.started_at)),
        ("finished", fmt.timestamp(detail.finished_at)),
        ("duration", fmt.duration(detail.duration_s)),
        ("device", detail.device or ""), ("host", detail.host or ""),
        ("torch", detail.torch_version or ""), ("git", detail.git_commit or ""),
        ("params", f"{detail.num_params:,}" if detail.num_params else ""),
        ("tags", ", ".join(detail.tags)), ("notes", detail.notes or ""),
        ("error", detail.error or ""),
    ] + [(f"checkpoint {k}", v) for k, v in detail.checkpoints.items()]
    _pairs(console, "run", [(k, v) for k, v in facts if v])
    _pairs(console, "config", [(k, fmt.setting(v)) for k, v in detail.config.items()])
    results = [
        ("best val acc", pct(detail.best_val_acc)), ("final val acc", pct(detail.final_val_acc)),
        ("test acc", pct(detail.test_acc)), ("test loss", fmt.num(detail.test_loss)),
        ("images/s", fmt.num(detail.images_per_s, ",.0f")),
    ]
    _pairs(console, "results", [(k, v) for k, v in results if v])
    _print_metric_tables(console, detail)
    _print_attempts(console, detail)
    return 0


def _print_attempts(console: Any, detail: RunDetail) -> None:
    """One row per try at the run: where it trained and how that try ended."""
    from rich.table import Table

    from storage.leases import owner_of

    if not detail.attempts:
        return
    table = Table(title=f"attempts (automatic retries: {detail.max_retries})",
                  title_justify="left", box=None, header_style="bold")
    from worker.launcher import parse_worker_id

    ids = [parse_worker_id(a.worker_id) for a in detail.attempts]
    jobs = [i.slurm_job if i is not None and i.slurm_job else "" for i in ids]
    for col in ("#", "host", "worker pid", "device", "slurm", "started", "duration",
                "outcome", "reason"):
        if col == "slurm" and not any(jobs):
            continue  # a column only for runs trained by `cifar-tui slurm`'s jobs
        table.add_column(col, justify="right" if col in ("#", "worker pid") else "left",
                         overflow="fold" if col == "reason" else "ellipsis")
    for a, job in zip(detail.attempts, jobs, strict=True):
        pid = owner_of(a.worker_id)[1]
        took = (a.ended_at - a.started_at).total_seconds() if a.ended_at else None
        where = [a.device or ""] + ([f"slurm job {job}" if job else ""] if any(jobs) else [])
        table.add_row(str(a.attempt), a.host or "", "" if pid is None else str(pid), *where,
                      fmt.timestamp(a.started_at), fmt.duration(took),
                      a.outcome or "running", a.reason or "")
    console.print(table)


def _print_metric_tables(console: Any, detail: RunDetail) -> None:
    """The epochs, per-class accuracy and confusion tables of `show`."""
    from rich.table import Table

    if detail.epoch_rows:
        table = Table(title="epochs", title_justify="left", box=None, header_style="bold")
        columns = ("epoch", "train loss", "train acc", "val loss", "val acc", "lr", "seconds",
                   "img/s")
        for col in columns:
            table.add_column(col, justify="right")
        for e in detail.epoch_rows:
            table.add_row(str(e.epoch), fmt.num(e.train_loss), pct(e.train_acc),
                          fmt.num(e.val_loss), pct(e.val_acc), fmt.num(e.lr, ".2e"),
                          fmt.num(e.seconds, ".1f"), fmt.num(e.images_per_s, ",.0f"))
        console.print(table)
    if detail.per_class_acc:
        names = detail.class_names or [str(i) for i in range(len(detail.per_class_acc))]
        table = Table(title="per-class test accuracy", title_justify="left", box=None,
                      header_style="bold")
        for name in names:
            table.add_column(name, justify="right")
        table.add_row(*(pct(a) for a in detail.per_class_acc))
        console.print(table)
    if detail.confusion:
        names = detail.class_names or [str(i) for i in range(len(detail.confusion))]
        table = Table(title="confusion (rows: true, columns: predicted)", title_justify="left",
                      box=None, header_style="bold")
        table.add_column("")
        for name in names:
            table.add_column(name[:5], justify="right")
        for name, row in zip(names, detail.confusion, strict=False):
            table.add_row(name, *(str(v) for v in row))
        console.print(table)


def _pairs(console: Any, title: str, pairs: list[tuple[str, str]]) -> None:
    from rich.table import Table

    if not pairs:
        return
    table = Table(title=title, title_justify="left", box=None, show_header=False)
    table.add_column(style="dim")
    table.add_column()
    for key, value in pairs:
        table.add_row(key, value)
    console.print(table)


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.table import Table

    if len(args.runs) < 2:
        raise CliError("compare needs at least two runs, e.g. `cifar-tui compare 3 7`")
    if any(is_group_ref(ref) for ref in args.runs):
        return compare_groups(args)
    with open_store(args) as store:
        ids = [store.resolve_run(ref) for ref in args.runs]
        comparison = store.compare(ids)
    if args.json:
        print_json(comparison.to_dict())
        return 0
    console = _console()
    heads = [f"{r.id} {r.name}" for r in comparison.runs]

    def table(title: str) -> Table:
        t = Table(title=title, title_justify="left", box=None, header_style="bold")
        t.add_column("")
        for head in heads:
            t.add_column(head, justify="right")
        return t

    params = table("parameters that differ")
    for key, values in comparison.config_diff.items():
        params.add_row(key, *(fmt.setting(v) for v in values))
    if comparison.config_diff:
        console.print(params)
    else:
        console.print("[dim]same parameters[/dim]")
    metrics = table("metrics")
    for key, values in comparison.metrics.items():
        if key.endswith("_acc"):
            cells = [pct(v) for v in values]
        elif key == "duration_s":
            cells = [fmt.duration(v) for v in values]
        else:
            cells = [fmt.setting(v) for v in values]
        metrics.add_row(key, *cells)
    console.print(metrics)
    longest = max((len(rows) for rows in comparison.curves.values()), default=0)
    if longest:
        curves = table("val acc by epoch")
        by_run = [{e.epoch: e.val_acc for e in comparison.curves[r.id]} for r in comparison.runs]
        epochs = sorted({ep for run in by_run for ep in run})
        for ep in epochs:
            curves.add_row(str(ep), *(pct(run.get(ep)) for run in by_run))
        console.print(curves)
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        run_id = store.resolve_run(args.run)
        if args.remove:
            removed = store.remove_tag(run_id, args.tag)
            print(f"run {run_id}: {'removed' if removed else 'had no'} tag {args.tag!r}")
        else:
            store.add_tag(run_id, args.tag)
            print(f"run {run_id}: tagged {args.tag.strip()!r}")
    return 0


def cmd_note(args: argparse.Namespace) -> int:
    # One store operation each: an edit made elsewhere meanwhile is replaced only by an
    # explicit `note ID TEXT`, and --append keeps it.
    with open_store(args) as store:
        run_id = store.resolve_run(args.run)
        if args.append:
            if not args.text.strip():
                raise CliError("nothing to append; give the text to add after --append")
            store.append_note(run_id, args.text)
            print(f"run {run_id}: note appended")
            return 0
        store.set_note(run_id, args.text)
    print(f"run {run_id}: note {'cleared' if not args.text.strip() else 'saved'}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        run_id = store.resolve_run(args.run)
        detail = store.get_run(run_id)
        name = detail.name
        if detail.status == "running":  # refused before asking, not after a yes
            raise CliError(f"run {run_id} is running; cancel it first "
                           f"(cifar-tui cancel {run_id}), then rm it")
        if not args.yes:
            if not sys.stdin.isatty():
                raise CliError(f"not deleting run {run_id} without --yes (no terminal to ask on)")
            answer = input(f"delete run {run_id} ({name}) and all its metrics? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("kept")
                return 1
        store.delete_run(run_id)
        freed, left = ((0, []) if args.keep_checkpoints
                       else store.remove_run_files(run_id, detail.checkpoints.values()))
    size = f"{freed / 1e6:.1f} MB" if freed >= 1e5 else f"{freed / 1e3:.1f} kB"
    said = f" and {size} of checkpoints and logs" if freed else ""
    if left:
        said += (f"; left {len(left)} file(s) outside this store's folder (such as {left[0]}): "
                 "another store may own them, delete them by hand if not")
    print(f"deleted run {run_id} ({name}){said}")
    return 0
