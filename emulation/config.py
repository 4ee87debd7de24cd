"""Emulator configuration, and the one place every tool finds `.env` and the state directory.

Precedence: flags > environment > `.env` > terraform outputs (> defaults). Settings and their environment names:
`USER_ID`, `PIPELINE_API_URL` (the API Gateway invoke URL), `PIPELINE_API_KEY`, `PIPELINE_DB_URL`,
`PIPELINE_TARGET` (`local`, the default, or `aws`). The API URL and key come from the terraform outputs
(`invoke_url`, `api_key`, `topics`) when no higher source sets them: the file `make local-up` / `make apply`
writes (`<state dir>/outputs/<target>.json`), else (aws only) `terraform -chdir=terraform/envs/aws output -json`.

Shared with the local stack (`local_stack/config.py` calls these, so there is one reader and one location):
- `read_dotenv()`: the repository's `.env` (gitignored; see `.env.example`), parsed by python-dotenv;
- `resolve_user_id()`: `USER_ID` from the environment, then `.env`, else `demo` (the Makefile's default too:
  `python -m emulation.config user-id` prints it);
- `default_state_dir()`: `$PIPELINE_STATE_DIR`, else `<repo>/.local` (logs, PIDs, terraform outputs,
  checkpoints and dead letters; `python -m emulation.config state-dir` prints it).
Credentials never live in the repository: a gitignored `.env` or the environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from emulation.names import PipelineNames

#: The repository root: where `.env`, `.local/` and `terraform/` are.
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The `.env` file every tool reads (the Makefile through `python -m emulation.config user-id`).
DOTENV_FILE = REPO_ROOT / ".env"
STATE_DIR_ENV = "PIPELINE_STATE_DIR"
DEFAULT_USER_ID = "demo"
#: The source database `make seed` writes (a SQLite file; relative to the working directory, as `make` runs).
DEFAULT_DB_URL = "sqlite:///.local/source.db"
TARGETS = ("local", "aws")
ENV_NAMES = {
    "user_id": "USER_ID",
    "api_url": "PIPELINE_API_URL",
    "api_key": "PIPELINE_API_KEY",
    "db_url": "PIPELINE_DB_URL",
    "target": "PIPELINE_TARGET",
}
DEFAULTS = {"user_id": DEFAULT_USER_ID, "db_url": DEFAULT_DB_URL, "target": "local"}


class ConfigError(Exception):
    """A setting is missing or invalid (the message says how to provide it)."""


@dataclass(frozen=True)
class Config:
    """Everything the emulator needs to read the source and reach the API."""

    user_id: str
    api_url: str | None
    api_key: str | None = field(repr=False)
    db_url: str = DEFAULT_DB_URL
    target: str = "local"
    state_dir: Path = field(default_factory=lambda: default_state_dir())
    #: Where each setting came from (`flag`, `env`, `.env`, `terraform`, `default`), for messages.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def names(self) -> PipelineNames:
        return PipelineNames(self.user_id)

    def require_api(self) -> None:
        """Raise ConfigError naming how to get the API URL and key if either is missing."""
        missing = [ENV_NAMES[k] for k in ("api_url", "api_key") if not getattr(self, k)]
        if missing:
            how = "`make local-up`" if self.target == "local" else "`make apply`"
            raise ConfigError(
                f"no {' and no '.join(missing)}: start the API with {how} (its terraform outputs `invoke_url` and "
                f"`api_key` are read automatically), or set {', '.join(missing)} in the environment or .env"
            )


def read_dotenv(path: str | Path | None = None) -> dict[str, str]:
    """The settings of a `.env` file (default: the repository's), parsed by python-dotenv (comments, quotes,
    `export`); empty when the file is absent. A key with an empty value counts as unset and is left out."""
    path = Path(DOTENV_FILE if path is None else path)
    if not path.is_file():
        return {}
    return {key: value for key, value in dotenv_values(path).items() if value}


def resolve_user_id(environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = None) -> str:
    """`USER_ID` from the environment, then from `.env`, else `demo`."""
    environ = os.environ if environ is None else environ
    return environ.get("USER_ID") or read_dotenv(dotenv_path).get("USER_ID") or DEFAULT_USER_ID


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$PIPELINE_STATE_DIR` (made absolute), else `<repo>/.local`: where the local stack keeps its logs, PIDs
    and terraform outputs and the emulator its checkpoints and dead letters."""
    environ = os.environ if environ is None else environ
    return Path(environ.get(STATE_DIR_ENV) or REPO_ROOT / ".local").absolute()


