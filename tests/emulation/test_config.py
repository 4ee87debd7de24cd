"""Configuration precedence: flags > environment > .env > terraform outputs > defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from emulation.config import (
    REPO_ROOT,
    ConfigError,
    default_state_dir,
    load_config,
    read_dotenv,
    resolve_user_id,
    terraform_outputs,
)
from local_stack.config import StackConfig
from local_stack.config import resolve_user_id as stack_user_id


def _outputs(values: dict[str, Any]) -> Any:
    calls: list[str] = []

    def outputs(target: str) -> dict[str, Any]:
        calls.append(target)
        return values

    outputs.calls = calls  # type: ignore[attr-defined]
    return outputs


TF = {
    "invoke_url": "http://tf/stage/",
    "api_key": "tf-key",
    "topics": {"pin": "tfuser.pin", "geo": "tfuser.geo"},
}


def test_terraform_outputs_fill_what_nothing_else_sets(tmp_path: Path) -> None:
    outputs = _outputs(TF)
    config = load_config(environ={}, dotenv_path=tmp_path / "none", outputs=outputs)
    assert (config.api_url, config.api_key, config.user_id) == ("http://tf/stage", "tf-key", "tfuser")
    assert config.db_url == "sqlite:///.local/source.db" and config.target == "local"
    assert config.sources == {
        "api_url": "terraform",
        "api_key": "terraform",
        "user_id": "terraform",
        "db_url": "default",
        "target": "default",
    }
    assert outputs.calls == ["local"]


def test_flags_beat_environment_beat_dotenv_beat_terraform(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "USER_ID=dotenvuser\nPIPELINE_API_URL=http://dotenv\nPIPELINE_API_KEY=dotenv-key\nPIPELINE_DB_URL=sqlite:///d.db\n"
    )
    env = {"PIPELINE_API_URL": "http://env", "PIPELINE_API_KEY": "env-key"}
    config = load_config(api_url="http://flag", environ=env, dotenv_path=dotenv, outputs=_outputs(TF))
    assert config.api_url == "http://flag"
    assert config.api_key == "env-key"
    assert config.user_id == "dotenvuser" and config.db_url == "sqlite:///d.db"
    assert config.sources["api_url"] == "flag" and config.sources["api_key"] == "env"
    assert config.sources["user_id"] == ".env"


def test_terraform_is_not_asked_when_everything_is_set(tmp_path: Path) -> None:
    outputs = _outputs(TF)
    env = {
        "USER_ID": "u",
        "PIPELINE_API_URL": "http://env",
        "PIPELINE_API_KEY": "s3cr3t-value",
        "PIPELINE_TARGET": "aws",
    }
    config = load_config(environ=env, dotenv_path=tmp_path / "none", outputs=outputs)
    assert config.target == "aws" and outputs.calls == []
    assert config.api_key == "s3cr3t-value" and "s3cr3t" not in repr(config)  # never in logs


def test_unknown_target_and_missing_api_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown target 'gcp'"):
        load_config(target="gcp", environ={}, dotenv_path=tmp_path / "none", outputs=_outputs({}))
    config = load_config(environ={}, dotenv_path=tmp_path / "none", outputs=_outputs({}))
    with pytest.raises(ConfigError, match=r"PIPELINE_API_URL and no PIPELINE_API_KEY.*make local-up"):
        config.require_api()
    aws = load_config(
        target="aws", api_url="http://x", environ={}, dotenv_path=tmp_path / "n", outputs=_outputs({})
    )
    with pytest.raises(ConfigError, match=r"no PIPELINE_API_KEY.*make apply"):
        aws.require_api()


def test_aws_outputs_file_and_terraform_json_shape(tmp_path: Path) -> None:
    saved = tmp_path / ".local" / "outputs" / "aws.json"
    saved.parent.mkdir(parents=True)
    saved.write_text(
        json.dumps(
            {
                "invoke_url": {"sensitive": False, "type": "string", "value": "https://abc.execute-api/prod"},
                "api_key": {"sensitive": True, "type": "string", "value": "aws-key"},
                "topics": {"sensitive": False, "value": ["0a1b.pin", "0a1b.geo", "0a1b.user"]},
            }
        )
    )
    values = terraform_outputs("aws", state_dir=tmp_path / ".local", root=tmp_path)
    assert values["invoke_url"] == "https://abc.execute-api/prod" and values["api_key"] == "aws-key"
    config = load_config(
        target="aws", environ={}, dotenv_path=tmp_path / "n", state_dir=tmp_path / ".local", outputs=None
    )
    assert (config.api_url, config.api_key, config.user_id) == (
        "https://abc.execute-api/prod",
        "aws-key",
        "0a1b",
    )
    # No terraform state and no saved outputs for local: nothing found, no error.
    assert terraform_outputs("local", state_dir=tmp_path / ".local", root=tmp_path) == {}


def test_env_example_documents_every_setting_and_holds_no_secret() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    values = load_config(environ={}, dotenv_path=example, outputs=_outputs({}))
    text = example.read_text()
    for name in ("USER_ID", "PIPELINE_API_URL", "PIPELINE_API_KEY", "PIPELINE_DB_URL", "PIPELINE_TARGET"):
        assert f"\n{name}=" in text
    assert values.api_key is None and values.api_url is None  # placeholders only


def test_the_stack_state_dir_is_where_the_outputs_checkpoints_and_dead_letters_are(tmp_path: Path) -> None:
    """Issue 11 item 10: `PIPELINE_STATE_DIR` moves the stack's outputs, and the emulator reads them there."""
    state = tmp_path / "elsewhere"
    env = {"PIPELINE_STATE_DIR": str(state)}
    stack = StackConfig.from_env(env=env)
    assert stack.state_dir == default_state_dir(env) == state
    stack.outputs_file.parent.mkdir(parents=True)
    stack.outputs_file.write_text(
        json.dumps({"invoke_url": "http://stack/dev", "api_key": "k", "user_id": "su"})
    )
    config = load_config(environ=env, dotenv_path=tmp_path / "none")
    assert (config.api_url, config.api_key, config.user_id) == ("http://stack/dev", "k", "su")
    assert config.state_dir == state and config.sources["api_url"] == "terraform"
    assert default_state_dir({}) == REPO_ROOT / ".local" == StackConfig.from_env(env={}).state_dir
    relative = default_state_dir({"PIPELINE_STATE_DIR": "rel/state"})
    assert relative.is_absolute() and relative == Path.cwd() / "rel" / "state"


