"""Run `terraform init/apply/output` of `terraform/envs/local` against this stack's LocalStack.

Offline init uses the provider mirror (`TF_PLUGIN_DIR`, default `/opt/tf-plugins` when present). The default
stack keeps terraform's default state file (`terraform/envs/local/terraform.tfstate`) so `terraform output`
works as usual; an isolated stack (another `PIPELINE_STATE_DIR`) keeps its state in its own state dir.
Terraform runs with umask 077 and the state files are made 0600 after every run: the state holds the API key.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from local_stack import config as cfg
from local_stack.components import base_env
from local_stack.config import StackConfig
from local_stack.processes import StackError, open_private_log

DEFAULT_STATE_DIR = cfg.REPO_ROOT / ".local"
#: Files terraform creates (state, its backup, an errored state) are readable by their owner only.
TERRAFORM_UMASK = 0o077


def state_file(config: StackConfig) -> Path | None:
    """Explicit state file for an isolated stack; None means terraform's default in the env dir."""
    if config.state_dir.resolve() == DEFAULT_STATE_DIR.resolve():
        return None
    return config.state_dir / "terraform" / "terraform.tfstate"


def terraform_binary() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        raise StackError("terraform: the terraform binary is not on PATH (install Terraform 1.11)")
    return binary


def _env(config: StackConfig) -> dict[str, str]:
    return base_env() | config.aws_env() | {"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}


def _run(config: StackConfig, *args: str, log: Path | None = None, timeout: float = 600) -> str:
    argv = [terraform_binary(), f"-chdir={config.terraform_dir}", *args]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=_env(config), timeout=timeout, umask=TERRAFORM_UMASK
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"terraform: `{' '.join(argv[1:4])}` timed out after {timeout:.0f}s") from exc
    finally:
        secure_state(config)
    if log is not None:  # private, as the state: what terraform prints may name a secret
        with os.fdopen(open_private_log(log), "a") as fh:
            elapsed = time.monotonic() - started
            fh.write(
                f"\n$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}[exit {proc.returncode} after {elapsed:.1f}s]\n"
            )
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()[-25:]
        raise StackError(f"terraform {args[0]} of {config.terraform_dir} failed:\n" + "\n".join(lines))
    return proc.stdout


def state_files(config: StackConfig) -> list[Path]:
    """The state of `envs/local` for this stack, its backup and an errored state, as far as they exist."""
    path = state_file(config) or config.terraform_dir / "terraform.tfstate"
    candidates = [path, path.with_name(path.name + ".backup"), path.with_name("errored.tfstate")]
    return [p for p in candidates if p.exists()]


def secure_state(config: StackConfig) -> None:
    """Make the state files 0600 (one written before this rule, or by a terraform that ignores the umask)."""
    for path in state_files(config):
        path.chmod(0o600)


def drop_state(config: StackConfig) -> None:
    """Forget resources of a LocalStack that no longer exists (it keeps nothing across a restart)."""
    path = state_file(config) or config.terraform_dir / "terraform.tfstate"
    for candidate in (path, path.with_name(path.name + ".backup")):
        candidate.unlink(missing_ok=True)


def variables(config: StackConfig, rest_proxy_url: str | None = None) -> list[str]:
    """`-var` flags: the user id, this stack's LocalStack, where the API forwards `/topics` to, and whether the
    API requires its key."""
    return [
        "-var",
        f"user_id={config.user_id}",
        "-var",
        f"localstack_endpoint={config.localstack_url}",
        "-var",
        f"rest_proxy_url={rest_proxy_url or config.rest_proxy_url}",
        "-var",
        f"api_key_required={'true' if config.api_key_required else 'false'}",
    ]


def apply(config: StackConfig, log: Path | None = None, rest_proxy_url: str | None = None) -> dict[str, Any]:
    """init + apply of envs/local; returns `terraform output -json` (values wrapped, as terraform prints them)."""
    if not (config.terraform_dir / "main.tf").exists():
        raise StackError(f"terraform: {config.terraform_dir} has no main.tf (the envs/local root is missing)")
    init = ["init", "-input=false", "-no-color"]
    if config.tf_plugin_dir and Path(config.tf_plugin_dir).is_dir():
        init.append(f"-plugin-dir={config.tf_plugin_dir}")
    _run(config, *init, log=log)
    state = state_file(config)
    state_args = [f"-state={state}"] if state else []
    if state:
        state.parent.mkdir(parents=True, exist_ok=True)
    _run(
        config,
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        *state_args,
        *variables(config),
        log=log,
    )
    return raw_outputs(config)


def plan(config: StackConfig) -> str:
    """`terraform plan` of envs/local against this stack, as text without the lines that report reading the
    resources and data sources (their order varies from run to run): what an apply would change now. Needs an
    earlier `apply` (init and state)."""
    state = state_file(config)
    text = _run(
        config,
        "plan",
        "-input=false",
        "-no-color",
        "-lock=false",
        *([f"-state={state}"] if state else []),
        *variables(config),
    )
    progress = (": Refreshing state...", ": Reading...", ": Read complete after")
    return "\n".join(line for line in text.splitlines() if not any(p in line for p in progress))


def raw_outputs(config: StackConfig) -> dict[str, Any]:
    """`terraform output -json` as terraform prints it (each output wrapped as `{"value", "type", "sensitive"}`)."""
    state = state_file(config)
    raw = _run(config, "output", "-json", "-no-color", *([f"-state={state}"] if state else []))
    return json.loads(raw or "{}")


def unwrap(raw: dict[str, Any]) -> dict[str, Any]:
    """Output values without terraform's wrapping (sensitive ones included: this is a local test stack)."""
    return {name: item.get("value") if isinstance(item, dict) else item for name, item in raw.items()}
