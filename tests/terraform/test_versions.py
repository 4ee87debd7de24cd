"""One stated minimum Terraform for the whole repository, and the AWS provider pinned below its next major.

Every module and environment states the same `required_version` (`>= X.Y`), and the README's Requirements line
says `Terraform >= X.Y` with the same X.Y. Every root (`terraform/envs/*`) pins the AWS provider with an upper
bound (`~> 5.N`), every module bounds it below the same major, and all share one minimum. The committed
`envs/aws/.terraform.lock.hcl` locks a provider version those constraints allow. Pure file checks: no terraform.
"""

from __future__ import annotations

import re

import pytest

from tests.terraform.conftest import COMMITTED_LOCK, TERRAFORM_ROOT, terraform_dirs

README = TERRAFORM_ROOT.parent / "README.md"
DIRS = terraform_dirs()
ROOTS = [d for d in DIRS if d.startswith("envs/")]

REQUIRED_VERSION = re.compile(r'^\s*required_version\s*=\s*"([^"]*)"', re.MULTILINE)
AWS_PROVIDER = re.compile(
    r'^\s*aws\s*=\s*\{[^}]*?source\s*=\s*"hashicorp/aws"[^}]*?version\s*=\s*"([^"]*)"',
    re.MULTILINE | re.DOTALL,
)
MINIMUM = re.compile(r"^>=\s*(\d+\.\d+)$")
README_REQUIREMENT = re.compile(r"Terraform >= (\d+\.\d+)")
LOCKED = re.compile(
    r'provider "registry\.terraform\.io/hashicorp/aws" \{\s*version\s*=\s*"([^"]+)"\s*constraints\s*=\s*"([^"]+)"'
    r"\s*hashes\s*=\s*\[([^\]]*)\]",
    re.DOTALL,
)

Version = tuple[int, int, int]


def parse_version(text: str) -> Version:
    """`5`, `5.100` or `5.100.0` as a (major, minor, patch) triple."""
    parts = [int(p) for p in text.strip().split(".")]
    major, minor, patch = [*parts, 0, 0][:3]
    return major, minor, patch


def satisfies(version: Version, constraints: str) -> bool:
    """Whether `version` meets a Terraform version constraint string (`>= 5.100, < 6.0`, `~> 5.100`, ...)."""
    for clause in constraints.split(","):
        match = re.fullmatch(r"\s*(>=|<=|!=|~>|>|<|=)?\s*([0-9][0-9.]*)\s*", clause)
        if match is None:
            raise ValueError(f"cannot read the version constraint {clause!r}")
        operator, text = match.group(1) or "=", match.group(2)
        bound = parse_version(text)
        if operator == "~>":
            # ~> 5.100 allows 5.x from 5.100 up; ~> 5.100.0 allows 5.100.x only.
            depth = len(text.split(".")) - 1
            upper = (bound[0] + 1, 0, 0) if depth <= 1 else (bound[0], bound[1] + 1, 0)
            ok = bound <= version < upper
        else:
            ok = {
                ">=": version >= bound,
                "<=": version <= bound,
                ">": version > bound,
                "<": version < bound,
                "=": version == bound,
                "!=": version != bound,
            }[operator]
        if not ok:
            return False
    return True


def versions_tf(relative_dir: str) -> str:
    path = TERRAFORM_ROOT / relative_dir / "versions.tf"
    assert path.is_file(), f"{relative_dir} has no versions.tf"
    return path.read_text()


def required_version(relative_dir: str) -> str:
    found = REQUIRED_VERSION.findall(versions_tf(relative_dir))
    assert len(found) == 1, f"{relative_dir}/versions.tf must state required_version once, found {found}"
    match = MINIMUM.match(found[0].strip())
    assert match, f'{relative_dir}: required_version must be a plain minimum ">= X.Y", not {found[0]!r}'
    return match.group(1)


def aws_constraint(relative_dir: str) -> str:
    found = AWS_PROVIDER.findall(versions_tf(relative_dir))
    assert len(found) == 1, f"{relative_dir}/versions.tf must require hashicorp/aws once with a version"
    return found[0]


def lowest_allowed(constraints: str) -> Version:
    """The lowest release a constraint allows (its `>=` / `~>` bound)."""
    bounds = [parse_version(m.group(2)) for m in re.finditer(r"(>=|~>)\s*([0-9][0-9.]*)", constraints)]
    assert bounds, f"{constraints!r} states no minimum"
    return max(bounds)