def test_one_dotenv_reader_for_the_emulator_the_stack_and_make(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# mine\nexport USER_ID='jane.doe'  # a comment\nPIPELINE_API_URL=\nQUOTED=\"a b\"\n")
    assert read_dotenv(dotenv) == {"USER_ID": "jane.doe", "QUOTED": "a b"}  # empty means unset
    assert read_dotenv(tmp_path / "absent") == {}
    assert resolve_user_id({}, dotenv) == "jane.doe" == stack_user_id({}, dotenv)
    assert resolve_user_id({"USER_ID": "env"}, dotenv) == "env"
    assert resolve_user_id({}, tmp_path / "absent") == "demo"
    assert load_config(environ={}, dotenv_path=dotenv, outputs=lambda _t: {}).user_id == "jane.doe"


def test_make_asks_python_for_the_default_user_id(tmp_path: Path) -> None:
    """The Makefile's `USER_ID ?=` line runs `python -m emulation.config user-id`: env, then .env, else demo."""
    line = next(x for x in (REPO_ROOT / "Makefile").read_text().splitlines() if x.startswith("USER_ID ?="))
    assert "-m emulation.config user-id" in line
    env = {k: v for k, v in os.environ.items() if k != "USER_ID"} | {"PYTHONPATH": str(REPO_ROOT)}
    run = [sys.executable, "-m", "emulation.config", "user-id"]
    done = subprocess.run(run, capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == resolve_user_id(env)
    done = subprocess.run(
        run, capture_output=True, text=True, cwd=tmp_path, env={**env, "USER_ID": "x.y"}, timeout=30
    )
    assert done.stdout.strip() == "x.y"
    bad = subprocess.run([*run[:-1], "nope"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=30)
    assert bad.returncode == 2 and "usage" in bad.stderr
