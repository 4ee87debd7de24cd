"""Offline checks of every Terraform module and environment: fmt, layout, init + validate, `terraform test`.

Directories are discovered (every `terraform/modules/*` and `terraform/envs/*` holding `.tf` files), so a new
module is checked without editing this file. init/validate/test of all directories run concurrently in a
session-wide thread pool (each is a separate terraform process); each test then reports its own directory.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.terraform.conftest import TERRAFORM_ROOT, Terraform, requires_terraform, terraform_dirs

pytestmark = pytest.mark.terraform

DIRS = terraform_dirs()
MODULES = [d for d in DIRS if d.startswith("modules/")]
TESTED_DIRS = [d for d in DIRS if any((TERRAFORM_ROOT / d / "tests").glob("*.tftest.hcl"))]
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")

Steps = dict[str, subprocess.CompletedProcess[str]]


def _check(terraform: Terraform, relative_dir: str) -> Steps:
    """init, then validate, then `terraform test` (when the directory has tests); stops at the first failure."""
    steps: Steps = {
        "init": terraform.run(relative_dir, "init", "-backend=false", "-input=false", "-no-color")
    }
    if steps["init"].returncode == 0:
        steps["validate"] = terraform.run(relative_dir, "validate", "-no-color")
    if relative_dir in TESTED_DIRS and steps.get("validate") and steps["validate"].returncode == 0:
        steps["test"] = terraform.run(relative_dir, "test", "-no-color", timeout=600)
    return steps


@pytest.fixture(scope="session")
def checks(terraform: Terraform, request: pytest.FixtureRequest) -> Iterator[dict[str, Future[Steps]]]:
    """One future per selected directory, all started at once (terraform processes run in parallel)."""
    selected = {
        item.callspec.params["relative_dir"]
        for item in request.session.items
        if "relative_dir" in getattr(getattr(item, "callspec", None), "params", {})
    }
    # Environments first: they compose many modules and take longest.
    ordered = sorted(selected, key=lambda d: (not d.startswith("envs/"), d))
    workers = max(1, min(len(ordered), (os.cpu_count() or 2) + 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="terraform") as pool:
        yield {d: pool.submit(_check, terraform, d) for d in ordered}


def _explain(relative_dir: str, step: str, proc: subprocess.CompletedProcess[str] | None) -> str:
    if proc is None:
        return f"{relative_dir}: `terraform {step}` did not run (an earlier step failed)"
    output = (proc.stdout + proc.stderr).strip().splitlines()
    return f"{relative_dir}: `terraform {step}` exited {proc.returncode}:\n" + "\n".join(output[-60:])


def _assert_step(
    checks: dict[str, Future[Steps]], relative_dir: str, step: str
) -> subprocess.CompletedProcess[str]:
    steps = checks[relative_dir].result()
    for earlier in ("init", "validate", "test"):
        proc = steps.get(earlier)
        assert proc is not None and proc.returncode == 0, _explain(relative_dir, earlier, proc)
        if earlier == step:
            return proc
    raise AssertionError(f"unknown step {step}")


def test_discovers_the_core_modules_and_environments() -> None:
    for expected in (
        "modules/storage",
        "modules/kinesis",
        "modules/api_gateway",
        "modules/iam",
        "envs/local",
    ):
        assert expected in DIRS


@requires_terraform
def test_fmt(terraform: Terraform) -> None:
    proc = terraform.run(".", "fmt", "-check", "-recursive", "-diff", "-no-color")
    assert proc.returncode == 0, (
        "terraform fmt -check -recursive terraform found unformatted files:\n" + proc.stdout
    )


@pytest.mark.parametrize("module", MODULES)
def test_module_layout(module: str) -> None:
    missing = [name for name in MODULE_FILES if not (TERRAFORM_ROOT / module / name).is_file()]
    assert not missing, f"{module} lacks {', '.join(missing)}"
    assert any((TERRAFORM_ROOT / module / "tests").glob("*.tftest.hcl")), (
        f"{module} has no tests/*.tftest.hcl"
    )


@requires_terraform
@pytest.mark.parametrize("relative_dir", DIRS)
def test_init_and_validate(checks: dict[str, Future[Steps]], relative_dir: str) -> None:
    proc = _assert_step(checks, relative_dir, "validate")
    assert "The configuration is valid" in proc.stdout


@requires_terraform
@pytest.mark.parametrize("relative_dir", TESTED_DIRS)
def test_terraform_test(checks: dict[str, Future[Steps]], relative_dir: str) -> None:
    proc = _assert_step(checks, relative_dir, "test")
    summary = proc.stdout.strip().splitlines()[-1]
    assert summary.startswith("Success!") and " 0 failed" in summary, summary