def repository_minimum() -> str:
    minimums = {d: required_version(d) for d in DIRS}
    assert len(set(minimums.values())) == 1, f"required_version differs between directories: {minimums}"
    return next(iter(minimums.values()))


def test_every_module_and_environment_states_the_same_minimum() -> None:
    assert "envs/aws" in DIRS and "modules/storage" in DIRS
    assert repository_minimum()


def test_readme_states_that_minimum() -> None:
    minimum = repository_minimum()
    requirements = [line for line in README.read_text().splitlines() if "Terraform >=" in line]
    stated = {m for line in requirements for m in README_REQUIREMENT.findall(line)}
    assert stated == {minimum}, (
        f'README.md must say "Terraform >= {minimum}" (every versions.tf requires it), '
        f"it says {sorted(stated) or 'nothing'}"
    )


@pytest.mark.parametrize("relative_dir", DIRS)
def test_aws_provider_is_bounded_below_the_next_major(relative_dir: str) -> None:
    constraint = aws_constraint(relative_dir)
    lowest = lowest_allowed(constraint)
    assert satisfies(lowest, constraint), f"{relative_dir}: {constraint!r} excludes its own minimum"
    assert not satisfies((lowest[0] + 1, 0, 0), constraint), (
        f"{relative_dir}: the AWS provider constraint {constraint!r} has no upper bound below "
        f"{lowest[0] + 1}.0 (roots: `~> {lowest[0]}.{lowest[1]}`; modules: `>= ..., < {lowest[0] + 1}.0`)"
    )


@pytest.mark.parametrize("relative_dir", ROOTS)
def test_roots_pin_the_provider_pessimistically(relative_dir: str) -> None:
    assert re.fullmatch(r"~>\s*\d+\.\d+", aws_constraint(relative_dir)), (
        f'{relative_dir} must pin the AWS provider as "~> MAJOR.MINOR", not {aws_constraint(relative_dir)!r}'
    )


def test_one_provider_minimum_everywhere() -> None:
    minimums = {d: lowest_allowed(aws_constraint(d)) for d in DIRS}
    assert len(set(minimums.values())) == 1, f"AWS provider minimums differ: {minimums}"


def test_the_aws_environment_lock_fits_its_constraints() -> None:
    lock_path = TERRAFORM_ROOT / COMMITTED_LOCK
    assert lock_path.is_file(), f"{COMMITTED_LOCK} must be committed (terraform/envs/aws/README.md)"
    match = LOCKED.search(lock_path.read_text())
    assert match, f"{COMMITTED_LOCK} locks no hashicorp/aws version"
    version, recorded, hashes = parse_version(match.group(1)), match.group(2), match.group(3)
    for relative_dir in ["envs/aws"] + [d for d in DIRS if d.startswith("modules/")]:
        assert satisfies(version, aws_constraint(relative_dir)), (
            f"the locked AWS provider {match.group(1)} does not meet {relative_dir}'s {aws_constraint(relative_dir)!r}"
        )
    assert aws_constraint("envs/aws").replace(" ", "") in recorded.replace(" ", ""), (
        f"{COMMITTED_LOCK} was made for other constraints ({recorded!r}): regenerate it "
        "(terraform/envs/aws/README.md)"
    )
    assert re.search(r'"h1:[A-Za-z0-9+/=]+"', hashes), f"{COMMITTED_LOCK} records no package hash"


@pytest.mark.parametrize(
    ("version", "constraints", "expected"),
    [
        ((5, 100, 0), "~> 5.100", True),
        ((5, 101, 2), "~> 5.100", True),
        ((6, 0, 0), "~> 5.100", False),
        ((5, 99, 0), "~> 5.100", False),
        ((5, 100, 3), "~> 5.100.0", True),
        ((5, 101, 0), "~> 5.100.0", False),
        ((5, 100, 0), ">= 5.100, < 6.0", True),
        ((6, 0, 0), ">= 5.100, < 6.0", False),
        ((7, 0, 0), ">= 5.0", True),
    ],
)
def test_constraint_reader(version: Version, constraints: str, expected: bool) -> None:
    assert satisfies(version, constraints) is expected
