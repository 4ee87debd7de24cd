"""Emulator configuration: flags > environment > `.env` > terraform outputs (> defaults).

Settings and their environment names: `USER_ID`, `PIPELINE_API_URL` (the API Gateway invoke URL),
`PIPELINE_API_KEY`, `PIPELINE_DB_URL`, `PIPELINE_TARGET` (`local`, the default, or `aws`). The API URL and key
come from the terraform outputs (`invoke_url`, `api_key`, `topics`) when no higher source sets them: the file
`make apply` / `make local-up` writes (`.local/outputs/<target>.json`), else
`terraform -chdir=terraform/envs/<target> output -json`.
Credentials never live in the repository: a gitignored `.env` (see `.env.example`) or the environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from emulation.names import PipelineNames
from emulation.source_db import DEFAULT_DB_URL

TARGETS = ("local", "aws")
ENV_NAMES = {
    "user_id": "USER_ID",
    "api_url": "PIPELINE_API_URL",
    "api_key": "PIPELINE_API_KEY",
    "db_url": "PIPELINE_DB_URL",
    "target": "PIPELINE_TARGET",
}
DEFAULTS = {"user_id": "demo", "db_url": DEFAULT_DB_URL, "target": "local"}


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
    state_dir: Path = Path(".local")
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


def terraform_outputs(target: str, root: Path = Path(".")) -> dict[str, Any]:
    """Output values of `terraform/envs/<target>` (`{}` when there are none or terraform is absent).

    The outputs file in terraform's JSON format that `make apply` (`.local/outputs/aws.json`) or `make local-up`
    (`.local/outputs/local.json`) writes is read first (instant); `terraform output -json` otherwise.
    """
    saved = root / ".local" / "outputs" / f"{target}.json"
    if saved.exists():
        try:
            return _values(json.loads(saved.read_text()))
        except json.JSONDecodeError:
            pass
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
    dotenv_path: str | Path = ".env",
    outputs: Callable[[str], Mapping[str, Any]] | None = None,
    state_dir: str | Path = ".local",
) -> Config:
    """Resolve the configuration. Keyword arguments are the flags (None = not given).

    `environ` defaults to `os.environ`; `outputs(target)` to `terraform_outputs` (only called when the API URL,
    key or user id is still unset after flags, environment and `.env`).
    """
    environ = os.environ if environ is None else environ
    flags = {"user_id": user_id, "api_url": api_url, "api_key": api_key, "db_url": db_url, "target": target}
    dotenv = {k: v for k, v in dotenv_values(dotenv_path).items() if v} if Path(dotenv_path).exists() else {}
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
        for key, value in _from_outputs((outputs or terraform_outputs)(chosen_target)).items():
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
        state_dir=Path(state_dir),
        sources=sources,
    )
