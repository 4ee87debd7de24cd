"""terraform of envs/local: where the state lives, the variables passed, outputs unwrapped, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_stack import terraform_env
from local_stack.config import REPO_ROOT, StackConfig
from local_stack.processes import StackError


def test_the_default_stack_keeps_terraforms_default_state_and_an_isolated_one_its_own(tmp_path: Path) -> None:
    assert terraform_env.state_file(StackConfig(state_dir=REPO_ROOT / ".local")) is None
    assert (
        terraform_env.state_file(StackConfig(state_dir=tmp_path))
        == tmp_path / "terraform" / "terraform.tfstate"
    )


def test_variables_point_the_environment_at_this_stack() -> None:
    config = StackConfig(user_id="alice", localstack_port=14566, rest_proxy_port=18082)
    assert terraform_env.variables(config) == [
        "-var", "user_id=alice",
        "-var", "localstack_endpoint=http://127.0.0.1:14566",
        "-var", "rest_proxy_url=http://127.0.0.1:18082",
    ]  # fmt: skip
    assert (
        terraform_env.variables(config, "http://rest-proxy:8082")[-1]
        == "rest_proxy_url=http://rest-proxy:8082"
    )


def test_outputs_are_unwrapped_sensitive_ones_included() -> None:
    raw = {
        "api_key": {"sensitive": True, "type": "string", "value": "k"},
        "topics": {"sensitive": False, "type": ["map", "string"], "value": {"pin": "u.pin"}},
    }
    assert terraform_env.unwrap(raw) == {"api_key": "k", "topics": {"pin": "u.pin"}}


def test_drop_state_removes_the_state_and_its_backup(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path)
    state = tmp_path / "terraform" / "terraform.tfstate"
    state.parent.mkdir()
    state.write_text("{}")
    state.with_name("terraform.tfstate.backup").write_text("{}")
    terraform_env.drop_state(config)
    assert list(state.parent.iterdir()) == []


def test_apply_without_an_environment_root_is_a_clear_error(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path, terraform_dir=tmp_path / "envs-local")
    with pytest.raises(StackError, match=r"terraform: .*envs-local has no main\.tf"):
        terraform_env.apply(config)


def test_missing_terraform_binary_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackError, match="terraform: the terraform binary is not on PATH"):
        terraform_env.terraform_binary()
