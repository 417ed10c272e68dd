"""Step visibility: how long a viewer polling the store waits for new steps, worker vs foreground.

Compares the same tiny CPU run (synthetic data, a 1/8-width ResNet9, a step logged every
step) trained two ways, each in a fresh store:

- baseline: `cifar-tui train` in the foreground, where the training loop hands each step
  straight to the store recorder in the same process;
- measured: `cifar-tui queue` + `cifar-tui worker`, where steps travel from the spawned
  training child through the supervisor's event queue to the same recorder.

This process polls the store every --poll seconds for --seconds once steps arrive, and
prints the longest and the median wait between new steps on each side and their ratio
(worker / foreground). Both sides write through the same recorder and flush interval; the
worker's supervisor also flushes on a timer while the child is quiet. This replaces the
"< 2 s" wall-clock bound that tests/e2e/test_worker.py used to assert: the test keeps the
behaviour (steps appear while the run trains), the timing is measured here.

One smoke run (--seconds 3 --repeats 1, on a shared 2-core CPU container):
foreground longest wait 1.01 s, worker 0.55 s, worker / foreground 0.54x.

    python benchmarks/worker_latency.py [--seconds 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from storage import RunStore  # noqa: E402

TINY = ["--dataset", "synthetic", "--limit-train", "64", "--width-mult", "0.125",
        "--batch-size", "16", "--device", "cpu", "--log-every", "1", "--epochs", "1000"]
CLI = [sys.executable, "-m", "cifar_tui"]


def watch_steps(store: RunStore, seconds: float, poll: float) -> list[float]:
    """Waits (s) between successive changes in run 1's stored step count."""
    deadline = time.monotonic() + 120
    while not (store.count_runs() and store.get_steps(1)):
        if time.monotonic() > deadline:
            raise SystemExit("no steps reached the store within 120 s")
        time.sleep(poll)
    seen, last_change, waits = len(store.get_steps(1)), time.monotonic(), []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        count, now = len(store.get_steps(1)), time.monotonic()
        if count != seen:
            waits.append(now - last_change)
            seen, last_change = count, now
        time.sleep(poll)
    return waits


def measure(start: Callable[[dict[str, str]], subprocess.Popen],
            stop: Callable[[subprocess.Popen, dict[str, str]], None],
            args: argparse.Namespace) -> list[float]:
    """Run one side in a fresh app folder and store; the waits a viewer saw."""
    with tempfile.TemporaryDirectory(prefix="latency-") as tmp:
        env = {**os.environ, "CIFAR_TUI_HOME": tmp, "CIFAR_TUI_OFFLINE": "1",
               "CIFAR_TUI_DB": f"sqlite:///{Path(tmp) / 'runs.db'}"}
        proc = start(env)
        try:
            with RunStore(env["CIFAR_TUI_DB"]) as store:
                return watch_steps(store, args.seconds, args.poll)
        finally:
            stop(proc, env)


def start_foreground(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "train", *TINY], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_foreground(proc: subprocess.Popen, _env: dict[str, str]) -> None:
    proc.send_signal(signal.SIGINT)  # ctrl+c: the run stops cooperatively
    proc.wait(timeout=60)


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    subprocess.run([*CLI, "queue", "--no-worker", *TINY], cwd=REPO, env=env, check=True,
                   capture_output=True)
    return subprocess.Popen([*CLI, "worker", "--device", "cpu", "--exit-when-empty"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop_worker(proc: subprocess.Popen, env: dict[str, str]) -> None:
    subprocess.run([*CLI, "cancel", "1"], cwd=REPO, env=env, capture_output=True)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="watch time per side")
    parser.add_argument("--poll", type=float, default=0.05, help="the viewer's poll interval")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    sides = {"foreground": (start_foreground, stop_foreground),
             "worker": (start_worker, stop_worker)}
    waits: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(args.repeats):  # interleaved, so drift in machine load hits both sides
        for name, (start, stop) in sides.items():
            got = measure(start, stop, args)
            waits[name].extend(got)
            print(f"  repeat {i + 1} {name:<10}: {len(got)} updates, "
                  f"longest wait {max(got, default=float('nan')):.2f} s")
    summary = {name: (max(w), statistics.median(w)) for name, w in waits.items() if w}
    if len(summary) < 2:
        raise SystemExit("a side saw no new steps; try a longer --seconds")
    for name, (longest, median) in summary.items():
        print(f"{name:<10}: longest wait {longest:.2f} s, median {median:.2f} s")
    (fg_long, fg_med), (wk_long, wk_med) = summary["foreground"], summary["worker"]
    print(f"worker / foreground: longest {wk_long / fg_long:.2f}x, median {wk_med / fg_med:.2f}x"
          " (1.0x = the worker adds no delay)")


if __name__ == "__main__":
    main()
