"""Fixtures for the terraform checks: the terraform binary, an offline CLI configuration and a scratch copy.

The checks run on a copy of `terraform/` in a temporary directory, so they never write `.terraform/`, lock
files or state into the checkout (nor touch the live `envs/local` state of `make local-up`). Providers come
from the mirror (`TF_PLUGIN_DIR`, default `/opt/tf-plugins` when present) through a `filesystem_mirror`:
terraform links the ~700 MB provider into each `.terraform` instead of copying it. Without a mirror the
providers are downloaded once into a shared `plugin_cache_dir` under `.cache/terraform/`.

The one committed lock file, `envs/aws/.terraform.lock.hcl`, is copied along on the platforms it records
(`LOCKED_PLATFORMS`), so `terraform init` there checks it against the configuration's constraints and the
provider package; elsewhere it is left out, as a user on another platform would first add theirs. Without
terraform the checks skip, naming it (they fail under `CI=true`: tests/support/requirements.py).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_stack.config import REPO_ROOT, default_tf_plugin_dir
from tests.support.requirements import missing, requires

TERRAFORM_ROOT = REPO_ROOT / "terraform"
TERRAFORM = shutil.which("terraform")
TERRAFORM_MISSING = (
    None
    if TERRAFORM
    else "terraform is not on PATH (install the Terraform the README names to run the terraform checks)"
)
requires_terraform = requires(TERRAFORM_MISSING)

# The platforms envs/aws/.terraform.lock.hcl records hashes for (terraform/envs/aws/README.md says how to add one).
LOCKED_PLATFORMS = {"linux_amd64"}
COMMITTED_LOCK = Path("envs") / "aws" / ".terraform.lock.hcl"


def terraform_platform() -> str:
    """This machine as terraform names platforms (`linux_amd64`, `darwin_arm64`, ...)."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}_{arch}"


def terraform_dirs() -> list[str]:
    """Every module and environment root (relative to `terraform/`): each directory holding a `.tf` file."""
    roots = [TERRAFORM_ROOT / "modules", TERRAFORM_ROOT / "envs"]
    return sorted(
        str(d.relative_to(TERRAFORM_ROOT))
        for root in roots
        if root.is_dir()
        for d in root.iterdir()
        if d.is_dir() and any(d.glob("*.tf"))
    )


def cli_config(plugin_dir: str | None, cache_dir: Path) -> str:
    """Terraform CLI configuration: the mirror for hashicorp providers when there is one, else a plugin cache."""
    if plugin_dir:
        return (
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path    = "{plugin_dir}"\n    include = ["registry.terraform.io/*/*"]\n  }}\n'
            '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n'
            "}\n"
        )
    return f'plugin_cache_dir = "{cache_dir}"\n'


@dataclass(frozen=True)
class Terraform:
    """Runs terraform in the scratch copy with the offline CLI configuration."""

    workspace: Path
    env: dict[str, str]

    def run(self, relative_dir: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        assert TERRAFORM is not None
        return subprocess.run(
            [TERRAFORM, f"-chdir={self.workspace / relative_dir}", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="session")
def terraform(tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    """Terraform bound to a scratch copy of `terraform/` and an offline CLI configuration."""
    if TERRAFORM_MISSING:
        missing(TERRAFORM_MISSING)
    base = tmp_path_factory.mktemp("terraform")
    workspace = base / "terraform"
    shutil.copytree(
        TERRAFORM_ROOT,
        workspace,
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.*", ".terraform.lock.hcl"),
    )
    if terraform_platform() in LOCKED_PLATFORMS and (TERRAFORM_ROOT / COMMITTED_LOCK).is_file():
        shutil.copy2(TERRAFORM_ROOT / COMMITTED_LOCK, workspace / COMMITTED_LOCK)
    cache_dir = REPO_ROOT / ".cache" / "terraform" / "plugin-cache"
    plugin_dir = default_tf_plugin_dir()
    if not plugin_dir:
        cache_dir.mkdir(parents=True, exist_ok=True)
    rc_file = base / "terraformrc"
    rc_file.write_text(cli_config(plugin_dir, cache_dir))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TF_VAR_") and k not in {"TF_DATA_DIR", "TF_CLI_ARGS"}
    }
    env |= {
        "TF_CLI_CONFIG_FILE": str(rc_file),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }
    return Terraform(workspace=workspace, env=env)
