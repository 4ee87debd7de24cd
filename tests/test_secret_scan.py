"""Secret scan of the repository: no access keys, tokens, private keys or passwords in any git-tracked file.

`scan_text` / `scan_file` are the scanner; the tests run it over `git ls-files` and prove it catches planted
secrets. Rules: AWS access key ids (`AKIA`/`ASIA` + 16), AWS secret access keys assigned in code, private key
blocks, Databricks personal access tokens (`dapi` + 32 hex), GitHub and Slack tokens, and generic
`password`/`secret`/`token` assignments of a literal (placeholders, references and known test values such as
LocalStack's `test` excepted). A real false positive goes in `tests/secret_scan_allowlist.txt` as
`<path glob> <rule> <reason>`; keep that file minimal.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ALLOWLIST = Path(__file__).with_name("secret_scan_allowlist.txt")
MAX_BYTES = 2_000_000

RULES: dict[str, re.Pattern[str]] = {
    "aws-access-key-id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "aws-secret-access-key": re.compile(
        r"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
    ),
    "private-key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "databricks-token": re.compile(r"\bdapi[0-9a-f]{32}(?:-\d+)?\b"),
    "github-token": re.compile(
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{60,}\b"
    ),
    "slack-token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    "password-assignment": re.compile(
        r"(?i)(?<![A-Za-z0-9])(?:password|passwd|pwd|secret|token|api_key|apikey|secret_key)[\"']?\s*(?::=|=|:)\s*"
        r"[\"']([^\"'\s]{3,})[\"']"
    ),
}

# Values that are placeholders or well-known test credentials, never secrets.
KNOWN_TEST_VALUES = {"password", "secret", "token", "changeme", "yes", "no", "true", "false", "none", "null"}
TEST_VALUE_WORDS = ("test", "fake", "dummy", "example", "placeholder", "wrong", "invalid", "not-the", "...")
PLACEHOLDER = re.compile(
    r"^(?:\$|<|\{|%|\*+$|x+$|os\.|env\.|var\.|local\.|module\.|data\.|each\.|self\.)", re.I
)
ENV_VAR_NAME = re.compile(
    r"^[A-Z][A-Z0-9]*_[A-Z0-9_]+$"
)  # the name of an environment variable, not its value


@dataclass(frozen=True)
class Finding:
    """One suspected secret: where it is and which rule matched (the value itself is never printed in full)."""

    path: str
    line: int
    rule: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.excerpt}"


def _redact(value: str) -> str:
    return value[:4] + "..." if len(value) > 4 else "..."


def _is_placeholder(value: str) -> bool:
    lowered = value.lower()
    return (
        lowered in KNOWN_TEST_VALUES
        or any(word in lowered for word in TEST_VALUE_WORDS)
        or bool(PLACEHOLDER.match(value) or ENV_VAR_NAME.match(value))
    )


def scan_text(path: str, text: str) -> list[Finding]:
    """Every suspected secret in `text` (the content of `path`)."""
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        spans: list[tuple[int, int]] = []  # values already reported by a specific rule on this line
        for rule, pattern in RULES.items():
            for match in pattern.finditer(line):
                group = match.lastindex or 0
                value, (start, end) = match.group(group), match.span(group)
                if rule == "password-assignment" and (
                    _is_placeholder(value) or any(start < e and s < end for s, e in spans)
                ):
                    continue
                spans.append((start, end))
                findings.append(Finding(path, number, rule, _redact(value)))
    return findings


def scan_file(path: Path, root: Path = REPO_ROOT) -> list[Finding]:
    """Scan one file; binary files (a NUL byte in the first 8 KiB) and files over 2 MB are skipped."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return []
    if len(data) > MAX_BYTES or b"\0" in data[:8192]:
        return []
    relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    return scan_text(relative, data.decode("utf-8", errors="replace"))


def load_allowlist(path: Path = ALLOWLIST) -> list[tuple[str, str]]:
    """(path glob, rule) pairs from the allowlist; every entry must carry a reason."""
    entries = []
    if not path.exists():
        return entries
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=2)
        if len(parts) < 3 or parts[1] not in RULES:
            raise ValueError(
                f"{path}:{number}: expected `<path glob> <rule> <reason>` with a rule of {sorted(RULES)}"
            )
        entries.append((parts[0], parts[1]))
    return entries


def allowed(finding: Finding, allowlist: list[tuple[str, str]]) -> bool:
    return any(fnmatch.fnmatch(finding.path, glob) and finding.rule == rule for glob, rule in allowlist)


def tracked_files(root: Path = REPO_ROOT) -> list[Path]:
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True)
    return [root / name for name in proc.stdout.decode().split("\0") if name]


