"""`cifar-tui slurm`: submit worker jobs that drain this store's queue on a Slurm cluster.

Submission goes through submitit (worker/slurm_job.py holds the job), imported only when
this command runs, so the CLI's start-up and the TUI never pay for it.
"""

from __future__ import annotations

import argparse
import math
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from cli.arg_types import int_between
from cli.common import CliError, db_parent, open_store, print_json

MAX_WORKERS = 1000
MAX_GPUS_PER_WORKER = 64
MAX_TIMEOUT_REQUEUES = 100  # submitit's countdown of time-outs; preemptions are unlimited
SLURM_JOB_NAME = "cifar-tui-worker"
# Slurm's --time forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
NODE_LOCAL_PREFIXES = ("/tmp/", "/var/tmp/", "/dev/shm/", "/run/")
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


def slurm_minutes(text: str) -> int:
    """An argparse ``type``: Slurm's --time (4:00:00, 90, 1-12) as whole minutes, >= 1."""
    match = _TIME.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(
            f"expected a Slurm time such as 4:00:00, 90 or 1-12:00, got {text[:40]!r}")
    days, first, second, third = (int(g) if g else None for g in match.groups())
    if days is None:
        # M, M:S or H:M:S
        if third is not None:
            seconds = first * 3600 + (second or 0) * 60 + third
        else:
            seconds = first * 60 + (second or 0)
    else:  # D-H, D-H:M, D-H:M:S
        seconds = days * 86400 + first * 3600 + (second or 0) * 60 + (third or 0)
    minutes = math.ceil(seconds / 60)
    if not 1 <= minutes <= 365 * 24 * 60:
        raise argparse.ArgumentTypeError(f"expected a time from 1 minute to 365 days, got {text}")
    return minutes


def register(sub: Any) -> None:
    p = sub.add_parser(
        "slurm", parents=[db_parent()], help="submit Slurm jobs whose workers drain the queue",
        description="Submit N Slurm jobs (through submitit); each runs a cifar-tui worker that "
                    "trains this store's queued runs until the queue is empty. On preemption "
                    "or time-out a job stops its run at its last checkpoint, the run is "
                    "requeued, and the job requeues itself. The store must be reachable from "
                    "the nodes (PostgreSQL, or SQLite on a shared file system).")
    p.add_argument("--workers", type=int_between(1, MAX_WORKERS), required=True, metavar="N",
                   help="how many jobs (one worker each) to submit")
    p.add_argument("--gpus-per-worker", type=int_between(0, MAX_GPUS_PER_WORKER), default=1,
                   metavar="G", help="GPUs each job asks for (default 1; 0 on a CPU cluster)")
    p.add_argument("--cpus-per-worker", type=int_between(1, 1024), default=2, metavar="C",
                   help="CPUs each job asks for (default 2)")
    p.add_argument("--partition", metavar="P", help="Slurm partition (default: the cluster's)")
    p.add_argument("--time", type=slurm_minutes, default=slurm_minutes("4:00:00"),
                   metavar="TIME", help="each job's time limit, as Slurm writes it "
                                        "(default 4:00:00); the job requeues itself at the end")
    p.add_argument("--dry-run", action="store_true",
                   help="print the job script and the worker command; submit nothing")
    p.add_argument("--json", action="store_true", help="print the submitted job ids as JSON")
    p.set_defaults(func=run_slurm)


def store_reach_problem(url: str) -> tuple[str | None, str | None]:
    """(refusal, warning) for a store the nodes must reach: an in-memory SQLite is
    refused; a SQLite file in a node-local folder or a server on localhost warned.
    Read with urllib, not SQLAlchemy: the CLI floor leaves SQL to storage/."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme.split("+")[0] == "sqlite":
        path = url.split("://", 1)[1][1:].split("?", 1)[0] if "://" in url else ""
        if path in ("", ":memory:") or "mode=memory" in parts.query:
            return ("an in-memory SQLite store cannot be shared with Slurm jobs; use a "
                    "SQLite file on a shared file system or PostgreSQL (--db URL)", None)
        resolved = str(Path(path).resolve())
        if resolved.startswith(NODE_LOCAL_PREFIXES):
            return (None, f"the store {resolved} looks node-local; jobs on other nodes will "
                          "not see it (fine on a one-node cluster)")
        return None, None
    if (parts.hostname or "") in LOCAL_HOSTS:
        return (None, f"the store's server is {parts.hostname or 'a local socket'}: each "
                      "node will look on its own machine; give a host name the nodes reach")
    return None, None


def worker_args(gpus: int) -> list[str]:
    """The worker's flags in each job: every device Slurm gave it (its GPUs, as
    CUDA_VISIBLE_DEVICES shows them, or the CPU when it asked for none), and stop once
    the queue is empty so the job ends and frees its allocation."""
    return ["--devices", "all" if gpus else "cpu", "--exit-when-empty"]


def slurm_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """submitit's SlurmExecutor parameters: one task, G GPUs, C CPUs, the time limit."""
    params: dict[str, Any] = {"job_name": SLURM_JOB_NAME, "time": args.time, "nodes": 1,
                              "ntasks_per_node": 1, "cpus_per_task": args.cpus_per_worker}
    if args.gpus_per_worker:
        params["gpus_per_node"] = args.gpus_per_worker
    if args.partition:
        params["partition"] = args.partition
    return params


