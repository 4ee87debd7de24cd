"""The workspace's state on disk, under `<state dir>/databricks/`, so a restarted server keeps it:

- `workspace.db` (SQLite, 0600): workspace objects (path, type, language, id, times), jobs, runs, secret scopes and
  secrets, and the id counters;
- `files/<workspace path>`: the bytes of every imported file and notebook (a Python source notebook as
  `<path>.py`, a Jupyter one as `<path>.ipynb`), which is what a run executes;
- `runs/<run id>/`: each task run's log, result file and secrets file (0600).

Every file and directory is created readable by its owner only (the server runs with umask 077). The server calls
the store from its event loop thread only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    path TEXT PRIMARY KEY, object_type TEXT NOT NULL, language TEXT, object_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL, modified_at INTEGER NOT NULL, disk TEXT
);
CREATE TABLE IF NOT EXISTS jobs (job_id INTEGER PRIMARY KEY, name TEXT, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run_id INTEGER PRIMARY KEY, job_id INTEGER, parent INTEGER, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scopes (name TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (
    scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (token TEXT PRIMARY KEY, run_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job_id, run_id);
"""


def now_ms() -> int:
    return int(time.time() * 1000)


class Store:
    """SQLite tables and the files directory of one workspace."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = root / "files"
        self.runs_dir = root / "runs"
        for directory in (root, self.files, self.runs_dir):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = root / "workspace.db"
        if not db.exists():
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(db, 0o600)
        self.db = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.db.row_factory = sqlite3.Row

    def close(self) -> None:
        self.db.close()

    # --- ids -------------------------------------------------------------------------------------------
    def next_id(self, name: str, start: int) -> int:
        """The next id of a sequence (job ids, run ids, object ids), kept across restarts."""
        row = self.db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        value = (row["value"] if row else start) + 1
        self.db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = ?",
            (name, value, value),
        )
        return value

    # --- objects ---------------------------------------------------------------------------------------
    def get_object(self, path: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM objects WHERE path = ?", (path,)).fetchone()

    def object_by_id(self, object_id: int) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM objects WHERE object_id = ?", (object_id,)).fetchone()

    def children(self, path: str) -> list[sqlite3.Row]:
        prefix = path.rstrip("/") + "/"
        rows = self.db.execute(
            "SELECT * FROM objects WHERE substr(path, 1, ?) = ? ORDER BY path", (len(prefix), prefix)
        ).fetchall()
        return [r for r in rows if "/" not in r["path"][len(prefix) :]]

    def descendants(self, path: str) -> list[sqlite3.Row]:
        prefix = path.rstrip("/") + "/"
        return self.db.execute(
            "SELECT * FROM objects WHERE substr(path, 1, ?) = ? ORDER BY path DESC", (len(prefix), prefix)
        ).fetchall()

    def put_object(
        self,
        path: str,
        object_type: str,
        language: str | None,
        disk: str | None,
        object_id: int | None = None,
    ) -> None:
        existing = self.get_object(path)
        stamp = now_ms()
        if existing is not None:
            self.db.execute(
                "UPDATE objects SET object_type = ?, language = ?, modified_at = ?, disk = ? WHERE path = ?",
                (object_type, language, stamp, disk, path),
            )
            return
        oid = object_id or self.next_id("object_id", 1_000_000_000)
        self.db.execute(
            "INSERT INTO objects (path, object_type, language, object_id, created_at, modified_at, disk) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (path, object_type, language, oid, stamp, stamp, disk),
        )

    def delete_objects(self, paths: list[str]) -> None:
        self.db.executemany("DELETE FROM objects WHERE path = ?", [(p,) for p in paths])

    # --- jobs ------------------------------------------------------------------------------------------
    def save_job(self, job: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO jobs (job_id, name, data) VALUES (?, ?, ?) "
            "ON CONFLICT (job_id) DO UPDATE SET name = excluded.name, data = excluded.data",
            (job["job_id"], job["settings"].get("name"), json.dumps(job)),
        )

    def get_job(self, job_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT data FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return json.loads(row["data"]) if row else None

    def jobs(self, name: str | None = None) -> list[dict[str, Any]]:
        if name is None:
            rows = self.db.execute("SELECT data FROM jobs ORDER BY job_id").fetchall()
        else:
            rows = self.db.execute(
                "SELECT data FROM jobs WHERE lower(name) = lower(?) ORDER BY job_id", (name,)
            ).fetchall()
        return [json.loads(r["data"]) for r in rows]

    def delete_job(self, job_id: int) -> None:
        self.db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))

    # --- runs ------------------------------------------------------------------------------------------
    def save_run(self, run: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO runs (run_id, job_id, parent, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET data = excluded.data",
            (run["run_id"], run.get("job_id"), run.get("parent_run_id"), json.dumps(run)),
        )

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT data FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return json.loads(row["data"]) if row else None

    def runs(self, job_id: int | None = None) -> Iterator[dict[str, Any]]:
        """Top-level runs (not task runs), newest first."""
        if job_id is None:
            rows = self.db.execute("SELECT data FROM runs WHERE parent IS NULL ORDER BY run_id DESC")
        else:
            rows = self.db.execute(
                "SELECT data FROM runs WHERE parent IS NULL AND job_id = ? ORDER BY run_id DESC", (job_id,)
            )
        for row in rows:
            yield json.loads(row["data"])

    def delete_run(self, run_id: int) -> None:
        self.db.execute("DELETE FROM runs WHERE run_id = ? OR parent = ?", (run_id, run_id))

    def run_of_token(self, token: str) -> int | None:
        row = self.db.execute("SELECT run_id FROM idempotency WHERE token = ?", (token,)).fetchone()
        return int(row["run_id"]) if row else None

    def remember_token(self, token: str, run_id: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO idempotency (token, run_id) VALUES (?, ?)", (token, run_id))

    # --- secrets ---------------------------------------------------------------------------------------
    def scopes(self) -> list[dict[str, Any]]:
        return [json.loads(r["data"]) for r in self.db.execute("SELECT data FROM scopes ORDER BY name")]

    def get_scope(self, name: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT data FROM scopes WHERE name = ?", (name,)).fetchone()
        return json.loads(row["data"]) if row else None

    def add_scope(self, scope: dict[str, Any]) -> None:
        self.db.execute("INSERT INTO scopes (name, data) VALUES (?, ?)", (scope["name"], json.dumps(scope)))

    def delete_scope(self, name: str) -> None:
        self.db.execute("DELETE FROM secrets WHERE scope = ?", (name,))
        self.db.execute("DELETE FROM scopes WHERE name = ?", (name,))

    def put_secret(self, scope: str, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO secrets (scope, key, value, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
            (scope, key, value, now_ms()),
        )

    def secrets(self, scope: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM secrets WHERE scope = ? ORDER BY key", (scope,)).fetchall()

    def get_secret(self, scope: str, key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM secrets WHERE scope = ? AND key = ?", (scope, key)).fetchone()

    def delete_secret(self, scope: str, key: str) -> bool:
        return self.db.execute("DELETE FROM secrets WHERE scope = ? AND key = ?", (scope, key)).rowcount > 0

    def secret_store(self) -> dict[str, dict[str, str]]:
        """Every scope's secrets, as the runs receive them."""
        store: dict[str, dict[str, str]] = {s["name"]: {} for s in self.scopes()}
        for row in self.db.execute("SELECT scope, key, value FROM secrets"):
            store.setdefault(row["scope"], {})[row["key"]] = row["value"]
        return store
