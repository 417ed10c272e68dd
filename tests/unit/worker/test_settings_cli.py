"""`cifar-tui settings` and `cifar-tui notify-test`, run in-process against a local server."""

from __future__ import annotations

import pytest
from support.webhook import local_webhook, refused_url

from cli.main import main
from engine import settings as st


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_settings_show_set_and_round_trip(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "settings")
    assert code == 0 and "bell         on" in out and "(none)" in out
    code, out, _ = run(capsys, "settings", "--bell", "off",
                       "--webhook-url", "https://ntfy.sh/mytopic")
    assert code == 0 and "saved now" in out
    assert st.load_file() == st.Settings(bell=False, webhook_url="https://ntfy.sh/mytopic")
    code, out, _ = run(capsys, "settings")
    assert "bell         off" in out and "https://ntfy.sh/mytopic" in out
    code, _, _ = run(capsys, "settings", "--bell", "on", "--no-webhook")
    assert code == 0 and st.load_file() == st.Settings()


def test_a_bad_webhook_scheme_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "settings", "--webhook-url", "ftp://example.com/x")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "http:// or https://" in err and st.load_file() == st.Settings()


def test_notify_test_posts_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with local_webhook() as hook:
        st.save(st.Settings(webhook_url=hook.url))
        code, out, err = run(capsys, "notify-test")
    assert code == 0 and err == ""
    assert out.strip().splitlines() == [f"webhook {hook.url} answered HTTP 200: it works"]
    assert len(hook.received) == 1 and "Test from cifar-tui" in hook.received[0].body


def test_notify_test_without_a_url_names_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "notify-test")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "cifar-tui settings --webhook-url" in err


def test_notify_test_refused_is_one_line_exit_1(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(st.WEBHOOK_ENV, refused_url())
    code, out, err = run(capsys, "notify-test")
    assert code == 1 and out == "" and err.strip().endswith("failed: connection refused")
    assert len(err.strip().splitlines()) == 1
