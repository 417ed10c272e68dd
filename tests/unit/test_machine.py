"""Reading the machine: psutil for real, NVML absent for real, and a fake NVML with two GPUs
(one that cannot tell its power) since no GPU is at hand."""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from worker import machine

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


class FakeNvml(types.ModuleType):
    """The part of pynvml the reader uses: GPU 0 answers everything, GPU 1 has no power
    sensor. Counts init and shutdown calls."""

    NVML_TEMPERATURE_GPU = 0

    class NVMLError(Exception):
        pass

    def __init__(self, fail_init: str | None = None) -> None:
        super().__init__("pynvml")
        self.fail_init = fail_init
        self.inits = self.shutdowns = 0

    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        self.inits += 1
        if self.fail_init:
            raise self.NVMLError(self.fail_init)

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:  # noqa: N802
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes | str:  # noqa: N802
        return b"NVIDIA H100 80GB HBM3" if handle == 0 else "NVIDIA A10"

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:  # noqa: N802
        return SimpleNamespace(gpu=[97, 3][handle], memory=40)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:  # noqa: N802
        used, total = [(40_000, 81_559), (500, 23_028)][handle]
        return SimpleNamespace(used=used * MIB, total=total * MIB, free=(total - used) * MIB)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:  # noqa: N802
        assert sensor == self.NVML_TEMPERATURE_GPU
        return [71, 38][handle]

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:  # noqa: N802
        if handle == 1:
            raise self.NVMLError("Not Supported")
        return 312_500  # milliwatts


@pytest.fixture(autouse=True)
def fresh_nvml() -> Iterator[None]:
    machine.close_nvml()  # each test opens NVML (real or fake) itself
    yield
    machine.close_nvml()


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    fake = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    return fake


@pytest.mark.skipif(Path("/proc/driver/nvidia").exists(), reason="this machine has a driver")
def test_without_a_driver_there_are_no_gpus_and_the_reason_says_why(tmp_path: Path) -> None:
    reading = machine.machine_reading(tmp_path)  # the real pynvml, the real (absent) NVML
    assert reading.sample.gpus == ()
    assert reading.no_gpu is not None and reading.no_gpu.startswith("no NVIDIA GPU (")
    assert "Not Found" in reading.no_gpu or "driver" in reading.no_gpu


def test_without_nvidia_ml_py_the_reason_names_the_package(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # what an install without it sees
    reading = machine.machine_reading(tmp_path)
    assert reading.sample.gpus == ()
    assert reading.no_gpu == "no NVIDIA GPU (nvidia-ml-py is not installed)"


def test_nvml_failing_to_start_is_a_reason_not_an_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = FakeNvml(fail_init="Driver Not Loaded")
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert machine.machine_reading(tmp_path).no_gpu == (
        "no NVIDIA GPU (no NVIDIA driver: Driver Not Loaded)")
    machine.machine_reading(tmp_path)
    assert fake.inits == 1  # tried once per process, not on every read


def test_cpu_ram_and_disk_are_real_figures(tmp_path: Path) -> None:
    sample = machine.read_machine(tmp_path / "run-1" / "not-made-yet")
    assert 0.0 <= sample.cpu_pct <= 100.0
    assert 0 < sample.ram_used_mb <= sample.ram_total_mb
    assert 0.0 < sample.disk_used_pct <= 100.0  # the disk holding tmp_path
    assert sample.time > 0


def test_two_gpus_each_figure_read_and_an_unreadable_one_is_none(
        fake_nvml: FakeNvml, tmp_path: Path) -> None:
    reading = machine.machine_reading(tmp_path)
    assert reading.no_gpu is None
    big, small = reading.sample.gpus
    assert (big.index, big.name) == (0, "NVIDIA H100 80GB HBM3")  # bytes from old bindings
    assert (big.util_pct, big.temp_c, big.power_w) == (97.0, 71.0, 312.5)
    assert (big.mem_used_mb, big.mem_total_mb) == (40_000, 81_559)
    assert (small.index, small.name, small.util_pct, small.temp_c) == (1, "NVIDIA A10", 3.0, 38.0)
    assert small.power_w is None  # "Not Supported" is not the whole reading's end


def test_nvml_starts_once_per_process_and_shuts_down(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    for _ in range(3):
        machine.read_machine(tmp_path)
    assert fake_nvml.inits == 1
    machine.close_nvml()
    assert fake_nvml.shutdowns == 1


def test_a_gpu_that_is_lost_reads_as_unknown_figures(fake_nvml: FakeNvml, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    machine.read_machine(tmp_path)

    def lost(*_args: object) -> None:
        raise FakeNvml.NVMLError("GPU is lost")

    for name in ("nvmlDeviceGetUtilizationRates", "nvmlDeviceGetMemoryInfo",
                 "nvmlDeviceGetTemperature", "nvmlDeviceGetPowerUsage"):
        monkeypatch.setattr(fake_nvml, name, lost)
    gpu = machine.read_machine(tmp_path).gpus[0]
    assert gpu.name == "NVIDIA H100 80GB HBM3"
    assert (gpu.util_pct, gpu.mem_used_mb, gpu.mem_total_mb, gpu.temp_c, gpu.power_w) == (
        None, None, None, None, None)


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True, timeout=60)
    return set(out.stdout.split())


def test_the_tui_starts_without_psutil_or_nvml() -> None:
    loaded = loaded_after("import tui.app")
    assert not {"psutil", "pynvml"} & loaded


def test_the_reader_loads_no_torch_sql_or_readers_until_it_reads() -> None:
    loaded = loaded_after("import worker.machine, worker.system_sampler")
    assert not {"torch", "sqlalchemy", "storage", "psutil", "pynvml", "textual"} & loaded
