"""`cifar-tui serve` refusals and hints, without serving: a non-local --host needs the
no-auth flag, a port in use, a missing serve extra and a bad --db are each one line with
exit code 2; the ssh tunnel names this machine and user as a laptop would type them."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import serve
from cli.main import main


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cifar-tui: error: "), err
    return err


def test_a_non_local_host_is_refused_without_the_no_auth_flag(tmp_path: Path, capsys) -> None:
    code = main(["serve", "--db", str(tmp_path / "runs.db"), "--host", "0.0.0.0"])
    assert code == 2
    err = one_line_error(capsys)
    assert "--i-know-there-is-no-auth" in err and "no login" in err
    assert not (tmp_path / "runs.db").exists()  # refused before anything was opened


def test_the_no_auth_flag_lets_a_non_local_host_through_to_the_port_check(
        tmp_path: Path, capsys) -> None:
    with socket.socket() as sock:  # 0.0.0.0 taken: the host check passed, the bind did not
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        port = sock.getsockname()[1]
        code = main(["serve", "--db", str(tmp_path / "runs.db"), "--host", "0.0.0.0",
                     "--port", str(port), "--i-know-there-is-no-auth"])
    assert code == 2
    assert f"port {port} on 0.0.0.0 is in use" in one_line_error(capsys)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_hosts_need_no_flag(host: str) -> None:
    serve.check_host(host, no_auth_ok=False)  # raises CliError otherwise


def test_a_port_in_use_is_one_line(tmp_path: Path, busy_port: int, capsys) -> None:
    code = main(["serve", "--db", str(tmp_path / "runs.db"), "--port", str(busy_port)])
    assert code == 2
    err = one_line_error(capsys)
    assert f"port {busy_port} on 127.0.0.1 is in use" in err and "--port" in err


def test_a_missing_serve_extra_names_it(tmp_path: Path, monkeypatch, capsys) -> None:
    # None in sys.modules makes `import textual_serve.server` raise ImportError, as when
    # the package is not installed.
    monkeypatch.setitem(sys.modules, "textual_serve", None)
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    assert main(["serve", "--db", str(tmp_path / "runs.db")]) == 2
    err = one_line_error(capsys)
    assert "pip install 'cifar-tui[serve]'" in err and "textual-serve" in err


def test_a_bad_store_is_named_before_serving(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "no-such-folder" / "runs.db"
    assert main(["serve", "--db", str(missing)]) == 2
    assert "no-such-folder" in one_line_error(capsys)


def test_a_port_out_of_range_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--port", "70000"])
    assert exit_.value.code == 2
    assert "--port: expected a whole number from 1 to 65535, got 70000" in capsys.readouterr().err


def test_ssh_hint_names_the_port_user_and_host() -> None:
    assert (serve.ssh_hint(8123, user="ana", host="gpu01.lab.example")
            == "ssh -L 8123:localhost:8123 ana@gpu01.lab.example")
    assert serve.ssh_hint(9000, user="", host="gpu01") == "ssh -L 9000:localhost:9000 gpu01"


def test_this_host_skips_names_a_laptop_cannot_use(monkeypatch) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda: "gpu01.lab.example")
    monkeypatch.setattr(socket, "gethostname", lambda: "gpu01")
    assert serve.this_host() == "gpu01.lab.example"
    monkeypatch.setattr(socket, "getfqdn", lambda: "localhost")
    assert serve.this_host() == "gpu01"
    monkeypatch.setattr(socket, "gethostname", lambda: "localhost.localdomain")
    assert serve.this_host() == "<this-host>"


def test_startup_lines_print_the_tunnel_for_localhost_and_warn_otherwise(monkeypatch) -> None:
    monkeypatch.setattr(serve, "current_user", lambda: "ana")
    monkeypatch.setattr(serve, "this_host", lambda: "gpu01.lab.example")
    local = serve.startup_lines("127.0.0.1", 8000, "/data/runs.db")
    assert "http://127.0.0.1:8000" in local[0] and "/data/runs.db" in local[0]
    assert local[-1].strip() == "ssh -L 8000:localhost:8000 ana@gpu01.lab.example"
    everywhere = serve.startup_lines("0.0.0.0", 8000, "/data/runs.db")
    assert "http://gpu01.lab.example:8000" in everywhere[0]
    assert not any("ssh -L" in line for line in everywhere)
    assert any("no login" in line for line in everywhere[1:])


def test_each_session_runs_this_python_on_the_store_from_the_environment() -> None:
    command = serve.session_command()
    assert command.startswith(sys.executable) and command.endswith("-m cli.serve")
    assert "--db" not in command  # the store (and any password) travels in $CIFAR_TUI_DB
