"""`cifar-tui report`: PNG, SVG, PDF and HTML files of real stored runs (epochs and steps
recorded through the store API), seed groups as a mean with a band, and the one-line
refusals for bad input (issue 15)."""

from __future__ import annotations

import base64
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from support.tui_seed import finished, started, train_epochs

from cli.main import main
from engine.config import config_from_preset
from outputs.figures import DPI, ROW_HEIGHT_IN, WIDTH_IN
from outputs.report import load_report, run_lines
from storage.runs import RunStore


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture
def store(db: str) -> Iterator[RunStore]:
    with RunStore(db) as s:
        yield s


def trained(store: RunStore, name: str, preset: str = "seed", seed: int = 0,
            acc_cap: float = 0.9, epochs: int = 4) -> int:
    """A completed run with ``epochs`` epochs of metrics, steps (lr) and test results."""
    config = config_from_preset(preset, dataset="synthetic", epochs=epochs, seed=seed)
    run_id = store.create_run(config, name=name)
    claimed = store.claim_next_run("w1", "cpu", "box")
    assert claimed is not None and claimed.run_id == run_id
    started(run_id, store, claimed.config, device="cpu")
    train_epochs(store, run_id, epochs, acc_cap=acc_cap)
    finished(store, run_id, test_acc=acc_cap - 0.05, final_val_acc=acc_cap - 0.03)
    return run_id


@pytest.fixture
def runs(store: RunStore) -> dict[str, int]:
    return {"r9": trained(store, "r9-small"),
            "r18": trained(store, "r18-small", "resnet18", acc_cap=0.8)}


@pytest.fixture
def queued(store: RunStore, runs: dict[str, int]) -> int:
    """A run still waiting for a worker: no epochs yet (made last: a claim would take it)."""
    return store.create_run(config_from_preset("seed", dataset="synthetic"), name="waiting")


def report(db: str, *args: str) -> int:
    return main(["--db", db, "report", *args])


def not_blank(path: Path) -> float:
    """The spread of the image's grey levels: a blank (one-colour) image has 0."""
    with Image.open(path) as image:
        return ImageStat.Stat(image.convert("L")).var[0]


def test_png_of_two_runs_is_one_row_of_plots_and_not_blank(db, runs, tmp_path, capsys) -> None:
    out = tmp_path / "two.png"
    assert report(db, str(runs["r9"]), "r18-small", "-o", str(out)) == 0
    assert capsys.readouterr().out.strip() == f"report written to {out}"
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size == (round(WIDTH_IN * DPI), round(ROW_HEIGHT_IN * DPI))
    assert not_blank(out) > 100


def test_png_of_one_run_adds_the_class_row(db, runs, tmp_path) -> None:
    out = tmp_path / "one.png"
    assert report(db, str(runs["r9"]), "-o", str(out)) == 0
    with Image.open(out) as image:  # the curves, then confusion matrix and per-class bars
        assert image.size == (round(WIDTH_IN * DPI), round(2 * ROW_HEIGHT_IN * DPI))
    assert not_blank(out) > 100


def test_svg_and_pdf_are_written_and_well_formed(db, runs, tmp_path) -> None:
    svg, pdf = tmp_path / "r.svg", tmp_path / "r.pdf"
    assert report(db, str(runs["r9"]), str(runs["r18"]), "-o", str(svg)) == 0
    assert report(db, str(runs["r9"]), str(runs["r18"]), "-o", str(pdf)) == 0
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) > 50  # lines, ticks, text
    assert "r18-small" in svg.read_text()  # the title in the file's metadata
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(data) > 5_000


def test_html_names_every_run_and_embeds_its_images(db, runs, store, tmp_path) -> None:
    out = tmp_path / "report.html"
    assert report(db, str(runs["r9"]), str(runs["r18"]), "-o", str(out)) == 0
    html = out.read_text()
    for name in ("r9-small", "r18-small"):
        assert name in html
    assert "<table>" in html and "model" in html  # the setting that differs, and results
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3  # the curves, and each run's classes
    for encoded in images:
        png = tmp_path / "embedded.png"
        png.write_bytes(base64.b64decode(encoded))
        assert not_blank(png) > 100
    assert not re.search(r'(src|href)="(?!data:)', html)  # nothing to fetch: self-contained
    test_acc = store.get_run(runs["r18"]).test_acc
    assert f"{test_acc * 100:.2f}%" in html


def test_a_seed_group_is_its_mean_with_a_min_max_band(store, runs) -> None:
    first = runs["r9"]
    others = [trained(store, f"r9-seed{s}", seed=s, acc_cap=cap)
              for s, cap in ((1, 0.7), (2, 0.95))]
    data = load_report(store, [f"g:{first}", str(runs["r18"])])
    group, single = data.entries
    assert group.is_group and [r.id for r in group.runs] == [first, *others]
    lines = run_lines(group)
    for i, epoch in enumerate(lines.val_acc.xs):
        accs = [next(e.val_acc for e in store.get_epochs(r) if e.epoch == epoch)
                for r in (first, *others)]
        assert lines.val_acc.ys[i] == pytest.approx(sum(accs) / 3)
        assert (lines.val_acc.low[i], lines.val_acc.high[i]) == (min(accs), max(accs))
    assert run_lines(single).val_acc.low is None  # a lone run has no band
    assert "seed" in data.config_diff


def test_a_group_report_is_written(db, store, runs, tmp_path) -> None:
    trained(store, "r9-seed1", seed=1, acc_cap=0.7)
    out = tmp_path / "group.html"
    assert report(db, f"g:{runs['r9']}", str(runs["r18"]), "-o", str(out)) == 0
    html = out.read_text()
    assert f"g:{runs['r9']}" in html and " ± " in html


def one_line_error(capsys) -> str:  # noqa: ANN001
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("cifar-tui: error: ")
    return err


@pytest.mark.parametrize("ref", ["999", "no-such-run"])
def test_an_unknown_run_is_one_line_and_exit_2(db, runs, tmp_path, capsys, ref) -> None:
    out = tmp_path / "r.png"
    assert report(db, str(runs["r9"]), ref, "-o", str(out)) == 2
    assert "cifar-tui runs" in one_line_error(capsys)
    assert not out.exists()


def test_a_run_with_no_epochs_yet_says_so(db, runs, queued, tmp_path, capsys) -> None:
    out = tmp_path / "r.png"
    assert report(db, str(runs["r9"]), str(queued), "-o", str(out)) == 2
    err = one_line_error(capsys)
    assert f"run {queued} (waiting, queued) has no epochs yet" in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["r.jpg", "report"])
def test_an_unknown_extension_is_refused(db, runs, tmp_path, capsys, name) -> None:
    assert report(db, str(runs["r9"]), "-o", str(tmp_path / name)) == 2
    assert ".png / .svg / .pdf / .html" in one_line_error(capsys)
    assert not (tmp_path / name).exists()


def test_an_unwritable_output_is_refused(db, runs, tmp_path, capsys) -> None:
    assert report(db, str(runs["r9"]), "-o", str(tmp_path / "missing" / "r.png")) == 2
    assert "does not exist" in one_line_error(capsys)
    (tmp_path / "taken.png").mkdir()
    assert report(db, str(runs["r9"]), "-o", str(tmp_path / "taken.png")) == 2
    assert "is a folder" in one_line_error(capsys)


def test_without_matplotlib_the_message_names_the_extra(db, runs, tmp_path, capsys,
                                                        monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    assert report(db, str(runs["r9"]), "-o", str(tmp_path / "r.png")) == 2
    assert "pip install 'cifar-tui[report]'" in one_line_error(capsys)
