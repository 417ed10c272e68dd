"""The new-run form's rows, generated from the field table in ``engine.config``.

Grouped by section, in table order within one. The preset has its own select at the top
of the form, since choosing one refills it; tags sit with the name (both only label a run).
"""

from __future__ import annotations

import itertools
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Checkbox, Input, Label, Select, Static

from engine.config import FIELDS, SECTIONS, FieldSpec

ROWS: tuple[FieldSpec, ...] = tuple(
    spec for section in SECTIONS for spec in FIELDS.values()
    if spec.section == section and spec.name != "preset"
)
TEXT_ROWS = tuple(spec.name for spec in ROWS if spec.kind is not bool)
TAGS = "tags"  # a queue option like `cifar-tui queue --tag`, not a RunConfig field
NO_PRESET = "none"
BOTH = "both-"  # the id prefix of an on/off field's "both" box


def as_text(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def parse_tags(text: str) -> list[str]:
    """Comma-separated tags, each kept once (Sweep and sweep are one: the first spelling
    stays, as in the store); the store's 64-character limit, checked early."""
    unique: dict[str, str] = {}
    for tag in (t.strip() for t in text.split(",")):
        if tag:
            unique.setdefault(tag.casefold(), tag)
    tags = list(unique.values())
    for tag in tags:
        if len(tag) > 64:
            raise ValueError(f"a tag must be 1 to 64 characters, got {len(tag)}: {tag[:20]!r}...")
    return tags


def both_entry(both: bool, value: bool) -> tuple[str, Any]:
    """An on/off field's entry: on and off (as `--augment true,false`) or its one value."""
    return ("values", (True, False)) if both else ("value", value)


def choice_options(spec: FieldSpec) -> list[tuple[str, str]]:
    """The choices, then every list of two or more of them (``adam,sgd``): a sweep."""
    singles = [(c, c) for c in spec.choices]
    lists = [",".join(combo) for n in range(2, len(spec.choices) + 1)
             for combo in itertools.combinations(spec.choices, n)]
    return singles + [(text, text) for text in lists]


def field_row(spec: FieldSpec) -> ComposeResult:
    """One labelled row: a checkbox, a select of the choices (and their lists, a sweep)
    or a text input (one value, a list a,b,c or a range low:high[:log])."""
    with Horizontal(classes="field"):
        yield Label(spec.label, classes="field-label")
        if spec.kind is bool:
            # The help's first clause: the CLI's "(default on)"-style asides do not fit 80 columns.
            yield Checkbox(spec.help.split(" (")[0], id=f"f-{spec.name}", compact=True)
            # Both values, a sweep (the CLI's --augment true,false): a list in a checkbox.
            box = Checkbox("both", id=f"{BOTH}{spec.name}", classes="both", compact=True)
            box.tooltip = "queue it on and off: a sweep"
            yield box
        elif spec.choices:
            yield Select(choice_options(spec), allow_blank=False, id=f"f-{spec.name}",
                         compact=True)
        else:
            yield Input(id=f"f-{spec.name}", compact=True)
    if spec.kind is not bool:
        yield Static(id=f"e-{spec.name}", classes="field-error")


def tags_row() -> ComposeResult:
    with Horizontal(classes="field"):
        yield Label("tags", classes="field-label")
        yield Input(id=f"f-{TAGS}", placeholder="comma-separated, e.g. sweep, lr", compact=True)
    yield Static(id=f"e-{TAGS}", classes="field-error")
