"""Configuration precedence: flags > environment > .env > terraform outputs > defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulation.config import ConfigError, load_config, terraform_outputs


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
    values = terraform_outputs("aws", root=tmp_path)
    assert values["invoke_url"] == "https://abc.execute-api/prod" and values["api_key"] == "aws-key"
    config = load_config(
        target="aws", environ={}, dotenv_path=tmp_path / "n", outputs=lambda t: terraform_outputs(t, tmp_path)
    )
    assert (config.api_url, config.api_key, config.user_id) == (
        "https://abc.execute-api/prod",
        "aws-key",
        "0a1b",
    )
    # No terraform state and no saved outputs for local: nothing found, no error.
    assert terraform_outputs("local", root=tmp_path) == {}


def test_env_example_documents_every_setting_and_holds_no_secret() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    values = load_config(environ={}, dotenv_path=example, outputs=_outputs({}))
    text = example.read_text()
    for name in ("USER_ID", "PIPELINE_API_URL", "PIPELINE_API_KEY", "PIPELINE_DB_URL", "PIPELINE_TARGET"):
        assert f"\n{name}=" in text
    assert values.api_key is None and values.api_url is None  # placeholders only
