"""`cifar-tui predict` and `evaluate` in this process, on tiny runs trained through `train`:
evaluate reproduces the stored test results, predict on PNGs of the test images gives
evaluate's per-image classes, and every bad input is one line with exit code 2."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from support.data import REPO, write_cifar_folder

from cli.main import main
from engine.config import RunConfig
from outputs.evaluate import load_test_split
from outputs.predict import load_image, state_dict_problem
from storage import RunStore

TINY = ["--dataset", "synthetic", "--limit-train", "64", "--width-mult", "0.125",
        "--batch-size", "16", "--device", "cpu", "--log-every", "4", "--epochs", "2"]


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(result: tuple[int, str, str], words: str) -> None:
    code, out, err = result
    lines = err.strip().splitlines()
    assert (code, out) == (2, ""), err
    assert len(lines) == 1 and lines[0].startswith("cifar-tui: error:"), err
    assert words in lines[0], err


class Trained:
    """A store with tiny runs trained by `cifar-tui train`: plain, with --tta, and on
    CIFAR-format files."""

    def __init__(self, root: Path):
        self.root = root
        self.db = f"sqlite:///{root / 'runs.db'}"
        self.data = write_cifar_folder(root / "data", n_train_per_batch=40, n_test=40)
        self.plain = self.train(*TINY)
        self.tta = self.train(*TINY, "--tta", "--seed", "3")
        self.cifar = self.train(*TINY[2:], "--data-dir", str(self.data))

    def train(self, *args: str) -> int:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["--db", self.db, "train", *args, "--json"]) == 0
        return int(json.loads(out.getvalue())["run_id"])

    def detail(self, run_id: int):
        store = RunStore(self.db)
        try:
            return store.get_run(run_id)
        finally:
            store.close()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp("predict")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation is per test
        mp.setenv("CIFAR_TUI_HOME", str(root / "home"))
        mp.setenv("CIFAR_TUI_OFFLINE", "1")
        yield Trained(root)


def evaluate_json(trained: Trained, run_id: int, capsys: pytest.CaptureFixture[str],
                  *extra: str) -> dict:
    code, out, err = cli(["--db", trained.db, "evaluate", "--run", str(run_id), "--json",
                          *extra], capsys)
    assert code == 0, err
    return json.loads(out)


def save_pngs(images: torch.Tensor, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = folder / f"test-{i:03d}.png"
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize("which", ["plain", "tta", "cifar"])
def test_evaluate_last_checkpoint_reproduces_the_stored_test_results(
        trained: Trained, which: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = getattr(trained, which)
    detail = trained.detail(run_id)
    result = evaluate_json(trained, run_id, capsys, "--checkpoint", "last")
    assert result["tta"] is (which == "tta")
    assert result["confusion"] == detail.confusion
    assert result["accuracy"] == detail.test_acc
    assert result["per_class_acc"] == detail.per_class_acc
    assert result["matches_stored"] is True
    assert result["num_images"] == sum(map(sum, detail.confusion))
    correct = sum(p == y for p, y in zip(result["predictions"], result["labels"], strict=True))
    assert correct / result["num_images"] == detail.test_acc


@pytest.mark.parametrize("which", ["plain", "tta"])
def test_predict_on_png_test_images_gives_evaluates_classes(
        trained: Trained, which: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = getattr(trained, which)
    result = evaluate_json(trained, run_id, capsys)
    config = RunConfig.from_dict(trained.detail(run_id).config)
    images, _ = load_test_split(config)
    save_pngs(images[:48], tmp_path / "imgs")
    code, out, err = cli(["--db", trained.db, "predict", str(tmp_path / "imgs"), "--run",
                          str(run_id), "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)
    assert got["tta"] is (which == "tta") and got["skipped"] == 0
    assert [p["index"] for p in got["predictions"]] == result["predictions"][:48]


def test_predict_prints_one_line_per_image_with_top_k_probabilities(
        trained: Trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images, _ = load_test_split(RunConfig.from_dict(trained.detail(trained.cifar).config))
    paths = save_pngs(images[:3], tmp_path)
    code, out, _ = cli(["--db", trained.db, "predict", *map(str, paths), "--run",
                        str(trained.cifar), "--top", "2"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(map(str, paths))
    names = trained.detail(trained.cifar).class_names
    for line in lines:
        words = line.split()[1:]
        assert len(words) == 4 and words[0] in names and words[2] in names
        assert float(words[1].rstrip("%")) >= float(words[3].rstrip("%"))
    code, out, _ = cli(["--db", trained.db, "predict", str(paths[0]), "--run",
                        str(trained.cifar), "--top", "10", "--json"], capsys)
    top = json.loads(out)["predictions"][0]["top"]
    assert sorted(t["index"] for t in top) == list(range(10))
    assert sum(t["prob"] for t in top) == pytest.approx(1.0, abs=1e-5)


def test_folder_skips_non_images_with_a_count(
        trained: Trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_pngs(torch.zeros(2, 3, 32, 32, dtype=torch.uint8), tmp_path)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    code, out, err = cli(["--db", trained.db, "predict", str(tmp_path), "--run",
                          str(trained.plain)], capsys)
    assert code == 0
    assert len(out.splitlines()) == 2
    assert "skipped 1 non-image file" in err


def test_images_of_any_size_and_mode_become_32x32_rgb(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    exact = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(exact).save(tmp_path / "exact.png")
    assert np.array_equal(load_image(tmp_path / "exact.png"), exact.transpose(2, 0, 1))
    Image.fromarray(rng.integers(0, 256, (48, 80, 4), dtype=np.uint8), "RGBA").save(
        tmp_path / "wide.png")
    Image.fromarray(rng.integers(0, 256, (100, 100), dtype=np.uint8), "L").save(
        tmp_path / "grey.jpg")
    assert load_image(tmp_path / "wide.png").shape == (3, 32, 32)
    grey = load_image(tmp_path / "grey.jpg")
    assert grey.shape == (3, 32, 32) and (grey[0] == grey[1]).all() and (grey[1] == grey[2]).all()


def test_state_dict_problem_names_missing_keys_and_wrong_shapes() -> None:
    expected = {"a.weight": torch.zeros(4, 3), "b.bias": torch.zeros(4)}
    assert state_dict_problem(expected, dict(expected)) is None
    assert "1 weights missing (e.g. b.bias)" in state_dict_problem(
        expected, {"a.weight": torch.zeros(4, 3)})
    assert "a.weight has shape [8, 3], the model needs [4, 3]" in state_dict_problem(
        expected, {"a.weight": torch.zeros(8, 3), "b.bias": torch.zeros(4)})


# -- bad input: one line, exit code 2 -------------------------------------------------


def test_a_file_that_is_not_an_image_is_refused(
        trained: Trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "cat.png"
    bad.write_text("this is text")
    assert_refused(cli(["--db", trained.db, "predict", str(bad), "--run", str(trained.plain)],
                       capsys), f"{bad} is not an image PIL can read")
    assert_refused(cli(["--db", trained.db, "predict", str(tmp_path / "none.png"), "--run",
                        str(trained.plain)], capsys), "does not exist")


def test_unknown_run_is_refused(trained: Trained, capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cli(["--db", trained.db, "evaluate", "--run", "999"], capsys),
                   "no run with id 999")


def test_queued_run_has_no_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'q.db'}"
    code, _, err = cli(["--db", db, "queue", *TINY, "--no-worker"], capsys)
    assert code == 0, err
    assert_refused(cli(["--db", db, "evaluate", "--run", "1"], capsys),
                   "run 1 (queued) has no best checkpoint: train it first")


def _copy_of_run(trained: Trained, capsys: pytest.CaptureFixture[str]) -> int:
    """A fresh trained run whose files a test may damage."""
    run_id = trained.train(*TINY, "--epochs", "1")
    capsys.readouterr()
    return run_id


def test_deleted_checkpoint_is_refused(trained: Trained,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _copy_of_run(trained, capsys)
    path = Path(trained.detail(run_id).checkpoints["last"])
    path.unlink()
    assert_refused(cli(["--db", trained.db, "evaluate", "--run", str(run_id), "--checkpoint",
                        "last"], capsys), f"checkpoint {path} is missing")


def test_checkpoint_of_another_model_is_refused(trained: Trained,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _copy_of_run(trained, capsys)
    path = Path(trained.detail(run_id).checkpoints["best"])
    ckpt = torch.load(path, weights_only=True)
    from engine.models import build_model

    ckpt["state_dict"] = build_model("resnet9", 0.25).state_dict()  # same keys, wider
    torch.save(ckpt, path)
    assert_refused(cli(["--db", trained.db, "predict", str(path), "--run", str(run_id)], capsys),
                   "does not fit run")
    ckpt["state_dict"] = build_model("resnet18", 0.125).state_dict()  # other keys
    torch.save(ckpt, path)
    assert_refused(cli(["--db", trained.db, "evaluate", "--run", str(run_id)], capsys),
                   "weights missing")


def test_checkpoint_of_another_run_or_garbage_is_refused(
        trained: Trained, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _copy_of_run(trained, capsys)
    path = Path(trained.detail(run_id).checkpoints["best"])
    path.write_bytes(Path(trained.detail(trained.plain).checkpoints["best"]).read_bytes())
    assert_refused(cli(["--db", trained.db, "evaluate", "--run", str(run_id)], capsys),
                   "belongs to another store or run")
    path.write_text("not a checkpoint")
    assert_refused(cli(["--db", trained.db, "evaluate", "--run", str(run_id)], capsys),
                   "could not be read")


def test_missing_test_data_is_refused(trained: Trained, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    no_test = write_cifar_folder(tmp_path / "d", n_train_per_batch=8, with_test=False)
    assert_refused(cli(["--db", trained.db, "evaluate", "--run", str(trained.cifar),
                        "--data-dir", str(no_test)], capsys), "no test data")
    assert_refused(cli(["--db", trained.db, "evaluate", "--run", str(trained.cifar),
                        "--data-dir", str(tmp_path / "empty")], capsys), "no CIFAR-10")


def test_the_parser_does_not_import_torch() -> None:
    code = ("import sys; from cli.main import build_parser; build_parser(); "
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=True)
    assert proc.stdout.strip() == "False"
