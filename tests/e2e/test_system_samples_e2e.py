"""A run trained by a real worker, or by a foreground `train`, keeps the machine's samples."""

from __future__ import annotations

from support.e2e import TINY, cli

from storage import RunStore


def test_a_worker_run_keeps_system_samples_after_it_completes() -> None:
    out = cli("queue", "--no-worker", *TINY, "--epochs", "1").stdout
    run_id = int(out.split("queued run ")[1].split()[0].rstrip(";"))
    cli("worker", "--device", "cpu", "--exit-when-empty", timeout=240)
    store = RunStore()
    assert store.get_run(run_id).status == "completed"
    samples = store.get_system_samples(run_id)
    assert samples, "the worker sampled the machine while the run trained"
    assert all(s.ram_total_mb > 0 and 0 < s.disk_used_pct <= 100 for s in samples)


def test_a_foreground_train_keeps_system_samples() -> None:
    out = cli("train", *TINY, "--epochs", "1", "--json", timeout=240).stdout
    run_id = int(out.split('"run_id": ')[1].split(",")[0])
    store = RunStore()
    assert store.get_run(run_id).status == "completed"
    assert store.get_system_samples(run_id)
