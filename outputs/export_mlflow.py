"""MLflow runs from the store's runs, through MLflow's own client (MlflowClient).

Each exported run carries the tags ``cifar_tui.store_id`` and ``cifar_tui.run_id``; a later
export finds it by them and adds only what is new (steps and epochs past the ones it
already has, the status, tags and notes), so exporting again never duplicates a run.
A run resumed from a checkpoint rewrites the epochs and steps after it; when ones already
exported changed (``cifar_tui.history``, a digest of what was sent, tells), the MLflow run
is replaced, since MLflow can only add values to a step, never change them.
MLflow's logging and warnings are kept off the terminal; its errors become one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.formatting import first_line
from outputs.export_tables import (
    ExportError,
    RunExport,
    final_metrics,
    require,
    scalars,
    slug,
)

STORE_TAG = "cifar_tui.store_id"
RUN_TAG = "cifar_tui.run_id"
HISTORY_TAG = "cifar_tui.history"  # digest of the epochs and steps sent, to spot rewrites
TAGS_TAG = "cifar_tui.tags"  # the run's tags, each also a tag of its own (value "true")
# Tags a run has only while it has the thing: an export deletes them when it is gone.
OPTIONAL_TAGS = ("mlflow.note.content", "mlflow.source.git.commit", "cifar_tui.error")
QUIET_LOGGERS = ("mlflow", "alembic", "sqlalchemy", "urllib3", "git")
STATUS = {"completed": "FINISHED", "failed": "FAILED", "cancelled": "KILLED",
          "interrupted": "KILLED", "running": "RUNNING", "queued": "SCHEDULED"}
BATCH = 1000  # MLflow takes at most 1000 metrics (100 params, 100 tags) per log_batch


@dataclass
class Outcome:
    """What an export did, run by run (cifar-tui run ids)."""

    experiment: str
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.created)} created", f"{len(self.updated)} updated",
                 f"{len(self.unchanged)} unchanged"]
        return f"MLflow experiment {self.experiment!r}: " + ", ".join(parts)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """MLflow, alembic (its schema migrations) and friends log at INFO and warn freely:
    only real errors reach the terminal while exporting."""
    saved = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            require("mlflow", "an MLflow export")  # its import sets its loggers' levels
            for name in QUIET_LOGGERS:
                logging.getLogger(name).setLevel(logging.ERROR)
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def export_runs(runs: list[RunExport], *, uri: str, store_id: str, experiment: str | None,
                with_checkpoints: bool) -> Outcome:
    """Create or update one MLflow run per store run, in one experiment."""
    # An export to one's own tracking server should not phone elsewhere, and a server that
    # is down is reported in seconds, not after MLflow's minutes of retries. Each of these
    # stays the user's to set in the environment.
    for name, value in (("MLFLOW_DISABLE_TELEMETRY", "true"),
                        ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3"),
                        ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1"),
                        ("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")):
        os.environ.setdefault(name, value)
    with quiet():
        client, experiment_id, name = _connect(uri, experiment or f"cifar-tui-{store_id[:8]}")
        outcome = Outcome(name)
        try:
            existing = _exported(client, experiment_id, store_id)
            for run in runs:
                logger = RunLogger(client, run, existing.get(run.detail.id),
                                   with_checkpoints=with_checkpoints)
                what = logger.export(experiment_id, {STORE_TAG: store_id,
                                                     RUN_TAG: str(run.detail.id)})
                getattr(outcome, what).append(run.detail.id)
                outcome.warnings.extend(logger.warnings)
        except ExportError:
            raise
        except Exception as exc:  # MlflowException, a server's HTTP error, a full disk
            raise ExportError(f"MLflow export to {uri} failed: "
                              f"{first_line(str(exc), 300)}") from None
    return outcome


def _connect(uri: str, experiment: str) -> tuple[Any, str, str]:
    """The client and the experiment's id (created if new); a URI MLflow cannot use is one
    line naming it."""
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            if found.lifecycle_stage != "active":
                raise ExportError(f"MLflow experiment {experiment!r} is deleted; restore it "
                                  "or choose another name with --experiment")
            return client, found.experiment_id, experiment
        return client, client.create_experiment(experiment, _artifact_location(uri)), experiment
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(f"cannot use MLflow at {uri!r}: {first_line(str(exc), 160)}; "
                          "give a tracking URI such as sqlite:///mlflow.db or "
                          "http://host:5000 with --mlflow-uri") from None


def _artifact_location(uri: str) -> str | None:
    """For an SQLite store, artifacts go beside the database (as `mlflow server` puts them
    beside its own), not into whatever folder the export was run from."""
    if not uri.startswith("sqlite:///"):
        return None  # a server decides for itself
    db = Path(uri.removeprefix("sqlite:///")).expanduser()
    return (db.resolve().parent / "mlartifacts").as_uri()


def _exported(client: Any, experiment_id: str, store_id: str) -> dict[int, Any]:
    """This store's runs already in the experiment, by cifar-tui run id."""
    found: dict[int, Any] = {}
    token = None
    while True:
        page = client.search_runs([experiment_id], f"tags.`{STORE_TAG}` = '{store_id}'",
                                  max_results=1000, page_token=token)
        for mlflow_run in page:
            run_id = mlflow_run.data.tags.get(RUN_TAG, "")
            if run_id.isdecimal():
                found.setdefault(int(run_id), mlflow_run)
        token = page.token
        if not token:
            return found


