"""The `python -m emulation` CLI: help, seeding, clear errors (no tracebacks), exit codes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import emulation.config
from emulation.__main__ import main
from emulation.source_db import SourceReader

from .conftest import API_KEY, FakeApi

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean working directory and environment: no settings; `.env` and the state dir (no terraform outputs)
    in the working directory."""
    for name in ("USER_ID", "PIPELINE_API_URL", "PIPELINE_API_KEY", "PIPELINE_DB_URL", "PIPELINE_TARGET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIPELINE_STATE_DIR", str(tmp_path / ".local"))
    monkeypatch.setattr(emulation.config, "DOTENV_FILE", tmp_path / ".env")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_help_explains_every_command() -> None:
    for command in ([], ["seed"], ["batch"], ["stream"]):
        done = subprocess.run(
            [sys.executable, "-m", "emulation", *command, "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=60,
        )
        assert done.returncode == 0 and "usage: python -m emulation" in done.stdout
    assert "--from-start" in done.stdout and "--rate" in done.stdout
    text = " ".join(done.stdout.split())  # the stream command's help, unwrapped
    assert (
        "--mode {batched,course}" in text
        and "PutRecord (/record) with {StreamName, Data, PartitionKey}" in text
    )
    assert "YYYY- MM-DD HH:MM:SS" in text or "YYYY-MM-DD HH:MM:SS" in text


def test_seed_writes_the_default_database(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed", "--rows", "150", "--seed", "3"]) == 0
    assert "pinterest_data 150" in capsys.readouterr().out
    with SourceReader("sqlite:///.local/source.db") as reader:
        assert reader.count("user_data") == 150


def test_batch_without_api_settings_says_how_to_get_them(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no PIPELINE_API_URL") and "make local-up" in err and "Traceback" not in err


def test_batch_without_a_source_database_says_make_seed(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["batch", "--api-url", "http://127.0.0.1:9", "--api-key", "k", "--no-progress"])
    assert code == 2 and "make seed" in capsys.readouterr().err


def test_unreachable_api_is_one_clear_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["seed", "--rows", "20"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(
        [
            "batch",
            "--api-url",
            f"http://127.0.0.1:{port}",
            "--api-key",
            "k",
            "--max-retries",
            "1",
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "cannot reach" in err and "make local-up" in err and "Traceback" not in err


def test_batch_end_to_end_with_env_settings(
    env: Path, fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["seed", "--rows", "60"])
    (env / ".env").write_text(f"USER_ID=testuser\nPIPELINE_API_URL={fake_api.url}\n")
    monkeypatch.setenv("PIPELINE_API_KEY", API_KEY)
    assert main(["batch", "--rows", "30", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "testuser.pin" in out and "records accepted" in out
    assert len(fake_api.values["testuser.geo"]) in (30, 31)
    assert (env / ".local" / "checkpoints" / "testuser-batch.json").exists()
    assert main(["batch", "--no-progress", "--rows", "30"]) == 0
    assert "nothing left to send" in capsys.readouterr().out


def test_ctrl_c_finishes_in_flight_requests_saves_and_exits_130(
    env: Path, fake_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["seed", "--rows", "300"])
    # A real SIGINT to this process while the second request is being served.
    fake_api.request_hook = lambda n: os.kill(os.getpid(), signal.SIGINT) if n == 1 else None
    args = [
        "batch",
        "--user-id",
        "testuser",
        "--api-url",
        fake_api.url,
        "--api-key",
        API_KEY,
        "--batch-size",
        "50",
    ]
    assert main([*args, "--workers", "1", "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "stopping: finishing the requests in flight" in err and "interrupted: progress saved" in err
    sent = sum(n for _m, _p, n in fake_api.requests)
    assert 100 <= sent < 900  # the request in flight completed; the rest was not sent
    saved = json.loads((env / ".local" / "checkpoints" / "testuser-batch.json").read_text())
    assert sum(t["rows"] for t in saved["tables"].values()) == sent
    fake_api.request_hook = None
    assert main([*args, "--no-progress"]) == 0
    assert sum(len(v) for v in fake_api.values.values()) == 900


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["batch", "--rows", "0"], "must be at least 1"),
        (["batch", "--rate", "fast"], "not a number"),
        (["batch", "--mode", "turbo"], "invalid choice"),
        (["stream", "--batch-size", "501", "--api-url", "http://x", "--api-key", "k"], "at most 500"),
    ],
)
def test_bad_arguments_are_rejected_clearly(
    env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2 and message in capsys.readouterr().err
