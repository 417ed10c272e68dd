"""The floors, checked: import-linter's contracts (pyproject.toml) hold, and they can break."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "storage", "worker", "outputs", "tui", "cli")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(root), "PATH": ""})


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    return set(out.stdout.split())


def tree_copy(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__", "__snapshots__"))
    shutil.copy(REPO / "pyproject.toml", root)
    return root


@pytest.fixture(scope="module")
def contracts_report() -> subprocess.CompletedProcess[str]:
    return lint_imports(REPO)


def test_every_import_contract_is_kept(contracts_report: subprocess.CompletedProcess[str]) -> None:
    assert contracts_report.returncode == 0, contracts_report.stdout + contracts_report.stderr
    assert "0 broken" in contracts_report.stdout


@pytest.mark.parametrize(("module", "bad_import", "contract"), [
    ("engine/config.py", "import torch", "The contract (config, events, schedule, paths)"),
    ("engine/data.py", "import storage", "Each floor imports only the floors below it"),
    ("storage/records.py", "import engine.train", "The store imports only the contract"),
    ("tui/format.py", "import engine.models", "The TUI never imports torch"),
    ("cli/history.py", "import sqlalchemy", "Only storage/ speaks SQL"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, bad_import: str,
                                                contract: str) -> None:
    root = tree_copy(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n{bad_import}  # injected by the test\n")
    report = lint_imports(root)
    assert report.returncode != 0
    broken = report.stdout.split("Broken contracts", 1)[1]
    assert contract in broken


def test_the_contract_and_the_store_load_without_torch() -> None:
    loaded = loaded_after("import engine.config, engine.events, engine.schedule, engine.paths, "
                          "storage, worker.launcher")
    assert not {"torch", "numpy", "textual"} & loaded


def test_the_tui_and_history_commands_load_without_torch() -> None:
    loaded = loaded_after("import tui.app, cli.history, cli.main")
    assert "torch" not in loaded and "engine.train" not in loaded


def test_start_up_imports_no_heavy_or_optional_library() -> None:
    loaded = loaded_after("import tui.app, cli.main; cli.main.build_parser()")
    heavy = {"optuna", "matplotlib", "mlflow", "tensorboard", "textual_serve", "submitit"}
    assert not heavy & loaded


def test_the_training_child_starts_without_the_store() -> None:
    # The spawned child unpickles worker.supervisor.child_main: importing the store there
    # would cost every run a quarter of a second of SQLAlchemy start-up.
    loaded = loaded_after("import worker.supervisor")
    assert not {"sqlalchemy", "storage", "storage.runs"} & loaded
