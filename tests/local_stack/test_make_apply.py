"""`make apply` keeps the AWS secrets private: terraform runs under umask 077, the state and the outputs file
(`<state dir>/outputs/aws.json`, the real API key) end up 0600, even where an older run left them 0644.

Runs the real Makefile recipe in a scratch directory against a stand-in `terraform` (no AWS account needed).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from local_stack.config import REPO_ROOT
from tests.support.requirements import require_tool

FAKE_TERRAFORM = """#!/bin/sh
# Stands in for terraform in envs/aws: records its umask; apply leaves a world-readable state behind.
dir="${1#-chdir=}"; shift
umask > "$FAKE_TF_UMASK"
case "$1" in
  apply) echo '{"outputs": {"api_key": "fake-outputs-key"}}' > "$dir/terraform.tfstate"; chmod 644 "$dir/terraform.tfstate";;
  output) echo '{"api_key": {"sensitive": true, "type": "string", "value": "fake-outputs-key"}}';;
esac
"""


def test_make_apply_writes_state_and_outputs_readable_by_the_owner_only(tmp_path: Path) -> None:
    make = require_tool("make", "runs the Makefile's apply recipe")
    work, bin_dir, state_dir = tmp_path / "checkout", tmp_path / "bin", tmp_path / "state"
    (work / "terraform/envs/aws").mkdir(parents=True)
    bin_dir.mkdir()
    fake = bin_dir / "terraform"
    fake.write_text(FAKE_TERRAFORM)
    fake.chmod(0o755)
    old_state = work / "terraform/envs/aws/terraform.tfstate.backup"
    old_state.write_text("{}")
    old_state.chmod(0o644)
    (state_dir / "outputs").mkdir(parents=True)
    (state_dir / "outputs").chmod(0o755)  # left by an older run
    outputs = state_dir / "outputs" / "aws.json"
    outputs.write_text("{}")
    outputs.chmod(0o644)  # left by an older `make apply`
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PIPELINE_STATE_DIR": str(state_dir),
        "USER_ID": "demo",
        "FAKE_TF_UMASK": str(tmp_path / "umask"),
    }
    done = subprocess.run(
        [make, "-f", str(REPO_ROOT / "Makefile"), "-C", str(work), "apply"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"outputs: {outputs}" in done.stdout
    assert json.loads(outputs.read_text())["api_key"]["value"] == "fake-outputs-key"
    assert (tmp_path / "umask").read_text().strip() == "0077"
    for path in (outputs, work / "terraform/envs/aws/terraform.tfstate", old_state):
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert outputs.parent.stat().st_mode & 0o777 == 0o700  # the outputs directory: its owner's only
