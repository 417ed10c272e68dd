"""When a slot may claim another run on a busy device: memory free (NVML, faked: no GPU
here), the CPU unchecked, and a run that ran out of memory sharing trains alone."""

from __future__ import annotations

from worker.slots import SHARE_SETTLE_S, DeviceBoard, is_out_of_memory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def board(reading: tuple[float, float] | None) -> tuple[DeviceBoard, Clock]:
    clock = Clock()
    return DeviceBoard(memory=lambda device: reading, clock=clock), clock


def test_an_idle_device_may_always_claim() -> None:
    b, _ = board((80_000.0, 81_000.0))  # even a full GPU: nothing of ours is on it
    assert b.reason_to_wait("cuda:0") is None


def test_a_busy_gpu_takes_another_run_only_with_room_for_it() -> None:
    b, clock = board((20_000.0, 81_000.0))
    b.claimed("cuda:0", 1)
    assert "newest run" in b.reason_to_wait("cuda:0")  # its memory is still growing
    clock.now += SHARE_SETTLE_S
    assert b.reason_to_wait("cuda:0") is None  # 61 GB free, the run uses 20
    b.claimed("cuda:0", 2)
    assert b.was_shared(1) and b.was_shared(2)
    b.memory = lambda device: (70_000.0, 81_000.0)
    clock.now += SHARE_SETTLE_S
    assert b.reason_to_wait("cuda:0") == ("cuda:0 has 11000 MiB free; each of its runs uses "
                                          "about 35000 MiB")
    assert b.reason_to_wait("cuda:1") is None  # another device is its own


def test_a_gpu_nvml_cannot_read_shares_unchecked() -> None:
    b, clock = board(None)
    b.claimed("cuda:0", 1)
    clock.now += SHARE_SETTLE_S
    assert b.reason_to_wait("cuda:0") is None


def test_cpu_devices_share_without_a_memory_check() -> None:
    b, _ = board((1.0, 1.0))  # would refuse, were it asked
    b.claimed("cpu:0", 1)
    assert b.reason_to_wait("cpu:0") is None


def test_a_run_requeued_after_oom_holds_busy_devices_back_then_trains_alone() -> None:
    b, clock = board((1_000.0, 81_000.0))
    clock.now += SHARE_SETTLE_S
    b.claimed("cuda:0", 1)
    b.claimed("cuda:0", 2)
    b.train_alone(2)  # ran out of memory beside run 1; requeued
    b.released("cuda:0", 2)
    clock.now += SHARE_SETTLE_S
    assert "waits to train alone" in b.reason_to_wait("cuda:0")  # run 1 still there
    assert b.reason_to_wait("cuda:1") is None  # an idle device may take it
    b.claimed("cuda:1", 2)
    assert not b.waiting_alone
    assert b.reason_to_wait("cuda:0") is None  # no longer held back
    assert "run 2 trains alone on cuda:1" in b.reason_to_wait("cuda:1")
    assert not b.was_shared(2)
    b.released("cuda:1", 2)
    assert b.reason_to_wait("cuda:1") is None and not b.needs_alone


def test_a_run_claimed_elsewhere_stops_holding_devices_back() -> None:
    b, _ = board(None)
    b.claimed("cpu:0", 1)
    b.train_alone(2)
    b.forget_claimed_elsewhere(lambda run_id: True)  # still queued: keep waiting
    assert b.waiting_alone == {2}
    b.forget_claimed_elsewhere(lambda run_id: False)  # another host took it
    assert not b.waiting_alone and not b.needs_alone


def test_out_of_memory_is_told_by_the_engine_reason() -> None:
    assert is_out_of_memory("CUDA out of memory at batch size 512: lower --batch-size")
    assert is_out_of_memory("CPU out of memory at batch size 16 (it asked for 2.0 GB more)")
    assert not is_out_of_memory("RuntimeError: shapes do not match")
