"""`worker`, `queue`, `cancel` and `resume`: the commands around the background worker."""

from __future__ import annotations

import argparse
import textwrap
import time
from dataclasses import dataclass, field

from cli.arg_types import MAX_WAIT_S, seconds_up_to
from cli.common import (
    CliError,
    add_retries_argument,
    db_parent,
    open_store,
    print_json,
    resume_from,
)
from cli.config_args import add_config_arguments, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "worker", parents=[db_parent()], help="run the background worker that trains queued runs",
        description="Claim queued runs one at a time and train each in a child process.")
    p.add_argument("--device", default=None,
                   help="auto (default), cpu, cuda or cuda:N: one worker per store and device")
    p.add_argument("--devices", default=None, metavar="LIST",
                   help="all (every visible GPU, else the CPU) or a list such as cuda:0,cuda:2 "
                        "or cpu:0,cpu:1: one process, a claim loop per device")
    p.add_argument("--runs-per-device", type=int, default=1, metavar="N",
                   help="train up to N runs at once on each device (1 to 16, default 1); a "
                        "GPU takes another only when it has the memory free")
    p.add_argument("--log-file", default=None, help=argparse.SUPPRESS)  # set by the launcher
    p.add_argument("--exit-when-empty", action="store_true", help="stop once the queue is empty")
    p.add_argument("--status", action="store_true",
                   help="report the live workers of every store and exit")
    p.add_argument("--stop", action="store_true",
                   help="stop this store's worker (with --device: only that device's); "
                        "its run becomes interrupted")
    p.add_argument("--detach", action="store_true",
                   help="start the worker in the background and return")
    p.add_argument("--json", action="store_true", help="with --status: print JSON")
    p.set_defaults(func=run_worker)

    q = sub.add_parser(
        "queue", parents=[db_parent()], help="add a run to the queue (validated like train)",
        description="Queue a run for the worker. Starts a detached worker when none is alive. "
                    "Lists (--max-lr 0.005,0.01) or --repeat K queue a grid sweep of runs.")
    add_config_arguments(q, lists=True)
    q.add_argument("--tag", action="append", default=[], help="tag the run (repeatable)")
    add_retries_argument(q)
    q.add_argument("--worker-device", default="auto",
                   help="device of the worker to start if this store has none alive")
    q.add_argument("--no-worker", action="store_true", help="only queue; do not start a worker")
    q.add_argument("--json", action="store_true", help="print the queued run as JSON")
    from cli.sweep import add_sweep_run_arguments

    add_sweep_run_arguments(q)  # --repeat, --yes
    q.set_defaults(func=run_queue)

    c = sub.add_parser("cancel", parents=[db_parent()], help="cancel a queued or running run")
    c.add_argument("run", help="run id or name")
    c.add_argument("--wait", type=seconds_up_to(MAX_WAIT_S), default=0.0, metavar="SECONDS",
                   help="wait up to SECONDS for a running run to stop")
    c.set_defaults(func=run_cancel)

    r = sub.add_parser("resume", parents=[db_parent()],
                       help="continue an interrupted run from its last checkpoint")
    r.add_argument("run", help="run id or name")
    r.add_argument("--no-worker", action="store_true", help="only requeue; do not start a worker")
    r.set_defaults(func=run_resume)


def run_worker(args: argparse.Namespace) -> int:

    if args.status:
        return _print_status(args)
    if args.stop:
        if args.device is not None:
            check_device(args.device, present=False)
        return _stop(args)
    devices = worker_devices(args)
    if not 1 <= args.runs_per_device <= MAX_RUNS_PER_DEVICE:
        raise CliError(f"--runs-per-device must be from 1 to {MAX_RUNS_PER_DEVICE}, "
                       f"got {args.runs_per_device}")
    with open_store(args) as store:
        if args.detach:
            return _detach(args, store, devices)
        from worker.supervisor import Worker, WorkerOptions

        options = WorkerOptions(db_url=store.url, device=devices[0], devices=devices,
                                exit_when_empty=args.exit_when_empty,
                                runs_per_device=args.runs_per_device, log_file=args.log_file)
        return Worker(options, store=store).run()


MAX_RUNS_PER_DEVICE = 16


def worker_devices(args: argparse.Namespace) -> list[str]:
    """The devices this worker serves, each checked before any lock or claim: a worker
    never takes runs it cannot train. ``--device X`` is the one-device form."""
    from worker.device_list import DeviceListError, parse_devices

    if args.device is not None and args.devices is not None:
        raise CliError("give --device or --devices, not both")
    if args.devices is None:
        devices = [args.device or "auto"]
    else:
        try:
            devices = parse_devices(args.devices)
        except DeviceListError as exc:
            raise CliError(str(exc)) from None
    for device in devices:
        check_device(device.partition(":")[0] if device.startswith("cpu") else device)
    return devices


def _detach(args: argparse.Namespace, store, devices: list[str]) -> int:
    from worker import launcher

    extra = ["--exit-when-empty"] if args.exit_when_empty else []
    if args.runs_per_device != 1:
        extra += ["--runs-per-device", str(args.runs_per_device)]
    if args.devices is None:
        launcher.start_worker(store.url, store.store_id, devices[0], extra)
    else:
        launcher.start_devices(store.url, store.store_id, devices, extra)
    info = launcher.wait_for_worker(store.store_id, devices[0])
    print(f"worker for {', '.join(devices)} running (pid {info.pid if info else '?'}), "
          f"log {info.log_path if info else launcher.log_path(store.store_id, devices[0])}")
    return 0