def terraform_outputs(
    target: str, *, state_dir: str | Path | None = None, root: Path = REPO_ROOT
) -> dict[str, Any]:
    """Output values of `terraform/envs/<target>` (`{}` when there are none or terraform is absent).

    The outputs file that `make local-up` (`<state dir>/outputs/local.json`) or `make apply`
    (`.local/outputs/aws.json`) writes, in terraform's JSON format, is read first (instant). For `aws`,
    `terraform output -json` otherwise; never for `local`, whose terraform state belongs to one state dir (the
    stack writes the file on every `up`, so no file means no stack there).
    """
    state = default_state_dir() if state_dir is None else Path(state_dir)
    saved = state / "outputs" / f"{target}.json"
    if saved.exists():
        try:
            return _values(json.loads(saved.read_text()))
        except json.JSONDecodeError:
            pass
    if target == "local":
        return {}
    return _terraform_output(root / "terraform" / "envs" / target)


def _terraform_output(env_dir: Path) -> dict[str, Any]:
    if not env_dir.is_dir() or shutil.which("terraform") is None:
        return {}
    try:
        done = subprocess.run(
            ["terraform", f"-chdir={env_dir}", "output", "-json"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if done.returncode != 0 or not done.stdout.strip():
        return {}
    try:
        return _values(json.loads(done.stdout))
    except json.JSONDecodeError:
        return {}


def _values(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """`terraform output -json` wraps each output as `{"value": ..., "sensitive": ...}`; unwrap it."""
    return {k: v["value"] if isinstance(v, Mapping) and "value" in v else v for k, v in outputs.items()}


def _from_outputs(outputs: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    if outputs.get("invoke_url"):
        found["api_url"] = str(outputs["invoke_url"])
    if outputs.get("api_key"):
        found["api_key"] = str(outputs["api_key"])
    if outputs.get("user_id"):
        found["user_id"] = str(outputs["user_id"])
    else:
        topics = outputs.get("topics")
        names = list(topics.values()) if isinstance(topics, Mapping) else topics or []
        if names and isinstance(names[0], str) and "." in names[0]:
            found["user_id"] = names[0].rsplit(".", 1)[0]
    return found


def load_config(
    *,
    user_id: str | None = None,
    api_url: str | None = None,
    api_key: str | None = None,
    db_url: str | None = None,
    target: str | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | Path | None = None,
    outputs: Callable[[str], Mapping[str, Any]] | None = None,
    state_dir: str | Path | None = None,
) -> Config:
    """Resolve the configuration. Keyword arguments are the flags (None = not given).

    `environ` defaults to `os.environ`, `dotenv_path` to the repository's `.env`, `state_dir` to
    `default_state_dir(environ)`; `outputs(target)` to `terraform_outputs` of that state dir (only called when
    the API URL, key or user id is still unset after flags, environment and `.env`).
    """
    environ = os.environ if environ is None else environ
    state = default_state_dir(environ) if state_dir is None else Path(state_dir)
    flags = {"user_id": user_id, "api_url": api_url, "api_key": api_key, "db_url": db_url, "target": target}
    dotenv = read_dotenv(dotenv_path)
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for key, env_name in ENV_NAMES.items():
        for source, value in (
            ("flag", flags[key]),
            ("env", environ.get(env_name)),
            (".env", dotenv.get(env_name)),
        ):
            if value:
                values[key], sources[key] = value, source
                break
    chosen_target = values.get("target", DEFAULTS["target"])
    if chosen_target not in TARGETS:
        raise ConfigError(f"unknown target {chosen_target!r} ({ENV_NAMES['target']}): expected local or aws")
    if any(k not in values for k in ("api_url", "api_key", "user_id")):
        read = outputs or (lambda t: terraform_outputs(t, state_dir=state))
        for key, value in _from_outputs(read(chosen_target)).items():
            if key not in values:
                values[key], sources[key] = value, "terraform"
    for key, value in DEFAULTS.items():
        if key not in values:
            values[key], sources[key] = value, "default"
    return Config(
        user_id=values["user_id"],
        api_url=values.get("api_url", "").rstrip("/") or None,
        api_key=values.get("api_key"),
        db_url=values["db_url"],
        target=values["target"],
        state_dir=state,
        sources=sources,
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m emulation.config user-id|state-dir`: print the resolved value (the Makefile's defaults)."""
    args = sys.argv[1:] if argv is None else argv
    commands = {"user-id": lambda: resolve_user_id(), "state-dir": lambda: str(default_state_dir())}
    if len(args) != 1 or args[0] not in commands:
        print(f"usage: python -m emulation.config {{{','.join(commands)}}}", file=sys.stderr)
        return 2
    print(commands[args[0]]())
    return 0


if __name__ == "__main__":
    sys.exit(main())
