"""The confusion matrix as a coloured grid: rows are true classes, columns predictions."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widget import Widget


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
        biggest = max((v for row in self.matrix for v in row), default=0)
        cell = max(4, len(str(biggest)) + 1)
        label = max(len(n[:9]) for n in self.names) + 1
        out = Text()
        out.append(" " * label + "predicted →\n", style="dim")
        out.append(" " * label)
        for name in self.names:
            out.append(name[: cell - 1].rjust(cell), style="bold")
        for i, row in enumerate(self.matrix):
            total = sum(row) or 1
            out.append("\n" + self.names[i][:9].ljust(label), style="bold")
            for j, value in enumerate(row):
                out.append(str(value).rjust(cell), style=cell_style(value / total, i == j))
        return out
