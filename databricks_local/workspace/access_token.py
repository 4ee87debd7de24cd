"""The workspace's access token: generated at the first start (`dapi` and 32 hex digits, like a Databricks personal
access token) and kept in a 0600 file, so every later start, the stack's outputs and the clients agree on it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

#: What a Databricks personal access token begins with.
PAT_PREFIX = "dapi"


def ensure_token(path: Path) -> str:
    """The token in `path`, created (0600, its directory 0700) when missing or empty."""
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        token = ""
    if token:
        os.chmod(path, 0o600)
        return token
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = PAT_PREFIX + secrets.token_hex(16)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(token + "\n")
    tmp.replace(path)
    return token


def read_token(path: Path) -> str:
    """The token of a running workspace; a clear error when the file is missing."""
    try:
        token = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise RuntimeError(f"no workspace token at {path}: {exc.strerror or exc}") from exc
    if not token:
        raise RuntimeError(f"the workspace token file {path} is empty")
    return token