def slurm_folder() -> Path:
    """submitit's job folder (pickles and logs, %j: the job id) and the jobs' homes; under
    the app home, which on a cluster is normally the shared home directory."""
    from engine.paths import app_home

    return app_home() / "slurm"


def require_submitit() -> None:
    try:
        import submitit  # noqa: F401
    except ImportError:
        raise CliError("submitting to Slurm needs submitit: "
                       "pip install 'cifar-tui[slurm]'") from None


def run_slurm(args: argparse.Namespace) -> int:
    from storage.records import RunFilter

    require_submitit()
    with open_store(args) as store:
        refusal, warning = store_reach_problem(store.url)
        if refusal:
            raise CliError(refusal)
        if warning:
            print(f"cifar-tui: warning: {warning}", file=sys.stderr)
        root = pin_artifact_root(store, dry_run=args.dry_run)
        spec = job_spec(store.url, worker_args(args.gpus_per_worker))
        queued = store.count_runs(RunFilter(status="queued"))
        label = store.display_url
    params = slurm_parameters(args)
    if args.dry_run:
        print_dry_run(spec, params, args.workers, label, root)
        return 0
    job_ids = submit(spec, params, args.workers)
    if args.json:
        print_json({"job_ids": job_ids, "store": label, "artifact_root": str(root)})
        return 0
    print(f"submitted {len(job_ids)} Slurm job(s): {' '.join(job_ids)} "
          f"(store {label}, {queued} run(s) queued; logs in {slurm_folder() / 'logs'})")
    return 0


def pin_artifact_root(store: Any, dry_run: bool) -> Path:
    """Each job has its own app home, so a store left on the default artifact root (under
    the app home) would scatter checkpoints; pin it to the folder it already is."""
    from storage.identity import default_artifact_root

    root = store.artifact_root
    if root == default_artifact_root(store.store_id) and not dry_run:
        root.parent.mkdir(parents=True, exist_ok=True)  # the default's parent, made lazily
        store.set_artifact_root(root)  # the same folder, now recorded: no visible change
    return root


def job_spec(url: str, args: list[str]) -> Any:
    from engine.paths import app_home
    from worker.slurm_job import WorkerJobSpec

    return WorkerJobSpec(worker_args=tuple(args), db_url=url,
                         job_homes=str(slurm_folder() / "homes"), user_home=str(app_home()))


def submit(spec: Any, params: dict[str, Any], count: int) -> list[str]:
    """N separate jobs (not an array: each requeues on its own); their Slurm ids."""
    import submitit

    from worker.slurm_job import SlurmWorkerJob

    # The pickled jobs hold the store URL (a password too, if it has one): owner-only.
    (slurm_folder() / "logs").mkdir(parents=True, exist_ok=True, mode=0o700)
    slurm_folder().chmod(0o700)
    executor = submitit.SlurmExecutor(folder=slurm_folder() / "logs" / "%j",
                                      max_num_timeout=MAX_TIMEOUT_REQUEUES)
    executor.update_parameters(**params)
    job_ids = []
    for _ in range(count):
        try:
            job = executor.submit(SlurmWorkerJob(spec))
        except FileNotFoundError:
            raise CliError("sbatch was not found: run this on a Slurm login node "
                           "(or see what would be submitted with --dry-run)") from None
        except Exception as exc:  # sbatch said no: its own words, on one line
            from engine.formatting import first_line

            done = f" ({len(job_ids)} submitted: {' '.join(job_ids)})" if job_ids else ""
            raise CliError(f"sbatch refused the job: {first_line(str(exc), 300)}{done}") from None
        job_ids.append(str(job.job_id))
    return job_ids


def print_dry_run(spec: Any, params: dict[str, Any], count: int, label: str,
                  root: Path) -> None:
    print(f"would submit {count} Slurm job(s) for store {label} (run files in {root}); "
          "nothing submitted (--dry-run)")
    print("sbatch parameters: " + ", ".join(f"{k}={v}" for k, v in sorted(params.items())))
    print(f"each job runs: CIFAR_TUI_DB=<the store> {shlex.join(spec.command())}")
    script = sbatch_script(params)
    if script:
        print("job script (submitit's, per job):")
        print(script)


def sbatch_script(params: dict[str, Any]) -> str | None:
    """The sbatch file submitit would write, from its own template; None if this
    submitit has none to show (a private helper that may move)."""
    try:
        from submitit.slurm.slurm import _make_sbatch_string
    except ImportError:
        return None
    folder = slurm_folder() / "logs" / "%j"
    command = shlex.join([sys.executable, "-u", "-m", "submitit.core._submit", str(folder)])
    try:
        return _make_sbatch_string(command=command, folder=folder, **params)
    except TypeError:
        return None
