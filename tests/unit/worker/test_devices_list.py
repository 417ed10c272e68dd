"""Which devices a worker serves: --devices parsing, GPU discovery with a fake NVML and
environment, worker ids, and what the launcher's `auto` start serves."""

from __future__ import annotations

import os

import pytest

from cli.main import main
from engine import settings as st
from worker import device_list, launcher
from worker.device_list import (
    DeviceListError,
    discover_devices,
    nvml_index,
    parse_devices,
    visible_gpu_count,
    visible_gpus,
)


def test_a_list_keeps_its_order_and_reads_cuda_as_cuda0() -> None:
    assert parse_devices("cuda:0, cuda:2") == ["cuda:0", "cuda:2"]
    assert parse_devices("CPU:0,cpu:1") == ["cpu:0", "cpu:1"]
    assert parse_devices("cuda") == ["cuda:0"]
    assert parse_devices("all", discover=lambda: ["cuda:0", "cuda:1"]) == ["cuda:0", "cuda:1"]


@pytest.mark.parametrize("spec, words", [
    ("cuda:0,cuda:0", "names cuda:0 twice"),
    ("auto,cpu", "'auto' is not a device"),
    ("gpu:1", "'gpu:1' is not a device"),
    ("cuda:x", "'cuda:x' is not a device"),
    ("cpu,,cpu:1", "'(empty)' is not a device"),
])
def test_a_bad_list_is_refused_naming_the_fix(spec: str, words: str) -> None:
    with pytest.raises(DeviceListError, match="device") as caught:
        parse_devices(spec)
    assert words in str(caught.value)


@pytest.mark.parametrize("visible, expected", [
    (None, [0, 1, 2, 3]),  # unset: every GPU
    ("2,0", [2, 0]),  # cuda:0 is physical GPU 2
    ("", []),  # set empty: none
    ("1,-1,2", [1]),  # CUDA stops at the first invalid entry
    ("3,7,1", [3]),  # an index NVML does not have is invalid too
    ("1,1", [1]),  # a repeat as well
    ("GPU-8c4e1a2b,0", [None, 0]),  # a UUID: a GPU whose NVML index is not known here
])
def test_visible_gpus_reads_cuda_visible_devices_as_cuda_does(
        visible: str | None, expected: list[int | None]) -> None:
    env = {} if visible is None else {"CUDA_VISIBLE_DEVICES": visible}
    assert visible_gpus(4, env) == expected


def test_cuda_n_maps_to_its_nvml_index_through_the_visible_list() -> None:
    env = {"CUDA_VISIBLE_DEVICES": "3,1"}
    assert nvml_index("cuda:0", env, nvml_count=4) == 3
    assert nvml_index("cuda:1", env, nvml_count=4) == 1
    assert nvml_index("cuda:2", env, nvml_count=4) is None
    assert nvml_index("cpu:0", env, nvml_count=4) is None


def test_discovery_counts_nvml_gpus_left_visible() -> None:
    env = {"CUDA_VISIBLE_DEVICES": "0,2"}
    count = visible_gpu_count(env, nvml_count=lambda: 4, torch_count=pytest.fail)
    assert count == 2
    assert discover_devices(lambda: count) == ["cuda:0", "cuda:1"]


def test_without_nvml_torch_is_asked_only_when_a_gpu_driver_is_there(tmp_path) -> None:
    asked: list[bool] = []

    def torch_count() -> int:
        asked.append(True)
        return 2

    absent = (str(tmp_path / "nvidiactl"),)
    assert visible_gpu_count({}, lambda: None, torch_count, absent) == 0 and not asked
    (tmp_path / "kfd").touch()
    present = (str(tmp_path / "kfd"),)
    assert visible_gpu_count({}, lambda: None, torch_count, present) == 2 and asked


def test_no_gpu_means_the_cpu() -> None:
    assert discover_devices(lambda: 0) == ["cpu"]


