"""The machine in view: each NVIDIA GPU's utilisation, memory, temperature and power, then
CPU, RAM and the disk that holds the runs' files, read every 2 s off the UI thread.

Also how a run's stored samples read on its detail screen ("System while it ran").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import get_current_worker

from engine import formatting as fmt
from engine.events import GpuSample, SystemSample
from storage.errors import StoreError
from tui.context import context_of
from tui.jobs import job
from tui.widgets.keys_footer import KeysFooter
from worker.machine import MachineReading, machine_reading

REFRESH_SECONDS = 2.0
HISTORY = 60  # readings kept for the sparklines: two minutes
EIGHTHS = " ▏▎▍▌▋▊▉█"
SPARKS = "▁▂▃▄▅▆▇█"
EMPTY_STYLE = "bright_black"

Reader = Callable[[], MachineReading]


def bar(fraction: float | None, width: int, style: str) -> Text:
    """A bar ``width`` cells wide, filled to ``fraction`` (in eighths of a cell)."""
    if fraction is None:
        return Text("·" * width, style=EMPTY_STYLE)
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    filled = "█" * full + (EIGHTHS[part] if part else "")
    return Text.assemble((filled, style), ("░" * (width - len(filled)), EMPTY_STYLE))


def fullness(fraction: float | None) -> str:
    """Green, then yellow past 60 %, red past 85 %: for things that fill up."""
    if fraction is None or fraction < 0.6:
        return "green"
    return "yellow" if fraction < 0.85 else "red"


def heat(temp_c: float | None) -> str:
    if temp_c is None or temp_c < 75:
        return ""
    return "yellow" if temp_c < 85 else "bold red"


def gib(used_mb: float | None, total_mb: float | None) -> str:
    if used_mb is None or total_mb is None:
        return fmt.MISSING
    return f"{used_mb / 1024:.1f}/{total_mb / 1024:.1f} GiB"


def share(used: float | None, total: float | None) -> float | None:
    return None if used is None or not total else used / total


def figure(value: float | None, unit: str, spec: str = ".0f") -> str:
    return fmt.MISSING if value is None else f"{value:{spec}}{unit}"


def gpu_lines(gpu: GpuSample, width: int) -> list[Text]:
    """Two lines: index, name, temperature and power; then utilisation and memory bars."""
    right = Text.assemble((figure(gpu.temp_c, " °C").rjust(7), heat(gpu.temp_c)),
                          figure(gpu.power_w, " W").rjust(8))
    name = fmt.first_line(gpu.name, max(8, width - len(right) - 7))
    head = Text.assemble((f"GPU {gpu.index}  ", "bold"), name)
    head.append(" " * max(1, width - len(head) - len(right)))
    head.append_text(right)
    memory = share(gpu.mem_used_mb, gpu.mem_total_mb)
    mem_text = gib(gpu.mem_used_mb, gpu.mem_total_mb).rjust(15)
    cells = max(4, (width - 7 - 5 - 7 - len(mem_text) - 1) // 2)
    util = None if gpu.util_pct is None else gpu.util_pct / 100
    line = Text.assemble(
        ("  util ", "dim"), bar(util, cells, "cyan"), fmt.pct(util, 0).rjust(5),
        ("   mem ", "dim"), bar(memory, cells, fullness(memory)), " ", mem_text)
    return [head, line]


def host_lines(sample: SystemSample, width: int) -> list[Text]:
    """CPU, RAM and the runs' disk, one bar each."""
    cells = max(6, width - 6 - 18)  # the disk line ends "  63% runs' files"
    cpu = sample.cpu_pct / 100
    ram = share(sample.ram_used_mb, sample.ram_total_mb)
    disk = sample.disk_used_pct / 100
    return [
        Text.assemble(("CPU   ", "bold"), bar(cpu, cells, "cyan"), fmt.pct(cpu, 0).rjust(6)),
        Text.assemble(("RAM   ", "bold"), bar(ram, cells, fullness(ram)),
                      " " + gib(sample.ram_used_mb, sample.ram_total_mb).rjust(15)),
        Text.assemble(("disk  ", "bold"), bar(disk, cells, fullness(disk)),
                      fmt.pct(disk, 0).rjust(6), (" runs' files", "dim")),
    ]


def sparkline(values: Sequence[float | None], width: int) -> Text:
    """The latest ``width`` percentages as 0–100 % blocks (a gap where one was unread)."""
    cells = [" " if v is None else SPARKS[min(7, int(max(0.0, v) / 100 * 8))]
             for v in list(values)[-width:]]
    return Text("".join(cells), style="cyan")


def history_lines(history: Sequence[SystemSample], width: int) -> list[Text]:
    """Utilisation of each GPU and the CPU over the readings kept."""
    if len(history) < 2:
        return []
    cells = max(8, width - 12)
    rows = [Text("last 2 min", style="dim")]
    for index in sorted({g.index for s in history for g in s.gpus}):
        utils = [next((g.util_pct for g in s.gpus if g.index == index), None) for s in history]
        rows.append(Text.assemble((f"GPU {index} util ".ljust(12), "bold"),
                                  sparkline(utils, cells)))
    rows.append(Text.assemble(("CPU ".ljust(12), "bold"),
                              sparkline([s.cpu_pct for s in history], cells)))
    return rows


