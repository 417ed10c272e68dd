"""Which store this is, and where its files live.

Each store has a UUID (made when the store is created or migrated) and an artifact
root; a run's checkpoints, logs and reports go under ``<root>/run-<id>``. Two stores
on one machine therefore never share, overwrite or delete each other's files.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from engine.paths import app_home
from storage.errors import StoreError
from storage.schema import StoreInfo
from storage.session import StoreSession

MARKER = ".cifar-tui-store"  # in a chosen artifact root: the id of the store it serves


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
