"""`worker`, `queue`, `cancel` and `resume`: the commands around the background worker."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cli.common import CliError, db_parent, open_store, print_json
from cli.config_args import add_config_arguments, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "worker", parents=[db_parent()], help="run the background worker that trains queued runs",
        description="Claim queued runs one at a time and train each in a child process.")
    p.add_argument("--device", default="auto",
                   help="auto, cpu, cuda or cuda:N (one worker per device)")
    p.add_argument("--exit-when-empty", action="store_true", help="stop once the queue is empty")
    p.add_argument("--status", action="store_true", help="report the live workers and exit")
    p.add_argument("--stop", action="store_true",
                   help="stop this device's worker (its run becomes interrupted)")
    p.add_argument("--detach", action="store_true",
                   help="start the worker in the background and return")
    p.add_argument("--json", action="store_true", help="with --status: print JSON")
    p.set_defaults(func=run_worker)

    q = sub.add_parser(
        "queue", parents=[db_parent()], help="add a run to the queue (validated like train)",
        description="Queue a run for the worker. Starts a detached worker when none is alive.")
    add_config_arguments(q)
    q.add_argument("--tag", action="append", default=[], help="tag the run (repeatable)")
    q.add_argument("--worker-device", default="auto",
                   help="device of the worker to start if none is alive")
    q.add_argument("--no-worker", action="store_true", help="only queue; do not start a worker")
    q.add_argument("--json", action="store_true", help="print the queued run as JSON")
    q.set_defaults(func=run_queue)

    c = sub.add_parser("cancel", parents=[db_parent()], help="cancel a queued or running run")
    c.add_argument("run", help="run id or name")
    c.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait up to SECONDS for a running run to stop")
    c.set_defaults(func=run_cancel)

    r = sub.add_parser("resume", parents=[db_parent()],
                       help="continue an interrupted run from its last checkpoint")
    r.add_argument("run", help="run id or name")
    r.add_argument("--no-worker", action="store_true", help="only requeue; do not start a worker")
    r.set_defaults(func=run_resume)


def run_worker(args: argparse.Namespace) -> int:
    from worker import launcher

    if args.status:
        workers = launcher.all_live_workers()
        if args.json:
            print_json([w.__dict__ for w in workers])
        elif not workers:
            print("no worker is running")
        for w in workers if not args.json else []:
            age = time.time() - w.started_at
            print(f"worker for {w.device}: pid {w.pid}, up {age / 60:.1f} min, "
                  f"store {w.db_url}, log {w.log_path}")
        return 0
    if args.stop:
        if launcher.live_worker(args.device) is None:
            print(f"no worker is running for device {args.device}")
            return 0
        if launcher.stop_worker(args.device):
            print(f"worker for {args.device} stopped")
            return 0
        raise CliError(f"the worker for {args.device} did not stop within 30 s; "
                       f"see its log {launcher.log_path(args.device)}")
    with open_store(args) as store:
        if args.detach:
            extra = ["--exit-when-empty"] if args.exit_when_empty else []
            launcher.start_worker(store.url, args.device, extra)
            info = launcher.wait_for_worker(args.device)
            print(f"worker for {args.device} running (pid {info.pid if info else '?'}), "
                  f"log {launcher.log_path(args.device)}")
            return 0
        from worker.supervisor import Worker, WorkerOptions

        options = WorkerOptions(db_url=store.url, device=args.device,
                                exit_when_empty=args.exit_when_empty)
        return Worker(options, store=store).run()


def run_queue(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    with open_store(args) as store:
        run_id = store.create_run(config, name=config.name, tags=args.tag)
        url = store.url
    started = ""
    if not args.no_worker:
        from worker import launcher

        if launcher.any_live_worker() is None:
            pid = launcher.start_worker(url, args.worker_device)
            started = f"; started a worker (pid {pid}, log {launcher.log_path(args.worker_device)})"
    if args.json:
        print_json({"run_id": run_id, "status": "queued", "config": config.to_dict()})
    else:
        print(f"queued run {run_id}{started}")
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        run_id = store.resolve_run(args.run)
        outcome = store.request_cancel(run_id)
        if outcome == "cancelled" or args.wait <= 0:
            print(f"run {run_id}: {outcome}")
            return 0
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            status = store.get_run(run_id).status
            if status != "running":
                print(f"run {run_id}: {status}")
                return 0
            time.sleep(0.2)
    raise CliError(f"run {run_id} is still stopping after {args.wait:g} s; "
                   "is its worker alive? `cifar-tui worker --status`")


def run_resume(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        run_id = store.resolve_run(args.run)
        checkpoint = store.get_run(run_id).checkpoints.get("last")
        if checkpoint and not Path(checkpoint).exists():
            checkpoint = None  # deleted since: start over rather than fail in the worker
        store.requeue_for_resume(run_id, checkpoint)
        url = store.url
    how = f"from {checkpoint}" if checkpoint else "from the start (no checkpoint)"
    started = ""
    if not args.no_worker:
        from worker import launcher

        if launcher.any_live_worker() is None:
            pid = launcher.start_worker(url, "auto")
            started = f"; started a worker (pid {pid})"
    print(f"run {run_id} requeued to resume {how}{started}")
    return 0