def machine_text(reading: MachineReading, history: Sequence[SystemSample], width: int) -> Text:
    """The whole pane as one text, ``width`` columns wide."""
    sample = reading.sample
    lines: list[Text] = []
    for gpu in sample.gpus:
        lines += gpu_lines(gpu, width)
    if reading.no_gpu:
        lines.append(Text(reading.no_gpu, style="yellow"))
    lines.append(Text())
    lines += host_lines(sample, width)
    spark = history_lines(history, width)
    if spark:
        lines += [Text(), *spark]
    return Text("\n").join(lines)


class SystemScreen(ModalScreen[None]):
    """Reads the machine with ``reader`` (default: this process's psutil and NVML, and the
    disk of the store's artifact root); tests give a fake one."""

    BINDINGS = [Binding("escape,m", "app.pop_screen", "Close")]
    DEFAULT_CSS = """
    SystemScreen { align: center middle; }
    #system {
        width: 96%; max-width: 116; height: 1fr; margin-bottom: 1; padding: 0 1;
        border: round $accent; background: $surface;
    }
    #system-title { margin-bottom: 1; }
    #system-box { height: 1fr; }
    """

    @dataclass
    class Read(Message):
        reading: MachineReading | None
        error: str | None = None  # the reader failed: said in the pane, tried again

    def __init__(self, reader: Reader | None = None,
                 refresh_seconds: float = REFRESH_SECONDS) -> None:
        super().__init__()
        self.reader = reader
        self.refresh_seconds = refresh_seconds
        self.reading: MachineReading | None = None
        self.history: deque[SystemSample] = deque(maxlen=HISTORY)

    def compose(self) -> ComposeResult:
        with Vertical(id="system"):
            yield Static(Text.assemble(("This machine", "bold"),
                                       (f"  every {self.refresh_seconds:g} s", "dim")),
                         id="system-title")
            with VerticalScroll(id="system-box"):
                yield Static(Text("reading…", style="dim"), id="system-body")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#system-box").focus()
        self.poll()
        if context_of(self).poll_interval:  # None in tests and snapshots: read once
            self.set_interval(self.refresh_seconds, self.poll)

    def poll(self) -> None:
        self._read(self.reader)

    @job("system-read")
    def _read(self, reader: Reader | None) -> None:
        try:
            reading = (reader or self._default_reader())()
        except Exception as exc:  # noqa: BLE001 - a pane, not a crash: say it and retry
            self.post_message(self.Read(None, f"{type(exc).__name__}: {fmt.first_line(str(exc))}"))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.Read(reading))

    def _default_reader(self) -> Reader:
        """This machine; the disk is the one the store keeps its runs' files on."""
        try:
            disk: Path = context_of(self).store.artifact_root
        except StoreError:
            disk = Path.home()
        self.reader = lambda: machine_reading(disk)
        return self.reader

    @on(Read)
    def _show(self, event: Read) -> None:
        if event.reading is None:
            body = Text(f"could not read the machine: {event.error}", style="red")
            self.query_one("#system-body", Static).update(body)
            return
        self.reading = event.reading
        self.history.append(event.reading.sample)
        self._draw()

    def on_resize(self) -> None:
        if self.reading is not None:
            self._draw()

    def _draw(self) -> None:
        assert self.reading is not None
        body = self.query_one("#system-body", Static)
        width = body.content_size.width or max(40, self.size.width - 8)
        body.update(machine_text(self.reading, self.history, width))


# -- a run's stored samples, for the detail screen ------------------------------------------
def _gpu_rows(samples: Sequence[SystemSample]) -> list[tuple[str, str]]:
    rows = []
    for index in sorted({g.index for s in samples for g in s.gpus}):
        seen = [g for s in samples for g in s.gpus if g.index == index]
        utils = [g.util_pct for g in seen if g.util_pct is not None]
        used = [g.mem_used_mb for g in seen if g.mem_used_mb is not None]
        totals = [g.mem_total_mb for g in seen if g.mem_total_mb is not None]
        temps = [g.temp_c for g in seen if g.temp_c is not None]
        power = [g.power_w for g in seen if g.power_w is not None]
        util = (f"mean {fmean(utils):.0f}% · max {max(utils):.0f}%" if utils else fmt.MISSING)
        rows += [(f"GPU {index}", seen[-1].name), ("  util", util),
                 ("  memory peak", gib(max(used, default=None), max(totals, default=None))),
                 ("  temp max", figure(max(temps, default=None), " °C")),
                 ("  power mean", figure(fmean(power) if power else None, " W"))]
    return rows


def run_system_table(samples: Sequence[SystemSample]) -> Table | Text:
    """What the machine did while a run trained, from its stored samples."""
    if not samples:
        return Text("no system samples recorded", style="italic")
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    span = samples[-1].time - samples[0].time
    ram = max(samples, key=lambda s: s.ram_used_mb)
    rows = [("samples", f"{len(samples)} over {fmt.duration(span)}"),
            *_gpu_rows(samples),
            ("CPU mean", fmt.pct(fmean(s.cpu_pct for s in samples) / 100, 0)),
            ("RAM peak", gib(ram.ram_used_mb, ram.ram_total_mb))]
    if not any(s.gpus for s in samples):
        rows.insert(1, ("GPU", "none seen"))
    for key, value in rows:
        table.add_row(key, value)
    return table
