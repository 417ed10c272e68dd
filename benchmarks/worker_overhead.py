"""Worker overhead: the same run trained in-process vs through queue -> worker -> store.

Both sides start a fresh interpreter, so each pays Python and torch start-up;
the worker side also pays the store, the supervisor, the spawned child and the
event relay. Prints both wall times and the overhead; the target is under 2%.

    python benchmarks/worker_overhead.py [--data-dir ../shared/data/cifar-10-subset] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUBSET = REPO.parent / "shared" / "data" / "cifar-10-subset"


def config_args(args: argparse.Namespace) -> list[str]:
    data = ["--data-dir", str(args.data_dir)] if args.data_dir else ["--dataset", "synthetic"]
    return [*data, "--preset", "seed", "--epochs", str(args.epochs),
            "--limit-train", str(args.limit_train), "--width-mult", str(args.width_mult),
            "--device", "cpu", "--seed", "0"]


IN_PROCESS = """
import sys
from cli.config_args import add_config_arguments, config_from_args
import argparse
p = argparse.ArgumentParser(); add_config_arguments(p)
config = config_from_args(p.parse_args(sys.argv[1:]))
from engine.train import train
final = train(config, checkpoint_dir=sys.argv[0] + ".ckpt")
assert type(final).__name__ == "RunFinished", final
"""


def time_in_process(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> float:
    script = IN_PROCESS.replace("sys.argv[0]", repr(str(tmp / "inproc")))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", script, *config_args(args)], cwd=REPO, env=env,
                   check=True)
    return time.perf_counter() - t0


def time_through_worker(args: argparse.Namespace, env: dict[str, str]) -> float:
    cli = [sys.executable, "-m", "cifar_tui"]
    t0 = time.perf_counter()
    out = subprocess.run([*cli, "queue", "--no-worker", "--json", *config_args(args)], cwd=REPO,
                         env=env, check=True, capture_output=True, text=True).stdout
    run_id = json.loads(out)["run_id"]
    subprocess.run([*cli, "worker", "--device", "cpu", "--exit-when-empty"], cwd=REPO, env=env,
                   check=True, capture_output=True)
    elapsed = time.perf_counter() - t0
    shown = json.loads(subprocess.run([*cli, "show", str(run_id), "--json"], cwd=REPO, env=env,
                                      check=True, capture_output=True, text=True).stdout)
    assert shown["status"] == "completed", shown
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=SUBSET if SUBSET.exists() else None)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--limit-train", type=int, default=4000)
    parser.add_argument("--width-mult", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "CIFAR_TUI_HOME": str(tmp),
               "CIFAR_TUI_DB": f"sqlite:///{tmp / 'bench.db'}", "CIFAR_TUI_OFFLINE": "1"}
        print(f"config: {' '.join(config_args(args))}")
        inproc, worker = [], []
        for i in range(args.repeats):  # interleaved, so drift in machine load hits both sides
            inproc.append(time_in_process(args, env, tmp))
            worker.append(time_through_worker(args, env))
            print(f"  repeat {i + 1}: in-process {inproc[-1]:.2f} s, "
                  f"through worker {worker[-1]:.2f} s")
    for label, pick in (("median", statistics.median), ("best", min)):
        a, b = pick(inproc), pick(worker)
        print(f"{label:6s}: in-process {a:.2f} s, queue+worker+store {b:.2f} s, ratio {b / a:.3f} "
              f"(overhead {(b - a) / a * 100:+.1f}% = {b - a:+.2f} s, target < 2%)")


if __name__ == "__main__":
    main()
