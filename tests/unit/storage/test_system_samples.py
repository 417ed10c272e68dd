"""System samples and step wall times: stored with the run, read back in order, gone with it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine
from support.store import cfg

from engine.events import GpuSample, StepMetrics, SystemSample
from storage import RunNotFound, RunStore
from storage.db import alembic_config


def sample(t: float, cpu: float = 50.0, gpus: tuple[GpuSample, ...] = ()) -> SystemSample:
    return SystemSample(cpu_pct=cpu, ram_used_mb=1000.0, ram_total_mb=4000.0,
                        disk_used_pct=40.0, gpus=gpus, time=t)


def test_samples_round_trip_with_every_gpu_figure(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    h100 = GpuSample(0, "NVIDIA H100", util_pct=97.0, mem_used_mb=30_000.0,
                     mem_total_mb=81_559.0, temp_c=61.0, power_w=512.5)
    unreadable = GpuSample(1, "NVIDIA H100")  # NVML could not read the figures
    store.add_system_samples(run_id, [sample(2.0, gpus=(h100, unreadable)), sample(1.0)])
    got = store.get_system_samples(run_id)
    assert [s.time for s in got] == [1.0, 2.0]  # time order, not insert order
    assert got[1].gpus == (h100, unreadable) and got[0].gpus == ()


def test_reading_keeps_the_latest_samples_when_there_are_too_many(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    store.add_system_samples(run_id, [sample(float(t), cpu=t) for t in range(10)])
    assert [s.cpu_pct for s in store.get_system_samples(run_id, limit=3)] == [7.0, 8.0, 9.0]


def test_samples_go_with_a_deleted_run_and_need_a_real_run(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    store.request_cancel(run_id)
    store.add_system_samples(run_id, [sample(1.0)])
    store.delete_run(run_id)
    with pytest.raises(RunNotFound):
        store.get_system_samples(run_id)
    with pytest.raises(RunNotFound):
        store.add_system_samples(run_id, [sample(2.0)])


def test_steps_keep_the_time_they_were_logged(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    store.append_steps(run_id, [StepMetrics(step=s, epoch=0, loss=1.0, lr=0.1, images_per_s=1.0,
                                            time=100.0 + s) for s in (1, 2)])
    assert [r.wall_time for r in store.get_steps(run_id)] == [101.0, 102.0]


def test_steps_stored_before_0004_read_back_without_a_time(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
    engine.dispose()
    with RunStore(str(path)) as store:
        run_id = store.create_run(cfg())
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003")
    engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO step_metrics (run_id, step, epoch, loss, lr) VALUES (?, 5, 0, 2.0,"
                   " 0.1)", (run_id,))
    with RunStore(str(path)) as store:  # upgrades to 0004 on open
        (row,) = store.get_steps(run_id)
        assert (row.step, row.loss, row.wall_time) == (5, 2.0, None)
        assert store.get_system_samples(run_id) == []
