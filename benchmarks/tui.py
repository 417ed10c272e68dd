"""TUI benchmarks: cold start, memory, key latency while a run streams, and 10,000 runs.

    .venv/bin/python benchmarks/tui.py [--runs 10000]

Everything runs headless (Textual's test driver renders every frame, without a
terminal). Prints each figure next to its target; docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# The child measures from its own first instruction to the first frame with runs in it.
COLD_START = r"""
import time
t0 = time.perf_counter()
import asyncio, json, resource, sys
from tui.app import make_app
from tui.widgets.run_table import RunTable
t_import = time.perf_counter()
app = make_app(db_url=sys.argv[1], poll_interval=None, worker_alive=lambda: False)
marks = {}

async def pilot_fn(pilot):
    marks["mounted"] = time.perf_counter()
    table = app.screen.query_one(RunTable)
    while table.row_count == 0:
        await asyncio.sleep(0.002)
    await pilot.pause()
    marks["rows"] = time.perf_counter()
    rss = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
    print(json.dumps({"import": t_import - t0, "first_frame": marks["mounted"] - t0,
                      "first_rows": marks["rows"] - t0, "rss_mb": rss / 2**20,
                      "torch": "torch" in sys.modules}))
    app.exit()

app.run(headless=True, size=(120, 40), auto_pilot=pilot_fn)
"""


def seed(url: str, n: int) -> list[int]:
    """``n`` runs through the public API: all cancelled but three, one of them running."""
    from engine.config import config_from_preset
    from engine.events import RunStarted
    from storage.runs import RunStore

    with RunStore(url) as store:
        config = config_from_preset("seed", dataset="synthetic")
        ids = [store.create_run(config, name=f"run-{i}", tags=("bench",) if i % 10 == 0 else ())
               for i in range(n)]
        for run_id in ids[3:]:
            store.request_cancel(run_id)
        claimed = store.claim_next_run("bench", "cpu", "bench-host")
        assert claimed is not None
        store.record_start(claimed.run_id, RunStarted(
            config=claimed.config, device="cpu", host="bench-host", torch_version="-", num_params=1,
            num_train=45_000, num_val=5_000, num_test=10_000, steps_per_epoch=100_000,
            total_steps=800_000))
        return [claimed.run_id]


def stream_steps(url: str, run_id: int, rate: float, stop: mp.Event) -> None:  # type: ignore[valid-type]
    """A separate process writing ``rate`` step events a second, one append per event
    (the worst case)."""
    from engine.events import StepMetrics
    from storage.runs import RunStore

    store = RunStore(url)
    step = 0
    next_at = time.perf_counter()
    while not stop.is_set():
        step += 1
        store.append_steps(run_id, [StepMetrics(step=step, epoch=1 + step // 100_000,
                                                loss=2.0 / (1 + step / 500), lr=0.01,
                                                images_per_s=5000.0)])
        next_at += 1 / rate
        time.sleep(max(0.0, next_at - time.perf_counter()))


def cold_start(url: str, repeats: int) -> dict[str, float]:
    results = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", COLD_START, url], cwd=REPO,
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "TEXTUAL": ""})
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not any(r["torch"] for r in results), "the TUI imported torch"
    return {k: statistics.median(r[k] for r in results)
            for k in ("import", "first_frame", "first_rows", "rss_mb")}


async def respond(app, key: str, done) -> float:  # noqa: ANN001
    """Seconds from a key event reaching the app (as the terminal driver posts it) until
    ``done()`` holds and the next frame after that has been drawn."""
    from textual import events

    loop = asyncio.get_running_loop()
    t = time.perf_counter()
    app.post_message(events.Key(key, CHARACTERS.get(key)))
    while not done():
        await asyncio.sleep(0.0005)
    drawn = loop.create_future()
    app.call_after_refresh(lambda: drawn.done() or drawn.set_result(time.perf_counter()))
    return await drawn - t


CHARACTERS = {"question_mark": "?", "escape": "\x1b"}


def summary(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[int(0.95 * (len(values) - 1))]


async def key_latency(url: str, run_id: int, presses: int) -> dict[str, tuple[float, float]]:
    """Key press -> screen updated while a run streams steps into the store and the app polls it."""
    from tui.app import make_app
    from tui.messages import OpenRequested
    from tui.screens.help import HelpScreen
    from tui.screens.live import LiveRunScreen
    from tui.widgets.run_table import RunTable

    app = make_app(db_url=url, poll_interval=1.0, worker_alive=lambda: True)
    timings: dict[str, list[float]] = {"home: cursor down/up": [], "live: open help": [],
                                       "live: close help": []}
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one(RunTable)
        for i in range(presses):
            row = table.cursor_row
            timings["home: cursor down/up"].append(
                await respond(app, "down" if i % 2 == 0 else "up",
                              lambda row=row: table.cursor_row != row))
            await asyncio.sleep(0.073)  # spread the presses over the 1 s poll cycle
        app.post_message(OpenRequested(run_id, "live"))  # what enter on its row does
        await pilot.pause()
        await app.workers.wait_for_complete()
        live = app.screen
        assert isinstance(live, LiveRunScreen)
        await asyncio.sleep(1.5)
        for _ in range(presses):
            timings["live: open help"].append(
                await respond(app, "question_mark", lambda: isinstance(app.screen, HelpScreen)))
            timings["live: close help"].append(
                await respond(app, "escape", lambda: app.screen is live))
            await asyncio.sleep(0.073)
        out = {name: summary(values) for name, values in timings.items()}
        out["steps seen"] = (float(len(live.steps)), 0.0)
    return out


async def big_history(url: str) -> dict[str, tuple[float, float]]:
    from tui.app import make_app
    from tui.screens.home import PAGE
    from tui.widgets.run_table import RunTable

    app = make_app(db_url=url, poll_interval=None, worker_alive=lambda: False)
    out: dict[str, tuple[float, float]] = {}
    t = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RunTable)
        while table.row_count == 0:
            await asyncio.sleep(0.001)
        await pilot.pause()
        out["app start to first page drawn"] = (time.perf_counter() - t, 0.0)
        pages = []
        for _ in range(5):
            before = table.row_count
            pages.append(await respond(app, "end", lambda before=before: table.row_count > before))
        out["end key: next page fetched, drawn"] = summary(pages)
        table.move_cursor(row=0)
        await pilot.pause()
        scroll = []
        for _ in range(20):
            row = table.cursor_row
            scroll.append(await respond(app, "pagedown", lambda row=row: table.cursor_row != row))
        out["page down"] = summary(scroll)
        t = time.perf_counter()
        app.screen.query_one("#status").value = "queued"
        while table.row_count > 10:
            await asyncio.sleep(0.0005)
        await pilot.pause()
        out["filter by status, drawn"] = (time.perf_counter() - t, 0.0)
        out["rows loaded"] = (float(6 * PAGE), 0.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CIFAR_TUI_HOME"] = tmp
        small = f"sqlite:///{tmp}/small.db"
        big = f"sqlite:///{tmp}/big.db"
        seed(small, 20)
        t = time.perf_counter()
        (run_id,) = seed(big, args.runs)
        print(f"seeded {args.runs:,} runs through RunStore in {time.perf_counter() - t:.1f} s\n")

        start = cold_start(small, args.repeats)
        start_big = cold_start(big, 3)
        print(f"cold start, median of {args.repeats} fresh interpreters (20-run store):")
        print(f"  import tui.app              {start['import'] * 1000:7.0f} ms")
        print(f"  first frame (app mounted)   {start['first_frame'] * 1000:7.0f} ms   "
              "target < 1000 ms")
        print(f"  first rows drawn            {start['first_rows'] * 1000:7.0f} ms   "
              "target < 1000 ms")
        print(f"  RSS at first rows           {start['rss_mb']:7.1f} MiB")
        print(f"  first rows, {args.runs:,}-run store {start_big['first_rows'] * 1000:5.0f} ms, "
              f"RSS {start_big['rss_mb']:.1f} MiB\n")

        stop = mp.Event()
        writer = mp.Process(target=stream_steps, args=(big, run_id, 50.0, stop), daemon=True)
        writer.start()
        try:
            latency = asyncio.run(key_latency(big, run_id, args.presses))
        finally:
            stop.set()
            writer.join(5)
        print("key press -> screen drawn, a run streaming 50 steps/s "
              f"({args.presses} presses each; median, p95):")
        for name, (median, p95) in latency.items():
            if name == "steps seen":
                print(f"  live chart steps received       {int(median):7d}")
            else:
                print(f"  {name:<30} {median * 1000:7.1f} ms {p95 * 1000:7.1f} ms   "
                      "target < 100 ms")
        print()
        history = asyncio.run(big_history(big))
        print(f"home screen on {args.runs:,} runs (median, p95):")
        for name, (median, p95) in history.items():
            if name == "rows loaded":
                print(f"  rows in the table at the end    {int(median)} (never all {args.runs:,})")
            else:
                print(f"  {name:<34} {median * 1000:7.1f} ms {p95 * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