def millis(when: datetime | float | None) -> int | None:
    if when is None:
        return None
    seconds = when.timestamp() if isinstance(when, datetime) else when
    return int(round(seconds * 1000))


class RunLogger:
    """Creates or brings up to date the MLflow run of one store run."""

    def __init__(self, client: Any, run: RunExport, existing: Any | None,
                 with_checkpoints: bool) -> None:
        self.client, self.run, self.existing = client, run, existing
        self.with_checkpoints = with_checkpoints
        self.warnings: list[str] = []

    def export(self, experiment_id: str, ident: dict[str, str]) -> str:
        """``created``, ``updated`` or ``unchanged``."""
        d = self.run.detail
        wanted = {**ident, **self._tags()}
        before = dict(self.existing.data.tags) if self.existing is not None else {}
        replaced = self.existing is not None and self._rewritten(before)
        if replaced:
            self.client.delete_run(self.existing.info.run_id)
            self.warnings.append(f"run {d.id}: epochs or steps exported before were rewritten "
                                 "since (it resumed from a checkpoint); its MLflow run was "
                                 "replaced")
            self.existing, before = None, {}
        stale = [k for k in (*_split(before.get(TAGS_TAG, "")), *OPTIONAL_TAGS)
                 if k in before and k not in wanted]  # a tag removed, a note cleared
        if self.existing is None:
            mlflow_run = self.client.create_run(
                experiment_id, start_time=millis(d.started_at or d.created_at),
                tags=ident, run_name=d.name)
            run_id = mlflow_run.info.run_id
            self._log_params(run_id)
        else:
            run_id = self.existing.info.run_id
        uploads = self._checkpoints_to_upload(run_id) if self.with_checkpoints else []
        changed = any(before.get(k) != v for k, v in wanted.items()) or stale or uploads
        if self.existing is not None and not changed:
            return "unchanged"
        self._log_metrics(run_id, before)
        for key in stale:
            self.client.delete_tag(run_id, key)
        self._log_batches(run_id, tags=[_tag(k, v) for k, v in wanted.items()])
        for path in uploads:
            self.client.log_artifact(run_id, str(path), artifact_path="checkpoints")
        self._set_status(run_id)
        return "created" if self.existing is None and not replaced else "updated"

    def _tags(self) -> dict[str, str]:
        d = self.run.detail
        tags = {
            "mlflow.runName": d.name, "mlflow.source.name": "cifar-tui",
            "cifar_tui.status": d.status, "cifar_tui.device": d.device or "",
            "cifar_tui.host": d.host or "", "cifar_tui.last_step": str(self._last_step()),
            "cifar_tui.last_epoch": str(max((e.epoch for e in d.epoch_rows), default=0)),
            HISTORY_TAG: self._digest(),
            TAGS_TAG: ", ".join(_tag_key(t) for t in d.tags),
            **{_tag_key(t): "true" for t in d.tags},
        }
        if d.notes:
            tags["mlflow.note.content"] = d.notes
        if d.git_commit:
            tags["mlflow.source.git.commit"] = d.git_commit
        if d.error:
            tags["cifar_tui.error"] = first_line(d.error, 4000)
        return tags

    def _rewritten(self, before: dict[str, str]) -> bool:
        """Whether the epochs and steps an earlier export sent differ from the store's now;
        an export made before this tag existed cannot tell, and is trusted."""
        sent = before.get(HISTORY_TAG)
        return sent is not None and sent != self._digest(
            int(before.get("cifar_tui.last_epoch", "0") or 0),
            int(before.get("cifar_tui.last_step", "0") or 0))

    def _digest(self, upto_epoch: int | None = None, upto_step: int | None = None) -> str:
        """The epoch and step scalars (up to the given epoch and step), as one digest."""
        digest = hashlib.sha256()
        for tag, value, step, _ in scalars(self.run):
            upto = upto_epoch if tag.startswith("epoch/") else upto_step
            if upto is None or step <= upto:
                digest.update(f"{tag}:{step}:{value!r};".encode())
        return digest.hexdigest()[:16]

    def _last_step(self) -> int:
        return max((s.step for s in self.run.steps), default=0)

    def _log_params(self, run_id: str) -> None:
        from mlflow.entities import Param

        from engine.config import RunConfig

        config = RunConfig.from_dict(self.run.detail.config).to_dict()
        self._log_batches(run_id, params=[Param(k, str(v)) for k, v in config.items()])

    def _log_metrics(self, run_id: str, before: dict[str, str]) -> None:
        """The epochs and steps past those an earlier export sent; the results once the
        run's status changed (they are set when it ends)."""
        from mlflow.entities import Metric

        sent_epoch = int(before.get("cifar_tui.last_epoch", "0") or 0)
        sent_step = int(before.get("cifar_tui.last_step", "0") or 0)
        fallback = millis(self.run.detail.started_at or self.run.detail.created_at)
        metrics = [
            Metric(tag, value, millis(walltime) or fallback, step)
            for tag, value, step, walltime in scalars(self.run)
            if step > (sent_epoch if tag.startswith("epoch/") else sent_step)
        ]
        if before.get("cifar_tui.status") != self.run.detail.status:
            d = self.run.detail
            ended = millis(d.finished_at) or fallback
            last = max((e.epoch for e in d.epoch_rows), default=0)
            metrics += [Metric(k, v, ended, last) for k, v in final_metrics(self.run).items()]
        self._log_batches(run_id, metrics=metrics)

    def _log_batches(self, run_id: str, metrics: Sequence[Any] = (),
                     params: Sequence[Any] = (), tags: Sequence[Any] = ()) -> None:
        for i in range(0, len(metrics), BATCH):
            self.client.log_batch(run_id, metrics=metrics[i:i + BATCH])
        for i in range(0, len(params), 100):
            self.client.log_batch(run_id, params=params[i:i + 100])
        for i in range(0, len(tags), 100):
            self.client.log_batch(run_id, tags=tags[i:i + 100])

    def _checkpoints_to_upload(self, run_id: str) -> list[Path]:
        """The run's checkpoint files MLflow lacks or holds an older size of."""
        held = {Path(f.path).name: f.file_size
                for f in self.client.list_artifacts(run_id, "checkpoints")}
        uploads = []
        for kind, path in sorted(self.run.detail.checkpoints.items()):
            file = Path(path)
            if not file.is_file():
                self.warnings.append(f"run {self.run.detail.id}: the {kind} checkpoint "
                                     f"{path} is not on this machine; not uploaded")
            elif held.get(file.name) != file.stat().st_size:
                uploads.append(file)
        return uploads

    def _set_status(self, run_id: str) -> None:
        d = self.run.detail
        status = STATUS.get(d.status, "RUNNING")
        if status in ("FINISHED", "FAILED", "KILLED"):
            self.client.set_terminated(run_id, status, end_time=millis(d.finished_at))
        else:
            self.client.update_run(run_id, status=status)


def _tag_key(tag: str) -> str:
    """A cifar-tui tag as an MLflow tag key (MLflow allows letters, digits, _ - . / and
    spaces); never one of MLflow's own or ours."""
    key = slug(tag.replace("/", "_"))
    return f"tag.{key}" if key.startswith(("mlflow.", "cifar_tui.")) else key


def _tag(key: str, value: str) -> Any:
    from mlflow.entities import RunTag

    return RunTag(key, value)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
