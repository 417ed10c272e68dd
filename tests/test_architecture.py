"""The boundaries the house style promises, checked: who may import what."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
            if node.module == "engine" or node.module.startswith("engine."):
                found.add(node.module)
    return found


def modules_in(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def loaded_after_import(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_only_storage_speaks_sql() -> None:
    offenders = [p for pkg in ("engine", "tui", "cli") for p in modules_in(pkg)
                 if {"sqlalchemy", "alembic", "sqlite3"} & imported_modules(p)]
    assert offenders == []


def test_the_worker_is_the_only_engine_module_that_uses_the_store() -> None:
    users = [p.name for p in modules_in("engine") if "storage" in imported_modules(p)]
    assert users == ["worker.py"]


def test_engine_never_imports_textual_or_the_tui() -> None:
    offenders = [p for p in modules_in("engine") if {"textual", "tui", "rich"} & imported_modules(p)]
    assert offenders == []
    loaded = loaded_after_import("import engine.train, engine.worker, engine.launcher")
    assert "textual" not in loaded and "tui" not in loaded


def test_config_and_events_are_pure_stdlib_so_the_ui_can_use_them_without_torch() -> None:
    loaded = loaded_after_import("import engine.config, engine.events, engine.launcher, engine.paths, engine.schedule, storage")
    assert "torch" not in loaded and "numpy" not in loaded


def test_storage_never_imports_torch_or_textual() -> None:
    for path in modules_in("storage"):
        assert not {"torch", "textual", "tui"} & imported_modules(path), path
