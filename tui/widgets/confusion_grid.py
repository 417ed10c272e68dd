"""The confusion matrix as a coloured grid: rows are true classes, columns predictions.

Class names are cut to at most five letters ("plane", "car") so ten classes of test-set
counts fit in 66 columns: the whole grid fits an 80-column terminal without wrapping.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

LABEL = 5  # letters of a class name shown
SHORT = {"airplane": "plane", "automobile": "car"}  # where the first letters read badly


def short_name(name: str) -> str:
    return SHORT.get(name, name[:LABEL])


def cell_style(fraction: float, diagonal: bool) -> Style:
    """Green for the diagonal, red off it; stronger as the row's share grows."""
    level = max(0.0, min(1.0, fraction))
    if diagonal:
        r, g, b = int(20 + 20 * level), int(60 + 140 * level), int(30 + 20 * level)
    else:
        level = min(1.0, level * 4)  # off-diagonal shares are small; stretch them
        r, g, b = int(40 + 180 * level), int(30 + 10 * level), int(40 + 10 * level)
    return Style(bgcolor=f"rgb({r},{g},{b})", color="white")


class ConfusionGrid(Widget):
    """Counts, coloured by their share of the true class's row."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.matrix: list[list[int]] = []
        self.names: list[str] = []

    def show(self, matrix: list[list[int]] | None, names: list[str] | None) -> None:
        self.matrix = matrix or []
        self.names = list(names or [str(i) for i in range(len(self.matrix))])
        self.styles.height = len(self.matrix) + 2 if self.matrix else 1
        self.refresh(layout=True)

    def render(self) -> Text:
        if not self.matrix:
            return Text("no confusion matrix (the run has no test results)", style="italic")
        short = [short_name(n) for n in self.names]
        biggest = max((v for row in self.matrix for v in row), default=0)
        cell = max(len(str(biggest)), *(len(n) for n in short)) + 1
        label = max(len(n) for n in short) + 1
        out = Text(no_wrap=True, overflow="crop")  # never wrap a row into the next
        out.append(" " * label + "predicted →\n", style="dim")
        out.append(" " * label)
        for name in short:
            out.append(name.rjust(cell), style="bold")
        for i, row in enumerate(self.matrix):
            total = sum(row) or 1
            out.append("\n" + short[i].ljust(label), style="bold")
            for j, value in enumerate(row):
                out.append(str(value).rjust(cell), style=cell_style(value / total, i == j))
        return out