def test_this_machine_has_no_nvml_and_serves_the_cpu() -> None:
    # The machine the suite runs on in CI has no NVIDIA GPU; on a GPU box this says so.
    if device_list.nvml_gpu_count():
        pytest.skip("this machine has NVIDIA GPUs")
    assert discover_devices() == ["cpu"]


def test_worker_ids_name_the_slot_and_the_slurm_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert launcher.make_worker_id("box", 42, "cuda:1") == "box:42:cuda:1"
    assert launcher.make_worker_id("box", 42, "cuda:1", 2) == "box:42:cuda:1#2"
    monkeypatch.setenv("SLURM_JOB_ID", "9001")
    text = launcher.make_worker_id("box", 42, "cpu:0", 1)
    assert text == "box:42:cpu:0#1@slurm:9001"
    assert launcher.parse_worker_id(text) == launcher.WorkerId("box", 42, "cpu:0", 1, "9001")
    assert launcher.parse_worker_id("box:42:auto") == launcher.WorkerId("box", 42, "auto")
    assert launcher.parse_worker_id("foreground") is None


def test_auto_start_serves_every_gpu_unless_the_setting_is_off() -> None:
    assert launcher.auto_devices(lambda: 3) == ["cuda:0", "cuda:1", "cuda:2"]
    assert launcher.auto_devices(lambda: 0) is None  # the one auto worker, on the CPU
    st.save(st.Settings(all_gpus=False))
    assert launcher.auto_devices(lambda: 3) is None
    assert launcher.start_log_path("feedbeef-0000").name == "worker-feedbeef-auto.log"


def test_settings_all_gpus_round_trips(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings"]) == 0
    assert "all gpus     on" in capsys.readouterr().out
    assert main(["settings", "--all-gpus", "off"]) == 0
    assert "all gpus     off" in capsys.readouterr().out
    assert st.load_file().all_gpus is False
    st.settings_path().write_text('{"all_gpus": "yes"}')
    with pytest.raises(st.SettingsError, match="all_gpus must be true/false"):
        st.load_file()


@pytest.mark.parametrize("argv, words", [
    (["--devices", "cuda:0,cuda:0"], "names cuda:0 twice"),
    (["--devices", "cpu:0", "--device", "cpu"], "give --device or --devices, not both"),
    (["--devices", "cpu:0", "--runs-per-device", "0"], "--runs-per-device must be from 1"),
])
def test_worker_refuses_a_bad_device_list_in_one_line(
        argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


class Spawned:
    """Stands in for subprocess.Popen: records the command, starts nothing."""

    calls: list[list[str]] = []

    def __init__(self, cmd: list[str], **_kwargs: object) -> None:
        Spawned.calls.append(cmd)
        self.pid = 31337


def test_an_auto_start_on_a_gpu_box_is_one_worker_for_every_gpu(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher.subprocess, "Popen", Spawned)
    Spawned.calls = []
    assert launcher.start_worker("sqlite:///x.db", "feedbeef-0000", gpu_count=lambda: 2) == 31337
    cmd = Spawned.calls[0]
    assert cmd[cmd.index("worker") + 1:cmd.index("worker") + 3] == ["--devices", "all"]
    assert cmd[cmd.index("--log-file") + 1].endswith("worker-feedbeef-all.log")
    held = [launcher.WorkerLock("feedbeef-0000", d) for d in ("cuda:0", "cuda:1")]
    assert all(lock.acquire("sqlite:///x.db") for lock in held)
    try:  # every GPU served already: nothing more is started
        assert launcher.start_worker("sqlite:///x.db", "feedbeef-0000",
                                     gpu_count=lambda: 2) == os.getpid()
    finally:
        for lock in held:
            lock.release()
    assert len(Spawned.calls) == 1
    launcher.start_worker("sqlite:///x.db", "feedbeef-0000", gpu_count=lambda: 0)
    assert Spawned.calls[1][Spawned.calls[1].index("worker") + 1:][:2] == ["--device", "auto"]