# --- the scan of the repository ----------------------------------------------------------------------


@pytest.mark.skipif(
    shutil.which("git") is None or not (REPO_ROOT / ".git").exists(), reason="needs git and a git checkout"
)
def test_no_secrets_in_tracked_files() -> None:
    files = tracked_files()
    assert len(files) > 10, "git ls-files listed almost nothing: is this the repository?"
    allowlist = load_allowlist()
    findings = [f for path in files for f in scan_file(path) if not allowed(f, allowlist)]
    assert not findings, "possible secrets committed (move them to the environment or .env):\n" + "\n".join(
        map(str, findings)
    )


def test_allowlist_is_small_and_well_formed() -> None:
    assert len(load_allowlist()) <= 5, "the secret-scan allowlist keeps growing: fix the files instead"


# --- the scanner catches what it must, and only that ----------------------------------------------------

# Planted values are assembled at run time so this file itself holds no secret-shaped literal.
FAKE_KEY_ID = "AKIA" + "Q" * 16
FAKE_SIGNING_KEY = "wJalr" + "X" * 30 + "EXKEY"
FAKE_DATABRICKS = "dapi" + "0123456789abcdef" * 2
KEYWORD = "pass" + "word"  # so that the planted assignments below are not themselves findings
FAKE_PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow...\n-----END " + "RSA PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (f'aws_access_key_id = "{FAKE_KEY_ID}"\n', "aws-access-key-id"),
        (f"export AWS_ACCESS_KEY_ID={'ASIA' + 'Z' * 16}\n", "aws-access-key-id"),
        (f'AWS_SECRET_ACCESS_KEY = "{FAKE_SIGNING_KEY}"\n', "aws-secret-access-key"),
        (f"aws_secret_access_key: {FAKE_SIGNING_KEY}\n", "aws-secret-access-key"),
        (FAKE_PEM, "private-key"),
        ("-----BEGIN " + "OPENSSH PRIVATE KEY-----\n", "private-key"),
        (f'DATABRICKS_TOKEN="{FAKE_DATABRICKS}"\n', "databricks-token"),
        ("token = '" + "ghp_" + "a" * 36 + "'\n", "github-token"),
        (f'db_{KEYWORD} = "hunter2-is-not-a-real-one"\n', "password-assignment"),
        (f'conn = {{"{KEYWORD}": "S3cr3t!value"}}\n', "password-assignment"),
        (f"  {KEYWORD}: 'Tr0ub4dor&3'\n", "password-assignment"),
    ],
)
def test_scanner_catches_planted_secret(tmp_path: Path, content: str, rule: str) -> None:
    planted = tmp_path / "planted.txt"
    planted.write_text("harmless line\n" + content)
    findings = scan_file(planted, root=tmp_path)
    assert [(f.path, f.rule) for f in findings] == [("planted.txt", rule)]
    assert findings[0].line == 2
    assert FAKE_SIGNING_KEY not in str(findings[0]) and FAKE_DATABRICKS not in str(findings[0]), (
        "values are redacted"
    )


@pytest.mark.parametrize(
    "content",
    [
        'access_key = "test"\nsecret_key = "test"\n',  # LocalStack's well-known dummy credentials
        "password = os.environ['DB_PASSWORD']\n",
        'password = "${var.db_password}"\n',
        'token: "<your-databricks-token>"\n',
        "manage_master_user_password = true\n",
        'password = ""\n',
        'MYSQL_RANDOM_ROOT_PASSWORD: "yes"\n',
        '"api_key": "PIPELINE_API_KEY",\n',
        'API_KEY = "test-key-123"\n',
        '"password": "dapi..."\n',
        'api_key="not-the-key"\n',
        "AKIA is the prefix of AWS access key ids\n",
    ],
)
def test_scanner_ignores_placeholders_and_test_values(tmp_path: Path, content: str) -> None:
    path = tmp_path / "ok.txt"
    path.write_text(content)
    assert scan_file(path, root=tmp_path) == []


def test_scanner_skips_binary_files(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\0\x01" + FAKE_KEY_ID.encode())
    assert scan_file(path, root=tmp_path) == []


def test_allowlist_entries_need_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "allow.txt"
    path.write_text("docs/*.md private-key\n")
    with pytest.raises(ValueError, match="expected"):
        load_allowlist(path)
    path.write_text("# comment\ndocs/*.md private-key the guide shows what a key block looks like\n")
    entries = load_allowlist(path)
    assert entries == [("docs/*.md", "private-key")]
    assert allowed(Finding("docs/guide.md", 3, "private-key", "..."), entries)
    assert not allowed(Finding("src/app.py", 3, "private-key", "..."), entries)
