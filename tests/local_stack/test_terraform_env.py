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
        "-var", "api_key_required=true",
    ]  # fmt: skip
    assert "rest_proxy_url=http://rest-proxy:8082" in terraform_env.variables(
        config, "http://rest-proxy:8082"
    )


def test_the_api_key_requirement_follows_pipeline_api_key_required() -> None:
    assert StackConfig.from_env({}).api_key_required is True
    assert StackConfig.from_env({"PIPELINE_API_KEY_REQUIRED": "false"}).api_key_required is False
    config = StackConfig.from_env({"PIPELINE_API_KEY_REQUIRED": "False"})
    assert terraform_env.variables(config)[-1] == "api_key_required=false"
    with pytest.raises(ValueError, match="PIPELINE_API_KEY_REQUIRED"):
        StackConfig.from_env({"PIPELINE_API_KEY_REQUIRED": "maybe"})


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


FAKE_TERRAFORM = """#!/bin/sh
# Stands in for terraform: records its umask, and `apply` leaves a world-readable state and backup behind.
umask > "$FAKE_TF_UMASK"
for arg in "$@"; do case "$arg" in -state=*) state="${arg#-state=}";; esac; done
case " $* " in
  *" apply "*) echo '{"outputs": {"api_key": "k"}}' > "$state"; cp "$state" "$state.backup";
               chmod 644 "$state" "$state.backup";;
  *" output "*) echo '{"api_key": {"sensitive": true, "type": "string", "value": "k"}}';;
esac
"""


def test_terraform_runs_with_umask_077_and_leaves_its_state_readable_by_the_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir, env_dir = tmp_path / "bin", tmp_path / "envs-local"
    bin_dir.mkdir()
    env_dir.mkdir()
    (env_dir / "main.tf").write_text("")
    fake = bin_dir / "terraform"
    fake.write_text(FAKE_TERRAFORM)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_TF_UMASK", str(tmp_path / "umask"))
    config = StackConfig(state_dir=tmp_path / "state", terraform_dir=env_dir, tf_plugin_dir=None)
    log = tmp_path / "logs" / "terraform.log"
    assert terraform_env.unwrap(terraform_env.apply(config, log=log)) == {"api_key": "k"}
    assert log.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "umask").read_text().strip() == "0077"
    state = tmp_path / "state" / "terraform" / "terraform.tfstate"
    assert terraform_env.state_files(config) == [state, state.with_name("terraform.tfstate.backup")]
    assert {p.stat().st_mode & 0o777 for p in terraform_env.state_files(config)} == {0o600}
