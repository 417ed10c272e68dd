"""`cifar-tui sweep`, `sweeps` and `queue` with lists, through cli.main on a SQLite file:
what is printed, the exit code, and what lands in the store."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from support.store import epoch, finished

from cli.main import main
from engine.config import validate_field
from engine.sweep_spec import SweepSpec
from storage import RunStore
from worker.sweeps import top_up

Cli = tuple[int, str, str]
SYN = ["--dataset", "synthetic", "--no-worker"]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "runs.db")


@pytest.fixture
def cli(db: str, capsys: pytest.CaptureFixture[str]):
    """Run `cifar-tui COMMAND --db DB ARGS...` in this process: (exit code, stdout, stderr)."""
    def run(*argv: str) -> Cli:
        try:
            code = main([argv[0], "--db", db, *argv[1:]])
        except SystemExit as exc:  # argparse exits by itself
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err
    return run


def stored(db: str) -> tuple[list, list]:
    """(sweeps, runs with their configs) in the store."""
    store = RunStore(db)
    try:
        return store.list_sweeps(), [store.get_run(r.id) for r in store.list_runs(limit=500)]
    finally:
        store.close()


def one_line_refusal(result: Cli, words: str) -> None:
    code, out, err = result
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cifar-tui: error:"), err
    assert words in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("args", [["--max-lr", "0.01,0.02"], ["--optimizer", "adam,sgd"],
                                  ["--epochs", "2:8"]], ids=["list", "choice-list", "range"])
def test_train_refuses_lists_and_ranges_naming_queue_and_sweep(cli, args: list[str]) -> None:
    one_line_refusal(cli("train", "--dataset", "synthetic", "--no-store", *args),
                     "train trains one config; use `cifar-tui queue`")


def test_queue_with_a_range_says_to_use_sweep_and_queues_nothing(cli, db: str) -> None:
    one_line_refusal(cli("queue", *SYN, "--max-lr", "1e-3:1e-1:log"),
                     "ranges need `cifar-tui sweep --method random|tpe")
    assert stored(db) == ([], [])


def test_queue_with_one_value_each_queues_one_run_and_no_sweep(cli, db: str) -> None:
    code, out, _ = cli("queue", *SYN, "--max-lr", "0.02", "--name", "solo")
    assert code == 0 and out.startswith("queued run 1")
    sweeps, runs = stored(db)
    assert sweeps == [] and [(r.name, r.config["max_lr"]) for r in runs] == [("solo", 0.02)]


def test_queue_with_lists_queues_a_grid_sweep_of_every_point(cli, db: str) -> None:
    code, out, err = cli("queue", *SYN, "--max-lr", "0.005,0.01,0.02", "--optimizer", "adam,sgd",
                         "--epochs", "3", "--name", "grid")
    assert code == 0, err
    assert "this sweep makes 6 run(s)" in out and "queued runs 1-6" in out
    [sweep], runs = stored(db)
    assert (sweep.method, sweep.name, sweep.n_trials) == ("grid", "grid", 6)
    assert sorted((r.config["max_lr"], r.config["optimizer"]) for r in runs) == sorted(
        (lr, opt) for lr in (0.005, 0.01, 0.02) for opt in ("adam", "sgd"))
    assert {r.config["epochs"] for r in runs} == {3}


def test_queue_repeat_runs_the_config_with_seeds_0_to_k_minus_1(cli, db: str) -> None:
    code, out, _ = cli("queue", *SYN, "--repeat", "3")
    assert code == 0 and "x 3 seeds" in out
    [sweep], runs = stored(db)
    assert sweep.repeat == 3 and sorted(r.config["seed"] for r in runs) == [0, 1, 2]


@pytest.mark.parametrize(("args", "augment"), [
    (["--augment"], True), (["--no-augment"], False), (["--augment", "false"], False),
    (["--no-augment", "--augment"], True)], ids=["bare", "no", "false", "last-wins"])
def test_queue_takes_an_on_off_flag_as_train_does(cli, db: str, args, augment: bool) -> None:
    code, out, err = cli("queue", *SYN, *args)
    assert code == 0 and out.startswith("queued run 1"), err
    assert stored(db)[0] == [] and stored(db)[1][0].config["augment"] is augment


def test_queue_with_both_values_of_on_off_flags_queues_their_grid(cli, db: str) -> None:
    code, out, err = cli("queue", *SYN, "--augment", "true,false", "--tta", "false,true")
    assert code == 0 and "this sweep makes 4 run(s)" in out, err
    [sweep], runs = stored(db)
    assert sorted((r.config["augment"], r.config["tta"]) for r in runs) == [
        (False, False), (False, True), (True, False), (True, True)]


@pytest.mark.parametrize(("value", "words"), [
    ("maybe", "--augment must be yes or no"),
    ("true,false,true", "--augment lists true twice")])
def test_a_bad_on_off_value_is_one_line_exit_2(cli, db: str, value: str, words: str) -> None:
    one_line_refusal(cli("queue", *SYN, "--augment", value), words)
    assert stored(db) == ([], [])


BAD_FILE = {"unknown-param.yaml": "parameters:\n  lr: {values: [0.1, 0.2]}\n",
            "invalid.yaml": "method: grid\nparameters: [unclosed\n"}


@pytest.mark.parametrize(("args", "words"), [
    (["--max-lr", "1e-1:1e-3:log", "--method", "tpe", "--trials", "4"],
     "bounds reversed; write --max-lr 1e-3:1e-1:log"),
    (["--optimizer", "adam:sgd", "--method", "random", "--trials", "4"],
     "--optimizer is a choice, not a number"),
    (["--max-lr", "0:1:log", "--method", "tpe", "--trials", "4"], "needs a low end > 0"),
    (["--max-lr", "0.1,0.2", "--method", "hyperband"], "unknown method 'hyperband'"),
    (["--max-lr", "1e-3:1e-1", "--method", "tpe", "--trials", "0"], "--trials must be"),
    (["--max-lr", "1e-3:1e-1", "--method", "grid"], "a grid cannot cover"),
    (["--max-lr", "0.1,0.2", "--prune", "--repeat", "2"], "--prune judges one run per trial"),
    (["--seed", "1,2", "--repeat", "2"], "--repeat 2 sets the seeds itself"),
    (["--epochs", "2,20000"], validate_field("epochs", 20000)),
    (["--file", "unknown-param.yaml"], "unknown parameter 'lr'"),
    (["--file", "invalid.yaml"], "is not valid YAML at line 3"),
    (["--file", "missing.yaml"], "missing.yaml does not exist"),
    (["--file", "."], "cannot read sweep file ."),
], ids=["reversed", "range-on-choice", "log-low-0", "method", "zero-trials", "grid-range",
        "prune-repeat", "repeat-seed-list", "out-of-bounds", "unknown-param", "invalid-yaml",
        "missing-file", "unreadable-file"])
def test_a_bad_sweep_is_one_line_exit_2_and_queues_nothing(
        cli, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args, words) -> None:
    for name, text in BAD_FILE.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    one_line_refusal(cli("sweep", *SYN, *args), words)
    assert stored(db) == ([], [])


SWEEP_YAML = """\
method: tpe
run_cap: 8
metric: {name: val_loss, goal: minimize}
parameters:
  max-lr: {min: 1e-3, max: 0.1, distribution: log_uniform_values}
  optimizer: {values: [adam, sgd]}
  epochs: {min: 2, max: 6}
  dataset: {value: synthetic}
