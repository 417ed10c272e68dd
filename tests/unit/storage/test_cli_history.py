"""The history commands, in-process through cli.main, in table and JSON form."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from support.store import cfg, completed_run

from cli.main import main
from storage import RunStore


@pytest.fixture
def db(db_path: Path) -> str:
    with RunStore(str(db_path)) as store:
        first = completed_run(store, [0.5, 0.6], max_lr=0.01)
        second = completed_run(store, [0.7, 0.88], max_lr=0.05)
        store.add_tag(second, "best")
        store.create_run(cfg(), name="waiting")
    assert (first, second) == (1, 2)
    return str(db_path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_prints_a_table_sorted_and_filtered(capsys, db: str) -> None:
    code, out, _ = run(capsys, "runs", "--db", db, "--sort", "best_val_acc",
                       "--status", "completed")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["id", "name", "status"]
    assert "88.00%" in lines[1] and lines[1].split()[0] == "2"
    assert "runs 1-2 of 2" in out and "waiting" not in out


def test_runs_json_is_a_list_of_summaries(capsys, db: str) -> None:
    code, out, _ = run(capsys, "--db", db, "runs", "--tag", "best", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["id"] for r in rows] == [2] and rows[0]["tags"] == ["best"]
    assert rows[0]["created_at"].endswith("+00:00")


def test_db_given_before_or_after_the_subcommand_both_count(capsys, db: str, monkeypatch) -> None:
    monkeypatch.setenv("CIFAR_TUI_DB", str(Path(db).with_name("empty.db")))
    assert len(json.loads(run(capsys, "--db", db, "runs", "--json")[1])) == 3
    assert len(json.loads(run(capsys, "runs", "--db", db, "--json")[1])) == 3
    assert json.loads(run(capsys, "runs", "--json")[1]) == []


def test_bad_sort_status_or_run_is_one_line_and_exit_2(capsys, db: str) -> None:
    for argv, words in ((["runs", "--sort", "nope"], "cannot sort by 'nope'"),
                        (["runs", "--status", "done"], "unknown status 'done'"),
                        (["show", "42"], "no run with id 42"),
                        (["compare", "1", "ghost"], "no run with id or name 'ghost'")):
        code, out, err = run(capsys, *argv, "--db", db)
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and words in err


def test_show_prints_config_epochs_and_per_class_results(capsys, db: str) -> None:
    code, out, _ = run(capsys, "show", "2", "--db", db)
    assert code == 0
    for text in ("run 2", "config", "max_lr", "0.05", "epochs", "88.00%", "per-class",
                 "confusion", "c9"):
        assert text in out


def test_show_json_has_config_and_epoch_rows(capsys, db: str) -> None:
    detail = json.loads(run(capsys, "show", "1", "--json", "--db", db)[1])
    assert detail["config"]["max_lr"] == 0.01
    assert [e["val_acc"] for e in detail["epoch_rows"]] == [0.5, 0.6]


def test_compare_lists_differing_params_then_metrics(capsys, db: str) -> None:
    code, out, _ = run(capsys, "compare", "1", "2", "--db", db)
    assert code == 0
    assert out.index("parameters that differ") < out.index("max_lr") < out.index("metrics")
    assert "88.00%" in out and "60.00%" in out
    data = json.loads(run(capsys, "compare", "1", "2", "--json", "--db", db)[1])
    assert data["config_diff"] == {"max_lr": [0.01, 0.05]}
    assert data["metrics"]["best_val_acc"] == [0.6, 0.88]
    assert run(capsys, "compare", "1", "--db", db)[0] == 2


def test_export_csv_and_json_load_as_flat_records(capsys, db: str, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "export", "1", "2", "--format", "csv", "--db", db)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [(r["run_id"], r["epoch"]) for r in rows] == [
        ("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]
    target = tmp_path / "all.json"
    code, _, err = run(capsys, "export", "--format", "json", "-o", str(target), "--db", db)
    records = json.loads(target.read_text())
    assert code == 0 and "wrote 5 rows (3 runs)" in err
    assert len(records) == 5 and len({tuple(r) for r in records}) == 1


def test_tag_note_and_rm_change_the_store(capsys, db: str) -> None:
    assert run(capsys, "tag", "1", "keeper", "--db", db)[0] == 0
    assert run(capsys, "note", "waiting", "check lr", "--db", db)[0] == 0
    with RunStore(db) as store:
        assert "keeper" in store.get_run(1).tags and store.get_run(3).notes == "check lr"
    code, _, err = run(capsys, "rm", "1", "--db", db)  # not a terminal: needs --yes
    assert code == 2 and "--yes" in err
    code, out, _ = run(capsys, "rm", "1", "--yes", "--db", db)
    assert code == 0 and "deleted run 1" in out
    assert run(capsys, "show", "1", "--db", db)[0] == 2


def test_newer_database_gives_one_line_error(capsys, db: str) -> None:
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE cifar_tui_version SET version_num = '0999'")
    conn.close()
    code, _, err = run(capsys, "runs", "--db", db)
    assert code == 2 and "newer cifar-tui (schema 0999)" in err and err.count("\n") == 1


def test_rm_deletes_the_runs_checkpoints_unless_asked_to_keep_them(
        capsys, db: str, tmp_path) -> None:
    folders = []
    with RunStore(db) as store:
        for run_id in (1, 2):
            folder = store.run_dir(run_id)  # this store's own folder: rm may delete it
            folder.mkdir(parents=True)
            for kind in ("best", "last"):
                (folder / f"{kind}.pt").write_bytes(b"x" * 1000)
                store.set_checkpoint(run_id, kind, str(folder / f"{kind}.pt"))
            folders.append(folder)
    code, out, _ = run(capsys, "rm", "1", "--yes", "--db", db)
    assert code == 0 and "2.0 kB of checkpoints" in out
    assert not folders[0].exists()
    code, out, _ = run(capsys, "rm", "2", "--yes", "--keep-checkpoints", "--db", db)
    assert code == 0 and "checkpoints" not in out
    assert (folders[1] / "best.pt").exists() and (folders[1] / "last.pt").exists()


def test_note_append_and_tag_remove_are_single_edits(capsys, db: str) -> None:
    assert run(capsys, "note", "2", "first try", "--db", db)[:2] == (0, "run 2: note saved\n")
    with RunStore(db) as store:  # an edit made elsewhere meanwhile
        store.set_note(2, "first try; diverged at epoch 3")
    code, out, _ = run(capsys, "note", "2", "--append", "retry at lr 0.02", "--db", db)
    assert (code, out) == (0, "run 2: note appended\n")
    code, _, err = run(capsys, "note", "2", "--append", "  ", "--db", db)
    assert code == 2 and err.count("\n") == 1 and "nothing to append" in err
    assert run(capsys, "tag", "2", "paper", "--db", db)[0] == 0
    code, out, _ = run(capsys, "tag", "2", "--remove", "best", "--db", db)
    assert (code, out) == (0, "run 2: removed tag 'best'\n")
    with RunStore(db) as store:
        detail = store.get_run(2)
    assert detail.notes == "first try; diverged at epoch 3; retry at lr 0.02"
    assert detail.tags == ("paper",) and detail.notes_version == 3
    code, _, err = run(capsys, "note", "99999999999999999999999", "x", "--db", db)
    assert code == 2 and "no run" in err and "Traceback" not in err


def test_rm_refuses_a_running_run_before_asking(capsys, db: str, monkeypatch) -> None:
    with RunStore(db) as store:
        assert store.claim_next_run("box:1:cpu", "cpu", "box").run_id == 3
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt="": asked.append(prompt) or "y")
    code, out, err = run(capsys, "rm", "3", "--db", db)
    assert code == 2 and asked == [] and out == ""
    assert "run 3 is running; cancel it first (cifar-tui cancel 3)" in err
    with RunStore(db) as store:
        assert store.get_run(3).status == "running"
