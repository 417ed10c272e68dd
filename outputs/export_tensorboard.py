"""TensorBoard event files: one folder per run, read by TensorBoard itself.

Written with torch's ``SummaryWriter`` (torch.utils.tensorboard), which writes through
tensorboard's own event-file writer: torch is installed anyway, so the export extra only
adds tensorboard (tensorboardX would be one more package). The hparams summaries go into
the run's own folder (torch's ``hparams`` summary, as ``add_hparams`` builds it), rather
than the timestamped sub-folder ``add_hparams`` would make, so the HParams view lists one
session per run, named like its folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outputs.export_tables import ExportError, RunExport, final_metrics, require, scalars, slug

EVENT_PREFIX = "events.out.tfevents."


@dataclass(frozen=True)
class Written:
    folder: Path
    scalars: int


def run_folder(run: RunExport) -> str:
    """``<id>-<name>``: unique per run, readable in TensorBoard's run list."""
    return f"{run.detail.id}-{slug(run.detail.name)}"


def prepare(root: Path) -> None:
    """Check the libraries and the target before anything is written."""
    require("tensorboard", "a TensorBoard export")
    require("torch.utils.tensorboard", "a TensorBoard export")
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".cifar-tui-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ExportError(f"cannot write TensorBoard files to {root}: "
                          f"{exc.strerror or exc}; choose another folder with -o") from None


def export_run(root: Path, run: RunExport) -> Written:
    """Write one run's event file; an earlier export of the run is replaced, not added to
    (TensorBoard would show both)."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    folder = root / run_folder(run)
    if folder.is_dir():
        for old in folder.glob(EVENT_PREFIX + "*"):
            old.unlink()
    count = 0
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for tag, value, step, walltime in scalars(run):
            writer.add_scalar(tag, value, global_step=step, walltime=walltime)
            count += 1
        finals = final_metrics(run)
        last = max((e.epoch for e in run.detail.epoch_rows), default=0)
        ended = run.detail.finished_at.timestamp() if run.detail.finished_at else None
        for summary in hparams(hparam_values(run), finals):
            writer.file_writer.add_summary(summary, last, ended)
        for tag, value in finals.items():
            writer.add_scalar(tag, value, global_step=last, walltime=ended)
            count += 1
    finally:
        writer.close()
    return Written(folder, count)


def hparam_values(run: RunExport) -> dict[str, Any]:
    """The run's config as the HParams view shows it: numbers and strings. A boolean is
    the string True/False (torch's summary would store it as the number 1/0); a field left
    unset (None) is left out, as TensorBoard has no value for it."""
    from engine.config import RunConfig

    config = RunConfig.from_dict(run.detail.config).to_dict()
    return {k: v if isinstance(v, (int, float, str)) and not isinstance(v, bool) else str(v)
            for k, v in config.items() if v is not None}