"""


def test_a_file_and_the_inline_flags_give_the_same_sweep(cli, db: str, tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP_YAML)
    assert cli("sweep", "--no-worker", "--file", str(path))[0] == 0
    code, _, err = cli("sweep", *SYN, "--max-lr", "1e-3:1e-1:log", "--optimizer", "adam,sgd",
                       "--epochs", "2:6", "--method", "tpe", "--trials", "8",
                       "--metric", "val_loss")
    assert code == 0, err
    second, first = stored(db)[0]  # newest first
    assert SweepSpec.from_dict(first.spec) == SweepSpec.from_dict(second.spec)
    assert (first.method, first.goal, first.n_trials) == ("tpe", "min", 8)


def test_flags_override_and_extend_the_file(cli, db: str, tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP_YAML)
    code, _, err = cli("sweep", "--no-worker", "--file", str(path), "--trials", "3",
                       "--epochs", "4", "--weight-decay", "0,1e-4")
    assert code == 0, err
    [sweep], _ = stored(db)
    spec = SweepSpec.from_dict(sweep.spec)
    assert (spec.trials, spec.fixed["epochs"], spec.values["weight_decay"]) == (3, 4, (0.0, 1e-4))
    assert "epochs" not in spec.ranges and "max_lr" in spec.ranges


def test_more_than_100_runs_needs_yes_without_a_terminal(cli, db: str) -> None:
    tpe = [*SYN, "--max-lr", "1e-3:1e-1:log", "--method", "tpe", "--trials", "101"]
    one_line_refusal(cli("sweep", *tpe), "makes 101 runs, more than 100; pass --yes")
    assert stored(db) == ([], [])
    code, out, _ = cli("sweep", *tpe, "--yes")
    assert code == 0 and "this sweep makes 101 run(s)" in out
    assert [s.n_trials for s in stored(db)[0]] == [101]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "queued"), [("n\n", 0), ("y\n", 1)])
def test_on_a_terminal_a_big_sweep_asks_first(
        cli, db: str, monkeypatch: pytest.MonkeyPatch, answer: str, queued: int) -> None:
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    code, out, _ = cli("sweep", *SYN, "--max-lr", "1e-3:1e-1", "--method", "random",
                       "--trials", "40", "--repeat", "3")
    assert code == (0 if queued else 1)
    assert "this sweep makes 120 run(s): 40 random trial(s) x 3 seeds" in out
    assert len(stored(db)[0]) == queued


def finish_runs(db: str, val_acc_of: dict[float, float]) -> None:
    """Train every queued run by hand: claim it, one epoch at its val acc, finish."""
    store = RunStore(db)
    try:
        while (claimed := store.claim_next_run("test-worker")) is not None:
            run = store.get_run(claimed.run_id)
            store.record_epoch(claimed.run_id, epoch(1, val_acc_of[run.config["max_lr"]]))
            store.finish_run(claimed.run_id, finished(best=val_acc_of[run.config["max_lr"]]))
    finally:
        store.close()


def test_sweep_show_lists_trials_best_first_and_calls_out_the_best(cli, db: str) -> None:
    accs = {0.005: 0.61, 0.01: 0.83, 0.02: 0.72}
    assert cli("queue", *SYN, "--max-lr", ",".join(map(str, accs)))[0] == 0
    finish_runs(db, accs)
    code, out, err = cli("sweep", "show", "1")
    assert code == 0, err
    assert "best: trial 1, val_acc 0.83" in out and "max_lr=0.01" in out
    rows = [line for line in out.splitlines() if line.split()[1:2] == ["complete"]]
    assert [float(line.split()[2]) for line in rows] == [0.83, 0.72, 0.61]
    assert "*" in rows[0] and "*" not in rows[1]
    code, out, _ = cli("sweep", "show", "1", "--json")
    shown = json.loads(out)
    assert shown["best"]["params"] == {"max_lr": 0.01}
    assert shown["sweep"]["status"] == "completed"


def test_sweep_show_gives_a_pruned_trial_s_value_with_the_epoch_it_was_scored_at(
        cli, db: str) -> None:
    from storage.studies import report
    from worker.sweeps import settle, study_of

    assert cli("sweep", *SYN, "--max-lr", "0.01,0.02", "--prune")[0] == 0
    store = RunStore(db)
    try:
        first = store.claim_next_run("test-worker").run_id
        store.record_epoch(first, epoch(1, 0.8))
        store.finish_run(first, finished(best=0.8))
        pruned = store.claim_next_run("test-worker").run_id
        record, number = store.sweep_of_run(pruned)
        for e, acc in ((1, 0.3), (2, 0.25)):  # as the worker reports each epoch
            store.record_epoch(pruned, epoch(e, acc))
            report(study_of(store, record), number, acc, e)
        store.mark_pruned(pruned)
        settle(store, log=lambda _line: None)
    finally:
        store.close()
    code, out, err = cli("sweep", "show", "1")
    assert code == 0, err
    [row] = [line.split() for line in out.splitlines() if line.split()[1:2] == ["pruned"]]
    assert row[2:4] == ["0.25@e2", str(pruned)]
    assert "best: trial 0, val_acc 0.8 " in out  # a pruned trial is never the best
    shown = json.loads(cli("sweep", "show", "1", "--json")[1])
    assert [(t["state"], t["pruned_at"]) for t in shown["trials"]] == [
        ("complete", None), ("pruned", 2)]


def test_sweep_show_gives_a_tpe_sweep_s_parameter_importances(cli, db: str) -> None:
    from worker.sweeps import settle

    assert cli("sweep", *SYN, "--max-lr", "1e-3:1e-1:log", "--optimizer", "adam,sgd",
               "--method", "tpe", "--trials", "3")[0] == 0
    store = RunStore(db)
    try:
        for _ in range(3):  # as a worker does: ask a trial, train its run, tell the study
            [run_id] = top_up(store, log=lambda _line: None)
            assert store.claim_next_run("test-worker").run_id == run_id
            acc = 0.5 + store.get_run(run_id).config["max_lr"]
            store.record_epoch(run_id, epoch(1, acc))
            store.finish_run(run_id, finished(best=acc))
            settle(store, log=lambda _line: None)
    finally:
        store.close()
    code, out, _ = cli("sweep", "show", "1")
    assert code == 0 and "tpe, max val_acc, completed" in out
    [line] = [line for line in out.splitlines() if line.startswith("importance: ")]
    assert {part.split()[0] for part in line.removeprefix("importance: ").split(", ")} == {
        "max_lr", "optimizer"}
    assert set(json.loads(cli("sweep", "show", "1", "--json")[1])["importances"]) == {
        "max_lr", "optimizer"}


def test_retries_reach_every_run_of_a_sweep_as_they_reach_a_queued_run(cli, db: str) -> None:
    assert cli("queue", *SYN, "--max-lr", "0.01,0.02", "--retries", "3")[0] == 0
    assert cli("queue", *SYN, "--max-lr", "0.01,0.02")[0] == 0  # queue's default
    from storage.leases import DEFAULT_RETRIES

    assert SweepSpec().retries == DEFAULT_RETRIES == 1  # the form's sweeps get it too
    assert cli("sweep", *SYN, "--max-lr", "1e-3:1e-2", "--method", "random", "--trials", "1",
               "--retries", "0")[0] == 0
    store = RunStore(db)
    try:
        assert [store.get_run(r.run_id).max_retries for r in store.sweep_runs(1)] == [3, 3]
        assert [store.get_run(r.run_id).max_retries for r in store.sweep_runs(2)] == [1, 1]
        [run_id] = top_up(store, log=lambda _line: None)  # the random sweep's first trial
        assert store.get_run(run_id).max_retries == 0
    finally:
        store.close()


def test_sweep_cancel_cancels_its_queued_runs_and_sweeps_lists_it(cli, db: str) -> None:
    assert cli("queue", *SYN, "--max-lr", "0.01,0.02", "--name", "to-stop")[0] == 0
    code, out, _ = cli("sweep", "cancel", "1")
    assert code == 0 and "cancelled" in out
    [sweep], runs = stored(db)
    assert sweep.status == "cancelled" and {r.status for r in runs} == {"cancelled"}
    code, out, _ = cli("sweeps")
    assert code == 0
    [row] = [line for line in out.splitlines() if "to-stop" in line]
    assert "grid" in row and "cancelled" in row
    assert json.loads(cli("sweeps", "--json")[1])[0]["name"] == "to-stop"


@pytest.mark.parametrize(("argv", "words"), [
    (["sweep", "show", "7"], "no sweep 7"),
    (["sweep", "show"], "sweep show needs a sweep id"),
    (["sweep", "cancel", "x"], "a sweep id is a number"),
    (["sweep", "stop", "1"], "unknown sweep action 'stop'"),
    (["sweep", "show", "1", "--max-lr", "0.1,0.2"], "takes a sweep id only, not --max-lr"),
    (["sweep", "--dataset", "synthetic", "--max-lr", "0.1"], "this sweep is one run"),
], ids=["missing", "no-id", "not-a-number", "unknown-action", "show-with-flags", "one-run"])
def test_show_and_cancel_refuse_a_bad_id_in_one_line(cli, argv: list[str], words: str) -> None:
    one_line_refusal(cli(*argv), words)