def check_device(device: str, present: bool = True) -> None:
    """A device name the config accepts and (``present``) this machine has; else CliError.
    torch is imported only for a CUDA device."""
    from engine.config import validate_field

    problem = validate_field("device", device)
    if problem is None and present:
        from engine.devices import device_problem

        problem = device_problem(device)
    if problem:
        raise CliError(problem)


@dataclass
class StoreView:
    """What --status reads from this store: its id, runs by worker, runs left waiting."""

    store_id: str | None = None
    training: dict = field(default_factory=dict)  # (pid, device) -> [TrainingRun]
    unserved: list[tuple[int, str]] = field(default_factory=list)  # (run id, device asked)


def _read_this_store(args: argparse.Namespace, workers: list) -> StoreView:
    """This store's view, or an empty one when it cannot be opened (status still lists
    every worker)."""
    from storage import StoreError
    from worker.device_status import training_runs, unserved_runs

    try:
        with open_store(args) as store:
            devices = [w.device for w in workers if w.store_id == store.store_id]
            return StoreView(store.store_id, training_runs(store),
                             unserved_runs(store, devices) if devices else [])
    except StoreError:
        return StoreView()


def _print_status(args: argparse.Namespace) -> int:
    from worker import launcher
    from worker.device_status import gpu_of, status_lines
    from worker.machine import read_gpus

    workers = launcher.all_live_workers()
    view = _read_this_store(args, workers)
    gpus = read_gpus()[0] if any(w.device.startswith("cuda") for w in workers) else ()
    if args.json:
        print_json([{**w.__dict__, "this_store": w.store_id == view.store_id,
                     "training": [r.__dict__ for r in view.training.get((w.pid, w.device), [])]}
                    for w in workers])
        return 0
    if not workers:
        print("no worker is running")
    by_process: dict[int, list] = {}
    for w in workers:
        by_process.setdefault(w.pid, []).append(w)
    for pid, served in by_process.items():
        w = served[0]
        mine = w.store_id == view.store_id
        whose = "this store" if mine else f"another store, id {w.store_id[:8]}"
        devices = ", ".join(d.device for d in served)
        print(f"worker for {devices}: pid {pid}, up {(time.time() - w.started_at) / 60:.1f} "
              f"min ({whose})")
        print(f"  store {w.db_url}\n  log {w.log_path}")
        for d in served:
            runs = view.training.get((pid, d.device), []) if mine else []
            for line in status_lines(d, runs, gpu_of(d.device, gpus), mine):
                print(line)
    if view.unserved:
        asked = ", ".join(sorted({device for _, device in view.unserved}))
        print(textwrap.fill(f"{len(view.unserved)} queued run(s) of this store ask for "
                            f"{asked}, which no live worker here serves; they wait "
                            "(`cifar-tui worker --devices ...`)", width=80))
    return 0


def _stop(args: argparse.Namespace) -> int:
    """Stop this store's workers (one device's with --device); never another store's.
    A process serving several devices stops as a whole."""
    from worker import launcher

    with open_store(args) as store:
        store_id, label = store.store_id, store.display_url
    live = launcher.all_live_workers()
    mine = [w for w in live if w.store_id == store_id
            and (args.device is None or w.device == args.device)]
    if not mine:
        where = f" on device {args.device}" if args.device else ""
        others = sum(w.store_id != store_id for w in live)
        left = f" ({others} worker(s) of other stores left running)" if others else ""
        print(f"no worker is running for store {label}{where}{left}")
        return 0
    for pid in dict.fromkeys(w.pid for w in mine):
        devices = [w.device for w in live if w.pid == pid and w.store_id == store_id]
        if not launcher.stop_worker(store_id, devices[0]):
            raise CliError(f"the worker for {', '.join(devices)} (pid {pid}) did not stop "
                           f"within 30 s; see its log {mine[0].log_path}")
        print(f"worker for {', '.join(devices)} stopped (store {label})")
    return 0


def _ensure_worker(url: str, store_id: str, device: str) -> str:
    """Start this store's worker unless it has one alive; the words saying what was done.
    A worker of another store does not count: it never claims this store's runs."""
    from worker import launcher

    if launcher.any_live_worker(store_id) is not None:
        return ""
    pid = launcher.start_worker(url, store_id, device)
    said = (f"; started a worker for this store (pid {pid}, "
            f"log {launcher.start_log_path(store_id, device)})")
    other = next((w for w in launcher.all_live_workers() if w.store_id != store_id), None)
    if other is not None:
        said += (f"; the worker already running (pid {other.pid}) serves another store, "
                 f"{other.db_url}")
    return said


def run_queue(args: argparse.Namespace) -> int:
    from cli.sweep import queue_spec, sweep_of_queue

    spec = sweep_of_queue(args)  # lists or --repeat: a grid sweep
    if spec is not None:
        return queue_spec(args, spec)
    config = config_from_args(args)
    if not args.no_worker:
        check_device(args.worker_device)  # refused before anything is queued
    with open_store(args) as store:
        run_id = store.create_run(config, name=config.name, tags=args.tag,
                                  max_retries=args.retries)
        url, store_id = store.url, store.store_id
    started = "" if args.no_worker else _ensure_worker(url, store_id, args.worker_device)
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
        # as the TUI decides: a checkpoint only another host's disk holds is resumed there
        checkpoint, how = resume_from(store, run_id)
        store.requeue_for_resume(run_id, checkpoint)
        url, store_id = store.url, store.store_id
    started = "" if args.no_worker else _ensure_worker(url, store_id, "auto")
    print(f"run {run_id} requeued to resume {how}{started}")
    return 0
