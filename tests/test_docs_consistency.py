"""The documents agree with the repository: references, paths, make targets and error messages.

* Every `docs/data-contracts.md N` / `N.M` reference in a tracked file names a section of that document (its
  `## N.M ...` headings), and no tracked file cites the design brief the repository does not hold (the word
  DESIGN followed by a section number).
* Every relative link and every backticked repository path in README.md and docs/*.md exists (a path counts
  when it starts with a top-level folder or file of the repository and holds no placeholder; gitignored files
  such as `terraform/envs/aws/terraform.tfvars` count as existing: the documents say to create them).
* Every name in the Makefile's `.PHONY` has a rule; every target the README's "Make targets" table lists, and
  every `make <target>` that README.md and docs/*.md show as code, is a rule; the table lists every `.PHONY`
  target but `help`.
* Every message the README's Troubleshooting table quotes (each code span of its first column) is printed by
  the code: it matches a string of the project's Python source (f-string fields and `<placeholder>`s match
  anything, `...` elides), the Makefile or a Terraform file.

Each check is a function of text, exercised on a deliberate mismatch below, so a check that could never fail
fails its own test.
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = REPO / "docs" / "data-contracts.md"
README = REPO / "README.md"
MAKEFILE = REPO / "Makefile"
#: Folders whose Python source prints the messages the README quotes.
CODE_DIRS = ("airflow", "benchmarks", "databricks_deploy", "emulation", "local_stack", "notebooks")
#: Stands for an f-string field (or any non-literal part of a message) in the rendered code strings.
FIELD = "\x00"
#: The word that once named the design brief, split so that this file does not cite it itself.
BRIEF_WORD = "DES" + "IGN"

SECTION_REF = re.compile(r"data-contracts\.md\s+(\d+(?:\.\d+)?(?:(?:\s*,\s*|\s+and\s+)\d+(?:\.\d+)?)*)")
BRIEF_REF = re.compile(rf"\b{BRIEF_WORD}\s+\d")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
PLACEHOLDER = re.compile(r"<[^<>\s][^<>]*>|\.\.\.|…")
#: Backticked names that look like repository paths but are not: the Secrets Manager names of the Airflow
#: connections and Variables (`airflow/<prefix>-<user_id>/connections/...`, `airflow/connections/...`).
NOT_PATHS = re.compile(r"^airflow/(pdp-|connections/|variables/)")


# --- files --------------------------------------------------------------------------------------------------
@cache
def tracked_files() -> tuple[Path, ...]:
    """The repository's tracked files (`git ls-files`; outside a git checkout, every file but local state)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
        ).stdout
        names = [name for name in out.split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        skip = {".git", ".venv", ".cache", ".local", "out", "node_modules", "__pycache__"}
        names = [
            p.relative_to(REPO).as_posix()
            for p in REPO.rglob("*")
            if p.is_file() and not any(part in skip or part.startswith(".venv") for part in p.parts)
        ]
    return tuple(REPO / name for name in sorted(names) if (REPO / name).is_file())


def text_of(path: Path) -> str | None:
    """The file's text, or None for a binary file."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def documents() -> list[Path]:
    return [README, *sorted((REPO / "docs").glob("*.md"))]


# --- (a) section references ---------------------------------------------------------------------------------
def contract_sections(text: str) -> set[str]:
    """Section numbers of docs/data-contracts.md: `## 3.4 Lake layout` gives `3.4`; a major number with
    subsections (`3`) counts too."""
    numbers = set(re.findall(r"^#{2,}\s+(\d+(?:\.\d+)?)\s", text, re.M))
    return numbers | {n.split(".")[0] for n in numbers}


def section_references(text: str) -> Iterator[str]:
    """Every section number a text cites as `data-contracts.md N(.M)` (also `3.3 and 3.5`, `3.1, 3.2`)."""
    for match in SECTION_REF.finditer(text):
        yield from re.findall(r"\d+(?:\.\d+)?", match.group(1))


def bad_references(files: Iterable[tuple[str, str]], sections: set[str]) -> list[str]:
    """`path: reference` for each reference to a missing section and each citation of the design brief."""
    bad = []
    for name, text in files:
        bad += [f"{name}: data-contracts.md {n}" for n in section_references(text) if n not in sections]
        bad += [f"{name}: {m.group(0)!r}" for m in BRIEF_REF.finditer(text)]
    return bad


def test_every_contract_reference_names_a_section_and_none_cites_the_brief() -> None:
    sections = contract_sections(CONTRACTS.read_text())
    assert {"3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "4", "5"} <= sections
    files = [
        (p.relative_to(REPO).as_posix(), t)
        for p in tracked_files()
        if p != Path(__file__).resolve()
        and (t := text_of(p)) is not None  # this file cites bad ones on purpose
    ]
    assert sum(1 for _ in section_references("\n".join(t for _, t in files))) > 50
    assert bad_references(files, sections) == []


def test_the_reference_check_catches_a_missing_section_and_the_brief() -> None:
    sections = contract_sections("# Data contracts\n## 3.1 Source tables\n## 3.4 Lake layout\n## 5 Local\n")
    assert sections == {"3", "3.1", "3.4", "5"}
    text = (
        "see docs/data-contracts.md 3.4 and 3.9, docs/data-contracts.md 5, docs/data-contracts.md\n  3.8; "
        f"{BRIEF_WORD} 3.6; {BRIEF_WORD}.md is a name"
    )
    assert bad_references([("x.py", text)], sections) == [
        "x.py: data-contracts.md 3.9",
        "x.py: data-contracts.md 3.8",
        f"x.py: '{BRIEF_WORD} 3'",
    ]


# --- (b) links and paths ------------------------------------------------------------------------------------
def top_level_names() -> set[str]:
    return {p.relative_to(REPO).parts[0] for p in tracked_files()}


def strip_code(text: str) -> str:
    """The text without fenced blocks and code spans (links are looked for in prose only)."""
    return CODE_SPAN.sub(" ", FENCE.sub(" ", text))


def relative_links(text: str) -> list[str]:
    """Targets of the Markdown links of `text` into the repository (no scheme, not only an anchor)."""
    targets = [target.split("#", 1)[0] for target in LINK.findall(strip_code(text))]
    return [t for t in targets if t and not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


def code_spans(text: str) -> list[str]:
    """The contents of the code spans of `text` (in a table, `\\|` is a `|`), outside fenced blocks."""
    spans = []
    for match in CODE_SPAN.finditer(FENCE.sub(" ", text)):
        content = match.group(2).replace("\\|", "|")
        if content.startswith(" ") and content.endswith(" ") and content.strip():
            content = content[1:-1]
        spans.append(content)
    return spans


def repo_paths(text: str, tops: set[str]) -> list[str]:
    """The backticked repository paths of `text`: `notebooks/stream.py`, `terraform/modules/mwaa`, `Makefile`;
    spans with a placeholder, a glob, a space or an option are not paths."""
    found = []
    for span in code_spans(text):
        path = span.rstrip("/").removeprefix("./")
        if not path or re.search(r"[<>{}*|$\s…]|\.\.\.|=", path) or NOT_PATHS.match(path):
            continue
        if path.split("/", 1)[0] in tops and ("/" in path or path in tops):
            found.append(path)
    return found


def gitignore_match(path: str, patterns: list[str]) -> bool:
    """Whether `.gitignore` patterns ignore `path` (the forms the repository's file uses: names, globs,
    `dir/`, `!` exceptions; the last matching pattern wins); for a tree without git."""
    from fnmatch import fnmatch

    parts = path.split("/")
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        if "/" in pattern:
            hit = fnmatch(path, pattern.lstrip("/"))
        else:
            hit = any(fnmatch(part, pattern) for part in parts)
        if hit:
            result = not negate
    return result


def ignored(paths: list[str]) -> set[str]:
    """Those of `paths` git ignores (files the user creates from an example, or a run writes)."""
    if not paths:
        return set()
    try:
        done = subprocess.run(
            ["git", "check-ignore", "--no-index", "--stdin"],
            cwd=REPO,
            input="\n".join(paths),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode in (0, 1):  # 1: none of them is ignored
            return set(done.stdout.split())
    except (OSError, subprocess.SubprocessError):
        pass
    lines = (REPO / ".gitignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return {path for path in paths if gitignore_match(path, patterns)}


def missing_paths(doc: Path, text: str, tops: set[str]) -> list[str]:
    """Links and backticked paths of `doc` that do not exist (links relative to the document, paths to the
    repository)."""
    wanted = [(link, (doc.parent / link).resolve()) for link in relative_links(text)]
    wanted += [(path, REPO / path) for path in repo_paths(text, tops)]
    absent = [(shown, target) for shown, target in wanted if not target.exists()]
    inside = [t.relative_to(REPO).as_posix() for _, t in absent if t.is_relative_to(REPO)]
    created_by_user = ignored(inside)
    return [
        shown
        for shown, target in absent
        if not (target.is_relative_to(REPO) and target.relative_to(REPO).as_posix() in created_by_user)
    ]


@pytest.mark.parametrize("doc", documents(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_link_and_backticked_path_of_the_documents_exists(doc: Path) -> None:
    assert missing_paths(doc, doc.read_text(), top_level_names()) == []


def test_the_documents_name_paths_the_path_check_sees() -> None:
    tops = top_level_names()
    seen = {path for doc in documents() for path in repo_paths(doc.read_text(), tops)}
    assert {
        "notebooks/stream.py",
        "notebooks/pinterest_pipeline/kinesis.py",
        "airflow/dags/pinterest_batch.py",
    } <= seen


def test_gitignore_patterns_without_git() -> None:
    patterns = [
        ".local/",
        "*.tfvars",
        "!*.tfvars.example",
        ".terraform.lock.hcl",
        "!terraform/envs/aws/.terraform.lock.hcl",
    ]
    assert gitignore_match("terraform/envs/aws/terraform.tfvars", patterns)
    assert not gitignore_match("terraform/envs/aws/terraform.tfvars.example", patterns)
    assert gitignore_match(".local/outputs/aws.json", patterns)
    assert gitignore_match("terraform/envs/local/.terraform.lock.hcl", patterns)
    assert not gitignore_match("terraform/envs/aws/.terraform.lock.hcl", patterns)
    assert not gitignore_match("notebooks/streams.py", patterns)


def test_the_path_check_catches_a_missing_file_and_a_broken_link(tmp_path: Path) -> None:
    text = (
        "Run `notebooks/stream.py` and `notebooks/streams.py`; see [the guide](deploy-aws.md),\n"
        "[gone](nowhere.md),\n"
        "[web](https://example.com), [anchor](#x), `terraform/modules/<name>/README.md`, `make run-batch`,\n"
        "`terraform/envs/aws/terraform.tfvars` (you create it), `terraform/modules/mwaa` and\n"
        "`terraform/modules/mwa`,\n"
        "the secret `airflow/pdp-demo/connections/databricks_default`, `airflow/dag.py`.\n"
        "```\nnotebooks/not-here.py is in a fence: not a span\n```\n"
    )
    doc = REPO / "docs" / "example.md"
    assert missing_paths(doc, text, top_level_names()) == [
        "nowhere.md",
        "notebooks/streams.py",
        "terraform/modules/mwa",
        "airflow/dag.py",
    ]


# --- (c) make targets ---------------------------------------------------------------------------------------
def make_rules(makefile: str) -> set[str]:
    """Targets with a rule (`name:` or `name1 name2:`, not a `:=` or `::=` assignment)."""
    rules = set()
    for line in makefile.splitlines():
        match = re.match(r"^([A-Za-z0-9_.$(){}/ -]+?)\s*::?(?![=:])", line)
        if match and not line.startswith("\t"):
            rules.update(t for t in match.group(1).split() if not t.startswith(("$", ".")))
    return rules


def phony(makefile: str) -> set[str]:
    """Every name listed in `.PHONY` (continuation lines joined)."""
    joined = makefile.replace("\\\n", " ")
    return {name for line in re.findall(r"^\.PHONY\s*:(.*)$", joined, re.M) for name in line.split()}


def readme_targets(readme: str) -> set[str]:
    """The targets the first column of the README's "Make targets" table names (`make a` / `make b`)."""
    section = re.search(r"^## Make targets\n(.*?)(?=^## )", readme, re.S | re.M)
    assert section, "README.md has no '## Make targets' section"
    rows = [line for line in section.group(1).splitlines() if line.startswith("| `make")]
    return {t for row in rows for t in re.findall(r"`make ([a-z][a-z0-9-]*)", row.split("|")[1])}


def shown_make_targets(text: str) -> set[str]:
    """Targets of the `make <target>` commands a document shows as code (spans and fenced blocks)."""
    code = "\n".join(code_spans(text) + FENCE.findall(text))
    return set(re.findall(r"(?:^|[\s;&|(`])make\s+([a-z][a-z0-9-]*)(?=$|[\s;&|)`])", code, re.M))


def test_every_phony_name_has_a_rule() -> None:
    makefile = MAKEFILE.read_text()
    assert len(phony(makefile)) > 10
    assert phony(makefile) - make_rules(makefile) == set()


def test_every_target_the_readme_lists_or_a_document_shows_is_a_rule() -> None:
    rules = make_rules(MAKEFILE.read_text())
    listed = readme_targets(README.read_text())
    assert {"setup", "demo", "test", "run-batch", "deploy-job"} <= listed
    assert listed - rules == set()
    for doc in documents():
        assert shown_make_targets(doc.read_text()) - rules == set(), doc.name


def test_the_readme_lists_every_target_the_makefile_offers() -> None:
    """Each `.PHONY` target but `help` (which prints this list) has its row in the README's table."""
    assert phony(MAKEFILE.read_text()) - readme_targets(README.read_text()) == {"help"}


def test_the_make_checks_catch_a_missing_rule() -> None:
    makefile = ".PHONY: a b \\\n        c\nX := 1\na: ## first\n\ttrue\nb c:\n\ttrue\nd: a\n"
    assert phony(makefile) == {"a", "b", "c"} and make_rules(makefile) == {"a", "b", "c", "d"}
    assert phony(".PHONY: a gone\n") - make_rules(makefile) == {"gone"}
    readme = "## Make targets\n| target | what |\n|---|---|\n| `make a` / `make e` | x `make f` |\n## Next\n"
    assert readme_targets(readme) == {"a", "e"}
    assert shown_make_targets(
        "run `make d --dry-run`, then\n```\nmake seed && make g ARGS=1\n```\nmake sure"
    ) == {
        "d",
        "seed",
        "g",
    }


# --- (d) troubleshooting messages ---------------------------------------------------------------------------
def troubleshooting_messages(readme: str) -> list[str]:
    """The code spans of the first column of the README's Troubleshooting table."""
    section = re.search(r"^## Troubleshooting\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    assert section, "README.md has no '## Troubleshooting' section"
    messages = []
    for line in section.group(1).splitlines():
        if not line.startswith("|") or re.match(r"^\|\s*(-+|symptom)", line):
            continue
        cells = re.split(r"(?<!\\)\|", line)
        messages += code_spans(cells[1])
    return messages


def render(node: ast.AST) -> str | None:
    """A string expression as text, each non-literal part (f-string field, a joined value) as FIELD."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else FIELD for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = render(node.left), render(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else FIELD) + (right if right is not None else FIELD)
    return None


def python_strings(source: str) -> list[str]:
    """Every string expression of a Python source, rendered."""
    return [s for node in ast.walk(ast.parse(source)) if (s := render(node)) is not None and len(s) > 3]


@cache
def code_strings() -> tuple[str, ...]:
    """The strings the project's code can print: Python string expressions, the Makefile, Terraform files."""
    strings: list[str] = []
    for path in tracked_files():
        top = path.relative_to(REPO).parts[0]
        if path.suffix == ".py" and top in CODE_DIRS:
            strings += python_strings(path.read_text())
        elif path.name == "Makefile" or (path.suffix == ".tf" and top == "terraform"):
            strings.append(path.read_text())
    return tuple(strings)


def message_pattern(message: str) -> re.Pattern[str]:
    """A quoted message as a pattern: `<placeholder>` matches any text (an f-string field), `...` elides."""
    parts, last = [], 0
    for match in PLACEHOLDER.finditer(message):
        parts.append(re.escape(message[last : match.start()]))
        parts.append(".+?" if match.group(0).startswith("<") else ".*?")
        last = match.end()
    parts.append(re.escape(message[last:]))
    return re.compile("".join(parts), re.S)


def unprinted(messages: Iterable[str], strings: Iterable[str]) -> list[str]:
    """The messages no code string matches."""
    strings = list(strings)
    return [m for m in messages if not any(message_pattern(m).search(s) for s in strings)]


def test_every_troubleshooting_message_is_one_the_code_prints() -> None:
    messages = troubleshooting_messages(README.read_text())
    assert len(messages) >= 8
    assert unprinted(messages, code_strings()) == []


def test_the_message_check_catches_a_message_the_code_does_not_print() -> None:
    source = (
        "def f(name, port):\n"
        "    raise E(f'{name}: port {port} is already in use ({who}). Stop that process')\n"
        "    print('left ' + str(x) + ' to go')\n"
    )
    strings = python_strings(source)
    readme = (
        "## Troubleshooting\n| symptom | cause and fix |\n|---|---|\n"
        "| `<component>: port <port> is already in use` | x |\n"
        "| `` a `tick` `` and `left <n> to go` | y |\n"
        "| `port 4566 (localstack) is already in use` | z |\n"
        "| `... Stop that process` | w |\n"
    )
    messages = troubleshooting_messages(readme)
    assert messages == [
        "<component>: port <port> is already in use",
        "a `tick`",
        "left <n> to go",
        "port 4566 (localstack) is already in use",
        "... Stop that process",
    ]
    assert unprinted(messages, strings) == ["a `tick`", "port 4566 (localstack) is already in use"]
