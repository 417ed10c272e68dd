"""Which store this is, and where its files live.

Each store has a UUID (made when the store is created or migrated) and an artifact
root; a run's checkpoints, logs and reports go under ``<root>/run-<id>``. Two stores
on one machine therefore never share, overwrite or delete each other's files.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from engine.paths import app_home
from storage.errors import StoreError
from storage.schema import StoreInfo
from storage.session import StoreSession

MARKER = ".cifar-tui-store"  # in a chosen artifact root: the id of the store it serves


@dataclass(frozen=True)
class RunFiles:
    """A run's files as deleting it sees them (shared by `cifar-tui rm` and the TUI)."""

    size: int  # bytes this store owns and would delete: recorded files and the run folder
    left: tuple[Path, ...]  # recorded files outside this store's folders: never deleted


def default_artifact_root(store_id: str) -> Path:
    return app_home() / "stores" / store_id


class StoreIdentity(StoreSession):
    _identity: tuple[str, str | None] | None = None

    def _load_identity(self) -> tuple[str, str | None]:
        if self._identity is None:
            with self._read() as s:
                row = s.execute(select(StoreInfo.store_id, StoreInfo.artifact_root)).first()
            if row is None:  # migrations always write it; a hand-edited store may not
                raise StoreError(f"{self._label} has no store identity; it was edited by hand "
                                 "or half-migrated: restore it from a backup")
            self._identity = (row.store_id, row.artifact_root)
        return self._identity

    @property
    def store_id(self) -> str:
        """A UUID that names this store in lock files, paths and checkpoints."""
        return self._load_identity()[0]

    @property
    def artifact_root(self) -> Path:
        """Where this store's run folders live (settable per store, e.g. a shared mount)."""
        store_id, chosen = self._load_identity()
        return Path(chosen) if chosen else default_artifact_root(store_id)

    def set_artifact_root(self, root: str | Path | None) -> Path:
        """Point new runs' files at ``root`` (None: back to the default). Existing runs
        keep their recorded paths."""
        value = None
        if root is not None:
            path = Path(root).expanduser().resolve()
            if not path.parent.is_dir():
                raise StoreError(f"no such folder {path.parent}; create it or fix the path")
            self._claim_folder(path)
            value = str(path)
        self._write(lambda s: s.execute(update(StoreInfo).values(artifact_root=value)))
        self._identity = None
        return self.artifact_root

    def _claim_folder(self, path: Path) -> None:
        """Mark ``path`` as this store's; refuse one another store marked (its run-1 and
        ours would be one folder, and rm in one store would delete the other's files)."""
        marker = path / MARKER
        try:
            found = marker.read_text().strip() if marker.is_file() else None
            if found and found != self.store_id:
                raise StoreError(f"{path} already holds the files of another store (id "
                                 f"{found[:8]}); choose a folder of its own for this store")
            path.mkdir(exist_ok=True)
            marker.write_text(self.store_id + "\n")
        except OSError as exc:
            raise StoreError(f"cannot use {path} for this store's files: "
                             f"{exc.strerror or exc}; fix its permissions or pick another "
                             "folder") from None

    def run_dir(self, run_id: int) -> Path:
        """A run's own folder: its checkpoints (best.pt, last.pt), logs and reports."""
        return self.artifact_root / f"run-{run_id}"

    def owns_path(self, path: str | Path) -> bool:
        """Whether ``path`` lies under this store's artifact root, or its default root (named
        after its id, so no other store's) from before the root was moved. rm deletes only
        those."""
        roots = {self.artifact_root.resolve(), default_artifact_root(self.store_id).resolve()}
        target = Path(path).resolve()
        return any(target.is_relative_to(root) for root in roots)

    def run_files(self, run_id: int, recorded: Iterable[str]) -> RunFiles:
        """What ``remove_run_files`` would free and leave, without touching anything:
        so a confirmation can say it before asking."""
        owned: set[Path] = set()
        left = []
        for path in {Path(p) for p in recorded if p}:
            if self.owns_path(path):
                owned.add(path)
            elif path.exists():
                left.append(path)
        run_dir = self.run_dir(run_id)
        if run_dir.is_dir():
            owned |= {f for f in run_dir.rglob("*") if f.is_file()}
        size = 0
        for path in owned:
            with contextlib.suppress(OSError):  # already gone: frees nothing
                size += path.stat().st_size
        return RunFiles(size, tuple(sorted(left)))

    def remove_run_files(self, run_id: int, recorded: Iterable[str]) -> tuple[int, list[Path]]:
        """Delete the run's files this store owns: its recorded checkpoints under its
        artifact root, and its run folder. Return the bytes freed and the recorded files
        left because they lie elsewhere (the shared checkpoints folder of older versions,
        which another store's run of the same id may use)."""
        freed, left = 0, []
        for path in {Path(p) for p in recorded if p}:
            if not self.owns_path(path):
                if path.exists():
                    left.append(path)
                continue
            with contextlib.suppress(OSError):  # already gone, or not ours to delete after all
                size = path.stat().st_size
                path.unlink()
                freed += size
            with contextlib.suppress(OSError):  # not empty, or already gone: leave it
                path.parent.rmdir()
        run_dir = self.run_dir(run_id)
        if run_dir.is_dir():
            freed += sum(f.stat().st_size for f in run_dir.rglob("*") if f.is_file())
            shutil.rmtree(run_dir, ignore_errors=True)
        return freed, sorted(left)
