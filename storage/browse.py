"""Reading the history, resolving a run reference, and the user's own annotations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage import queries
from storage.errors import EditConflict, InvalidRunState, RunNotFound, StoreError
from storage.identity import StoreIdentity
from storage.records import Comparison, EpochRow, RunDetail, RunFilter, RunSummary, StepRow
from storage.schema import MAX_RUN_ID, EpochMetric, Run, RunAttempt, StepMetric, Tag
from storage.session import check_id


class RunBrowser(StoreIdentity):
    """The history as the CLI and the TUI browse it; ``RunStore`` adds the run lifecycle."""

    # -- browsing -----------------------------------------------------------------

    def list_runs(
        self, filter: RunFilter | None = None, sort: str = "created_at",  # noqa: A002
        descending: bool = True, limit: int = 50, offset: int = 0,
    ) -> list[RunSummary]:
        with self._read() as s:
            return queries.list_runs(s, filter, sort, descending, limit, offset)

    def count_runs(self, filter: RunFilter | None = None) -> int:  # noqa: A002
        with self._read() as s:
            return queries.count_runs(s, filter)

    def get_run(self, run_id: int) -> RunDetail:
        check_id(run_id)
        with self._read() as s:
            return queries.details(s, [run_id])[0]

    def get_steps(self, run_id: int, after_step: int = -1) -> list[StepRow]:
        """Steps after ``after_step``, for a live chart polling incrementally."""
        with self._read() as s:
            rows = queries.steps_after(s, run_id, after_step)
            if not rows:
                self._status(s, run_id)
            return rows

    def get_epochs(self, run_id: int) -> list[EpochRow]:
        with self._read() as s:
            self._status(s, run_id)
            return queries.epochs_of(s, [run_id])[run_id]

    def compare(self, run_ids: Sequence[int]) -> Comparison:
        for run_id in run_ids:
            check_id(run_id)
        with self._read() as s:
            return queries.compare(s, run_ids)

    def export_rows(self, run_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Flat records, one per (run, epoch); all runs when ``run_ids`` is None."""
        with self._read() as s:
            return queries.export_rows(s, run_ids)

    def resolve_run(self, ref: str | int) -> int:
        """A run id (``12`` or ``#12``) or a unique run name -> the id."""
        text = str(ref).strip()
        digits = text.lstrip("#")
        if digits.isdecimal() and len(digits) > len(str(MAX_RUN_ID)):
            raise RunNotFound(text)  # beyond any id (and int() refuses thousands of digits)
        with self._read() as s:
            if digits.isdecimal():
                run_id = int(digits)
                self._status(s, run_id)
                return run_id
            ids = list(s.scalars(select(Run.id).where(Run.name == text).order_by(Run.id).limit(6)))
        if not ids:
            raise RunNotFound(text)
        if len(ids) > 1:
            shown = ", ".join(map(str, ids[:5]))
            raise StoreError(f"the name {text!r} matches several runs ({shown}); use the id")
        return ids[0]

    # -- annotations --------------------------------------------------------------

    def add_tag(self, run_id: int, tag: str) -> None:
        tag = tag.strip()
        if not tag or len(tag) > 64:
            raise StoreError("a tag must be 1 to 64 characters")

        def work(s: Session) -> None:
            self._status(s, run_id)
            have = s.scalars(select(Tag.tag).where(Tag.run_id == run_id)).all()
            if tag.casefold() not in {t.casefold() for t in have}:  # Sweep and sweep are one
                s.add(Tag(run_id=run_id, tag=tag))

        self._write(work)

    def remove_tag(self, run_id: int, tag: str) -> bool:
        def work(s: Session) -> bool:
            self._status(s, run_id)
            result = s.execute(delete(Tag).where(Tag.run_id == run_id, Tag.tag == tag.strip()))
            return result.rowcount > 0

        return self._write(work)

    def set_note(self, run_id: int, text: str, expected_version: int | None = None) -> int:
        """Replace the note and return its new version. With ``expected_version`` (the
        version the editor loaded), refuse with ``EditConflict`` if it changed since:
        one compare-and-set UPDATE, so no backend can interleave another edit."""

        def work(s: Session) -> int:
            self._status(s, run_id)
            stmt = update(Run).where(Run.id == run_id)
            if expected_version is not None:
                stmt = stmt.where(Run.notes_version == expected_version)
            stmt = stmt.values(notes=text.strip() or None, notes_version=Run.notes_version + 1)
            if s.execute(stmt.execution_options(synchronize_session=False)).rowcount == 0:
                raise EditConflict(run_id)
            return self._notes_version(s, run_id)

        return self._write(work)

    def append_note(self, run_id: int, text: str) -> int:
        """Add ``text`` after the note ("; " between: the TUI edits notes on one line) in
        one transaction with the row locked, so a concurrent edit is never overwritten;
        returns the new version."""

        def work(s: Session) -> int:
            self._status(s, run_id)
            old = s.execute(select(Run.notes).where(Run.id == run_id).with_for_update()
                            ).scalar_one()
            joined = "; ".join(p for p in ((old or "").strip(), text.strip()) if p)
            self._set(s, run_id, notes=joined or None, notes_version=Run.notes_version + 1)
            return self._notes_version(s, run_id)

        return self._write(work)

    @staticmethod
    def _notes_version(s: Session, run_id: int) -> int:
        return int(s.execute(select(Run.notes_version).where(Run.id == run_id)).scalar_one())

    def delete_run(self, run_id: int) -> None:
        """Delete a run and all its metrics; a running run must be cancelled first."""

        def work(s: Session) -> None:
            if self._status(s, run_id) == "running":
                raise InvalidRunState(f"run {run_id} is running; cancel it before deleting it")
            # Explicit deletes, so no backend depends on ON DELETE CASCADE being enforced.
            for table in (StepMetric, EpochMetric, Tag, RunAttempt):
                s.execute(delete(table).where(table.run_id == run_id))
            s.execute(delete(Run).where(Run.id == run_id))

        self._write(work)
