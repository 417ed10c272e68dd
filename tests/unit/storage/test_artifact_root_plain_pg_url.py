"""A plain postgresql:// URL (no +driver) opens a shared store out of the box, and its
password never reaches what the CLI prints, the worker status or an error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.e2e import cli
from support.store import PG_URL, empty_postgres

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="no PostgreSQL offered (set CIFAR_TUI_TEST_PG_URL; .ci/run starts one)")


def plain(url: str) -> str:
    """The URL as a user types it: postgresql://user:password@host/db."""
    return "postgresql://" + url.split("://", 1)[1]


def password_of(url: str) -> str:
    return url.split("://", 1)[1].split("@")[0].split(":", 1)[1]


def test_a_plain_postgres_url_opens_the_store_and_never_shows_its_password(
        tmp_path: Path) -> None:
    assert PG_URL is not None
    empty_postgres(PG_URL)
    url, secret = plain(PG_URL), password_of(PG_URL)
    shared = tmp_path / "shared"
    out = cli("store", "--db", url, "--artifact-root", str(shared)).stdout
    assert "store          postgresql://" in out and ":***@" in out
    assert f"artifact root  {shared.resolve()}  (set now)" in out
    shown = json.loads(cli("store", "--db", url, "--json").stdout)
    assert shown["artifact_root"] == str(shared.resolve()) and ":***@" in shown["url"]
    queued = cli("queue", "--db", url, "--no-worker", "--dataset", "synthetic").stdout
    assert queued.startswith("queued run 1")
    for text in (out, json.dumps(shown), queued):
        assert f":{secret}@" not in text


def test_a_wrong_password_is_one_line_without_the_password(tmp_path: Path) -> None:
    assert PG_URL is not None
    wrong = plain(PG_URL).replace(f":{password_of(PG_URL)}@", ":not-the-Secret-42@")
    proc = cli("store", "--db", wrong, check=False)
    assert proc.returncode == 2
    assert "not-the-Secret-42" not in proc.stdout + proc.stderr
    assert proc.stderr.startswith("cifar-tui: error: ") and ":***@" in proc.stderr
