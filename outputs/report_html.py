"""The HTML report: one self-contained page to mail to a colleague.

Title, the runs and their results, the settings that differ (every setting for one run),
and the figures as base64 PNGs: a mail client or browser shows them with no other file,
where inline SVG is dropped by many mail readers.
"""

from __future__ import annotations

import base64
import io
from html import escape
from typing import TYPE_CHECKING, Any

from engine import formatting as fmt

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from outputs.report import ReportData, ReportEntry
    from storage.records import RunDetail

STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2em auto;
       max-width: 1500px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.made { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.92em; }
th, td { padding: 0.3em 0.8em; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; }
img { max-width: 100%; height: auto; }
"""

RESULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("status", "status"), ("model", "model"), ("epochs", "epochs"),
    ("best val acc", "best_val_acc"), ("final val acc", "final_val_acc"),
    ("test acc", "test_acc"), ("test loss", "test_loss"), ("duration", "duration_s"),
    ("images/s", "images_per_s"), ("parameters", "num_params"), ("device", "device"),
)


def png_data_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def cell(value: Any, key: str = "") -> str:
    """A value as a person reads it, escaped for HTML."""
    if key in ("best_val_acc", "final_val_acc", "test_acc"):
        text = fmt.pct(value, 2)
    elif key == "duration_s":
        text = fmt.duration(value)
    elif key == "images_per_s":
        text = fmt.num(value, ",.0f")
    elif key == "num_params":
        text = fmt.num(value, ",d")
    elif isinstance(value, float):
        text = fmt.num(value)
    else:
        text = fmt.MISSING if value is None else str(value)
    return escape(text)


def _td(text: str, numeric: bool) -> str:
    return f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>"


def results_table(data: ReportData) -> str:
    head = "".join(f"<th>{escape(title)}</th>" for title, _ in RESULT_COLUMNS)
    rows = []
    for entry in data.entries:
        cells = [group_cell(entry, key) if entry.is_group else run_cell(entry.first, key)
                 for _, key in RESULT_COLUMNS]
        runs = " ".join(f"#{r.id}" for r in entry.runs) if entry.is_group else ""
        label = escape(entry.label) + (f'<br><span class="made">{runs}</span>' if runs else "")
        rows.append(f"<tr><th>{label}</th>{''.join(cells)}</tr>")
    note = ("<p class=\"made\">Groups (g:N): mean ± sample std over the runs with a value."
            "</p>" if any(e.is_group for e in data.entries) else "")
    return f"<table><tr><th>run</th>{head}</tr>{''.join(rows)}</table>{note}"


def run_cell(d: RunDetail, key: str) -> str:
    value: Any = getattr(d, key)
    if key == "epochs":
        value = f"{d.current_epoch or 0}/{d.epochs}"
    return _td(cell(value, key), isinstance(value, (int, float)))


def group_cell(entry: ReportEntry, key: str) -> str:
    """A group's mean ± std for the numbers, its distinct values for the rest."""
    from storage.groups import stat, stat_text

    values = [getattr(r, key) for r in entry.runs]
    if key in ("best_val_acc", "final_val_acc", "test_acc"):
        acc = stat(values)
        return _td(escape(stat_text(acc) + ("%" if acc.mean is not None else "")), True)
    if key == "duration_s":
        return _td(escape(fmt.duration(stat(values).mean)), True)
    if key in ("test_loss", "images_per_s"):
        s = stat(values)
        return _td(escape(stat_text(s, percent=False, digits=3 if key == "test_loss" else 0)),
                   True)
    if key == "epochs":
        values = [f"{r.current_epoch or 0}/{r.epochs}" for r in entry.runs]
    shown = ", ".join(cell(v, key) for v in dict.fromkeys(values))
    return _td(shown, isinstance(values[0], (int, float)) and len(set(values)) == 1)


def config_table(data: ReportData) -> tuple[str, str]:
    """(heading, table): the settings that differ; every setting when there is one run."""
    entries = data.entries
    if data.single_run is not None:
        config = data.single_run.config
        keys = [k for k in config if k != "name"]
        heading = "Config"
        values = {k: [config.get(k)] for k in keys}
    else:
        keys = sorted(data.config_diff)
        heading = f"Settings that differ ({len(keys)})"
        values = data.config_diff
        if not keys:
            return heading, "<p>None: they share every setting.</p>"
    head = "".join(f"<th>{escape(e.label)}</th>" for e in entries)
    rows = "".join(
        f"<tr><th>{escape(k)}</th>"
        + "".join(_td(_setting(v), isinstance(v, (int, float))) for v in values[k]) + "</tr>"
        for k in keys)
    return heading, f"<table><tr><th>setting</th>{head}</tr>{rows}</table>"


def _setting(value: Any) -> str:
    if isinstance(value, list):  # a group's seeds
        return escape(", ".join(fmt.setting(v) for v in value))
    return escape(fmt.setting(value))


def figure_block(title: str, fig: Figure, alt: str) -> str:
    return (f"<h2>{escape(title)}</h2>\n"
            f'<img src="{png_data_uri(fig)}" alt="{escape(alt, quote=True)}">')


def render_html(data: ReportData) -> str:
    from outputs.figures import classes_figure, curves_figure
    from outputs.report import class_results, run_lines

    names = ", ".join(e.label for e in data.entries)
    curves = curves_figure([run_lines(e) for e in data.entries])
    blocks = [figure_block("Accuracy, loss and learning rate", curves,
                           f"validation accuracy, loss and learning rate of {names}")]
    singles = [e.first for e in data.entries if not e.is_group]
    for run in singles if len(singles) <= 4 else []:  # past four it is a long page
        if run.confusion or run.per_class_acc:
            blocks.append(figure_block(f"Test results by class: #{run.id} {run.name}",
                                       classes_figure(class_results(run)),
                                       f"confusion matrix and per-class accuracy of #{run.id}"))
    heading, configs = config_table(data)
    made = data.made_at.strftime("%Y-%m-%d %H:%M UTC")
    count = sum(len(e.runs) for e in data.entries)
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{escape(data.title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
        f"<h1>{escape(data.title)}</h1>",
        f'<p class="made">Made by cifar-tui on {made} from {count} run(s).</p>',
        "<h2>Results</h2>", results_table(data),
        f"<h2>{escape(heading)}</h2>", configs,
        *blocks, "</body>", "</html>", "",
    ])
