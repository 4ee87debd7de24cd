"""checkov over every Terraform module and environment: zero failed checks, and every skip justified in the code.

Runs `.venv-checkov/bin/checkov -d terraform --framework terraform --skip-download --quiet -o json` (offline; checkov
lives in its own venv because it conflicts with other tools). A check may only be skipped in the resource itself
with `#checkov:skip=<ID>:<reason>`; a skip without a written reason, or a global skip list, fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.requirements import requires

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_ROOT = REPO_ROOT / "terraform"
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"

SKIP_COMMENT = re.compile(r"checkov:skip=([^\s:]*)(?::(.*))?", re.IGNORECASE)
CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")
MIN_REASON_WORDS = 4

requires_checkov = requires(
    None
    if CHECKOV.exists()
    else f"checkov is not installed at {CHECKOV} (`make setup` creates .venv-checkov)"
)


def terraform_sources() -> list[Path]:
    """Every Terraform file of the repository (modules, environments, tests), outside `.terraform/` caches."""
    return sorted(p for p in TERRAFORM_ROOT.rglob("*.tf") if ".terraform" not in p.parts)


def skip_problems(path: Path, text: str) -> list[str]:
    """Skip comments in `text` that lack a valid check id or a written reason, as `path:line: problem`."""
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in SKIP_COMMENT.finditer(line):
            check_id, reason = match.group(1), (match.group(2) or "").strip()
            where = f"{path}:{number}"
            if not CHECK_ID.match(check_id):
                problems.append(f"{where}: `{check_id}` is not a checkov check id")
            if len(reason.split()) < MIN_REASON_WORDS:
                problems.append(f"{where}: skip of {check_id} has no written justification")
    return problems


@pytest.fixture(scope="module")
def report() -> dict:
    proc = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            "terraform",
            "--framework",
            "terraform",
            "--skip-download",
            "--quiet",
            "-o",
            "json",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.stdout.strip(), f"checkov printed nothing (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    data = json.loads(proc.stdout)
    reports = data if isinstance(data, list) else [data]
    terraform_reports = [r for r in reports if r.get("check_type") == "terraform"]
    assert len(terraform_reports) == 1, (
        f"expected one terraform report, got {[r.get('check_type') for r in reports]}"
    )
    return terraform_reports[0]


@requires_checkov
def test_checkov_finds_no_failed_checks(report: dict) -> None:
    failed = report["results"].get("failed_checks", [])
    lines = [
        f"{c['check_id']} {c['file_path']} {c['resource']}: {c['check_name']} ({c.get('guideline') or 'no guideline'})"
        for c in failed
    ]
    assert not failed, f"checkov found {len(failed)} failed checks:\n" + "\n".join(sorted(set(lines)))


@requires_checkov
def test_checkov_scanned_the_platform(report: dict) -> None:
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, f"checkov could not parse some files: {summary}"
    assert summary["resource_count"] >= 100, (
        f"checkov saw too few resources to have scanned the platform: {summary}"
    )
    assert summary["passed"] >= 300, f"checkov ran too few checks: {summary}"


def test_every_skip_is_justified_in_the_code() -> None:
    sources = terraform_sources()
    assert sources, "no Terraform files found"
    problems = [p for path in sources for p in skip_problems(path.relative_to(REPO_ROOT), path.read_text())]
    assert not problems, "checkov skips need `#checkov:skip=<ID>:<reason>`:\n" + "\n".join(problems)


def test_no_global_skip_list() -> None:
    for name in (".checkov.yaml", ".checkov.yml"):
        config = REPO_ROOT / name
        if config.exists():
            text = config.read_text()
            assert "skip-check" not in text and "skip_check" not in text, (
                f"{name} skips checks globally; skip in the resource with a written reason instead"
            )


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        (
            "  #checkov:skip=CKV_AWS_144:The repository is the copy of these files, so replication adds nothing.",
            0,
        ),
        ("  # checkov:skip=CKV2_AWS_5:Groups are attached by the modules that use them here.", 0),
        ("  #checkov:skip=CKV_AWS_144", 1),
        ("  #checkov:skip=CKV_AWS_144:todo", 1),
        ("  #checkov:skip=ALL:because we said so and that is that", 1),
    ],
)
def test_skip_checker_flags_unjustified_skips(comment: str, expected: int) -> None:
    assert len(skip_problems(Path("x.tf"), f'resource "a" "b" {{\n{comment}\n}}\n')) == expected
