"""Telling a run's end: the settings file, the webhook POST and the recorder's announce."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from support.store import cfg, finished
from support.webhook import local_webhook, refused_url

from engine import settings as st
from engine.events import RunFailed
from storage import RunStore
from worker.notify import announce_end, end_message, post_webhook
from worker.recorder import StoreRecorder


def test_webhook_posts_plain_text_with_a_title_header() -> None:
    with local_webhook() as hook:
        result = post_webhook(hook.url, "cifar-tui: run #4 completed",
                              "Run #4 resnet9-0004 completed: 93.1% val")
    assert result.ok and result.detail == "HTTP 200"
    [got] = hook.received
    assert got.path == "/mytopic"
    assert got.body == "Run #4 resnet9-0004 completed: 93.1% val"
    assert got.headers["Title"] == "cifar-tui: run #4 completed"
    assert got.headers["Content-Type"].startswith("text/plain")


def test_webhook_survives_a_refused_connection() -> None:
    result = post_webhook(refused_url(), "t", "b")
    assert not result.ok and result.detail == "connection refused"


def test_webhook_survives_a_timeout() -> None:
    with local_webhook(delay_s=1.5) as hook:
        began = time.monotonic()
        result = post_webhook(hook.url, "t", "b", timeout=0.3)
        assert time.monotonic() - began < 1.4
    assert not result.ok and "no answer within 0.3 s" in result.detail


def test_a_name_in_another_script_does_not_break_the_title() -> None:
    with local_webhook() as hook:
        assert post_webhook(hook.url, "run #1 ✓ 実験", "実験 done").ok
    assert hook.received[0].body == "実験 done"


def test_end_messages_read_as_one_line() -> None:
    assert end_message(4, "resnet9-0004", "completed", 0.9312) == \
        "Run #4 resnet9-0004 completed: 93.1% val"
    assert end_message(5, "x", "failed", error="CUDA out of memory\nTraceback ...") == \
        "Run #5 failed: CUDA out of memory"


def test_a_failed_webhook_is_one_log_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(st.WEBHOOK_ENV, refused_url())
    lines: list[str] = []
    announce_end(7, "r", "completed", 0.5, None, lines.append)
    assert len(lines) == 1 and "run 7: webhook" in lines[0] and "connection refused" in lines[0]


def test_recorder_announces_completion_and_failure_once_each(store: RunStore) -> None:
    with local_webhook() as hook:
        st.save(st.Settings(webhook_url=hook.url))
        done = store.create_run(cfg(), name="good-one")
        store.claim_next_run("w")
        rec = StoreRecorder(store, done, announce=print)
        rec.handle(dataclasses.replace(finished(), final_val_acc=0.931))
        rec.handle(RunFailed(reason="late", traceback=""))  # after the end: nothing more
        bad = store.create_run(cfg())
        store.claim_next_run("w")
        StoreRecorder(store, bad, announce=print).handle(RunFailed(reason="boom", traceback="tb"))
        quiet = store.create_run(cfg())
        store.claim_next_run("w")
        StoreRecorder(store, quiet).handle(finished())  # no announce: no post (tests, tools)
    assert [r.body for r in hook.received] == [
        f"Run #{done} good-one completed: 93.1% val", f"Run #{bad} failed: boom"]
    assert hook.received[1].headers["Title"] == f"cifar-tui: run #{bad} failed"


def test_settings_round_trip_and_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    assert st.load() == st.Settings(bell=True, webhook_url=None)
    path = st.save(st.Settings(bell=False, webhook_url="https://ntfy.sh/mytopic"))
    assert path == st.settings_path() and st.load().webhook_url == "https://ntfy.sh/mytopic"
    monkeypatch.setenv(st.WEBHOOK_ENV, "")
    assert st.load().webhook_url is None and st.load_file().webhook_url is not None
    st.save(st.Settings())
    monkeypatch.setenv(st.BELL_ENV, "0")
    assert st.load().bell is False and st.load_file().bell is True


def test_a_broken_settings_file_is_one_line_naming_it(tmp_path: Path) -> None:
    st.settings_path().parent.mkdir(parents=True, exist_ok=True)
    st.settings_path().write_text("{not json")
    with pytest.raises(st.SettingsError, match="fix or delete the file"):
        st.load()
    lines: list[str] = []
    announce_end(1, "r", "failed", None, "x", lines.append)  # the run is not harmed
    assert len(lines) == 1 and "webhook not sent" in lines[0]


@pytest.mark.parametrize("url", ["ftp://x/y", "ntfy.sh/mytopic", "https://"])
def test_a_webhook_must_be_http_with_a_host(url: str) -> None:
    assert st.webhook_problem(url) is not None
    assert st.webhook_problem("https://ntfy.sh/mytopic") is None
