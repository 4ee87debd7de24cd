"""Workspace 2.0 of the local workspace: `import`, `export`, `get-status`, `list`, `mkdirs`, `delete`.

Objects (directories, notebooks, files) are rows of the store; their bytes are files under `<store>/files/`, laid
out as the workspace tree: a notebook `/Users/a/etl` imported in Python source is `files/Users/a/etl.py` (Jupyter:
`etl.ipynb`), a workspace file `/Users/a/lib.py` is `files/Users/a/lib.py`. A run executes those bytes (the
notebook runtime resolves `%run` and imports in that tree), so what is imported is what runs. A notebook and a
file whose names meet on disk (`etl` and `etl.py`) cannot both exist; the second is `RESOURCE_ALREADY_EXISTS`.

Import formats: SOURCE (a notebook in `language`), JUPYTER (a notebook), RAW (a file), AUTO (a `.ipynb`, or a
`.py`/`.sql`/`.scala`/`.r` beginning with the Databricks source header, is a notebook whose name loses the
extension, as is a name without extension that begins with a header; anything else is a file). Export formats: SOURCE, JUPYTER, RAW and AUTO, as JSON (`content` base64) or
the bytes themselves with `direct_download=true`. `/Workspace/...` paths name the same objects as `/...`.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from databricks_local.workspace import formats
from databricks_local.workspace.errors import ApiError, already_exists, invalid, not_found
from databricks_local.workspace.store import Store

NOTEBOOK, FILE, DIRECTORY = "NOTEBOOK", "FILE", "DIRECTORY"
IMPORT_FORMATS = ("SOURCE", "JUPYTER", "AUTO", "RAW")
EXPORT_FORMATS = ("SOURCE", "JUPYTER", "AUTO", "RAW")
MAX_IMPORT_BYTES = 10 * 1024 * 1024


def normalize(path: Any) -> str:
    """An absolute workspace path without `/Workspace`, `.`/`..` or a trailing slash; else INVALID_PARAMETER_VALUE."""
    if not isinstance(path, str) or not path:
        raise invalid("Missing required field: path")
    if not path.startswith("/"):
        raise invalid(f"Path ({path}) must be absolute")
    clean = posixpath.normpath(path)
    if clean.startswith("//"):
        clean = "/" + clean.lstrip("/")
    if clean == "/Workspace" or clean.startswith("/Workspace/"):
        clean = clean[len("/Workspace") :] or "/"
    return clean


class Workspace:
    """The workspace tree of one store."""

    def __init__(self, store: Store, home: str | None = None) -> None:
        self.store = store
        self.files = store.files
        for folder in (
            "/Shared",
            home,
        ):  # as in a new Databricks workspace: /Shared and the user's home exist
            if folder:
                self._make_dirs(folder)

    # --- lookups -----------------------------------------------------------------------------------
    def info(self, path: str) -> dict[str, Any] | None:
        if path == "/":
            return {"path": "/", "object_type": DIRECTORY, "object_id": 0}
        row = self.store.get_object(path)
        if row is None:
            return None
        info: dict[str, Any] = {
            "path": row["path"],
            "object_type": row["object_type"],
            "object_id": row["object_id"],
            "resource_id": str(row["object_id"]),
            "created_at": row["created_at"],
            "modified_at": row["modified_at"],
        }
        if row["language"]:
            info["language"] = row["language"]
        if row["object_type"] == FILE and row["disk"]:
            disk = self.files / row["disk"]
            info["size"] = disk.stat().st_size if disk.exists() else 0
        return info

    def require(self, path: str) -> dict[str, Any]:
        info = self.info(path)
        if info is None:
            raise not_found(f"Path ({path}) doesn't exist.")
        return info

    def disk_path(self, path: str) -> Path | None:
        """Where the bytes of a notebook or file are (None for a directory or an unknown path)."""
        row = self.store.get_object(path) if path != "/" else None
        if row is None or not row["disk"]:
            return None
        return self.files / row["disk"]

    def notebook_file(self, path: str) -> Path:
        """The file a run executes for the notebook at `path` (RESOURCE_DOES_NOT_EXIST if it is no notebook)."""
        clean = normalize(path)
        row = self.store.get_object(clean)
        if row is None:
            raise not_found(f"Notebook not found: {clean}")
        if row["object_type"] != NOTEBOOK:
            raise invalid(
                f"{clean} is a {row['object_type'].lower()}, not a notebook: a notebook task runs notebooks"
            )
        return self.files / row["disk"]

    # --- mkdirs ------------------------------------------------------------------------------------
    def mkdirs(self, body: Mapping[str, Any]) -> dict[str, Any]:
        path = normalize(body.get("path"))
        self._make_dirs(path)
        return {}

    def _make_dirs(self, path: str) -> None:
        if path == "/":
            return
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            current = "/" + "/".join(parts[:i])
            row = self.store.get_object(current)
            if row is None:
                self.store.put_object(current, DIRECTORY, None, current.lstrip("/"))
                (self.files / current.lstrip("/")).mkdir(parents=True, exist_ok=True, mode=0o700)
            elif row["object_type"] != DIRECTORY:
                raise already_exists(f"Path ({current}) already exists and is not a directory.")

    # --- import ------------------------------------------------------------------------------------
    def import_(self, body: Mapping[str, Any], content: bytes | None = None) -> dict[str, Any]:
        """`POST /api/2.0/workspace/import` (JSON with base64 `content`, or multipart with a `content` part)."""
        path = normalize(body.get("path"))
        fmt = str(body.get("format") or "SOURCE").upper()
        if fmt not in IMPORT_FORMATS:
            raise invalid(
                f"Import format {fmt} is not supported by the local workspace (SOURCE, JUPYTER, AUTO, RAW)"
            )
        overwrite = body.get("overwrite") in (True, "true", "True", "1", 1)
        if content is None:
            raw = body.get("content")
            if raw is None:
                content = b""
            else:
                try:
                    content = base64.b64decode(str(raw), validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise invalid(f"content is not valid base64: {exc}") from exc
        if len(content) > MAX_IMPORT_BYTES:
            raise ApiError(
                400,
                "MAX_NOTEBOOK_SIZE_EXCEEDED",
                f"File size imported is ({len(content)} bytes), exceeded max size ({MAX_IMPORT_BYTES} bytes)",
            )
        language = body.get("language")
        language = str(language).upper() if language else None
        if language is not None and language not in formats.COMMENT:
            raise invalid(f"Invalid language: {language}")
        kind, path, language, suffix = self._classify(path, fmt, language, content)
        if path == "/":
            raise already_exists("Path (/) already exists.")
        parent = posixpath.dirname(path)
        parent_info = self.info(parent)
        if parent_info is None:
            raise not_found(f"The parent folder ({parent}) does not exist.")
        if parent_info["object_type"] != DIRECTORY:
            raise invalid(f"The parent ({parent}) is not a folder.")
        existing = self.store.get_object(path)
        if existing is not None:
            if existing["object_type"] == DIRECTORY:
                raise already_exists(f"Path ({path}) already exists and is a directory.")
            if not overwrite:
                raise already_exists(f"Path ({path}) already exists.")
        disk = path.lstrip("/") + suffix
        other = self._disk_owner(disk)
        if other is not None and other != path:
            raise already_exists(f"Path ({path}) conflicts with {other}, which is stored as the same file.")
        target = self.files / disk
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if existing is not None and existing["disk"] and existing["disk"] != disk:
            (self.files / existing["disk"]).unlink(missing_ok=True)
        tmp = target.with_name(f".{target.name}.importing")
        tmp.write_bytes(content)
        tmp.chmod(0o600)
        tmp.replace(target)
        self.store.put_object(path, kind, language, disk)
        return {}

    def _classify(
        self, path: str, fmt: str, language: str | None, content: bytes
    ) -> tuple[str, str, str | None, str]:
        """(object type, final path, language, disk suffix) of an import."""
        stem, ext = posixpath.splitext(path)
        if fmt == "RAW":
            return FILE, path, None, ""
        if fmt == "JUPYTER":
            try:
                lang = formats.jupyter_language(content)
            except ValueError as exc:
                raise invalid(f"Could not import {path} as a Jupyter notebook: {exc}") from exc
            return NOTEBOOK, stem if ext == ".ipynb" else path, lang, ".ipynb"
        if fmt == "SOURCE":
            if language is None:
                raise invalid("The language must be specified when importing in the SOURCE format.")
            return NOTEBOOK, path, language, formats.EXTENSION[language]
        # AUTO
        if ext == ".ipynb":
            try:
                lang = formats.jupyter_language(content)
            except ValueError:
                return FILE, path, None, ""
            return NOTEBOOK, stem, lang, ".ipynb"
        lang = formats.LANGUAGE_OF.get(ext.lower())
        if lang is not None and formats.is_source_notebook(content, lang):
            return NOTEBOOK, stem, lang, formats.EXTENSION[lang]
        if not ext:  # no extension: the header alone says it is a notebook (`#` Python, `--` SQL, `//` Scala)
            for lang in ("PYTHON", "SQL", "SCALA"):
                if formats.is_source_notebook(content, lang):
                    return NOTEBOOK, path, language or lang, formats.EXTENSION[language or lang]
        return FILE, path, None, ""

    def _disk_owner(self, disk: str) -> str | None:
        row = self.store.db.execute("SELECT path FROM objects WHERE disk = ?", (disk,)).fetchone()
        return row["path"] if row else None

    # --- export ------------------------------------------------------------------------------------
    def export(self, query: Mapping[str, str]) -> tuple[bytes, dict[str, Any]]:
        """(content, JSON answer without content) of `GET /api/2.0/workspace/export`."""
        path = normalize(query.get("path"))
        fmt = str(query.get("format") or "SOURCE").upper()
        if fmt not in EXPORT_FORMATS:
            raise invalid(
                f"Export format {fmt} is not supported by the local workspace (SOURCE, JUPYTER, AUTO, RAW)"
            )
        info = self.require(path)
        if info["object_type"] == DIRECTORY:
            raise invalid(
                f"Path ({path}) is a directory: the local workspace exports notebooks and files only."
            )
        row = self.store.get_object(path)
        assert row is not None
        data = (self.files / row["disk"]).read_bytes()
        if info["object_type"] == FILE:
            return data, {"file_type": posixpath.splitext(path)[1].lstrip(".")}
        language = row["language"] or "PYTHON"
        stored_jupyter = row["disk"].endswith(".ipynb")
        if fmt == "JUPYTER" or (fmt == "AUTO" and stored_jupyter):
            if not stored_jupyter:
                data = formats.source_to_jupyter(data, language, posixpath.basename(path))
            return data, {"file_type": "ipynb"}
        if stored_jupyter:
            data = formats.jupyter_to_source(data, language)
        return data, {"file_type": formats.EXTENSION[language].lstrip(".")}

    # --- list, status, delete ------------------------------------------------------------------------
    def get_status(self, query: Mapping[str, str]) -> dict[str, Any]:
        return self.require(normalize(query.get("path")))

    def list(self, query: Mapping[str, str]) -> dict[str, Any]:
        path = normalize(query.get("path"))
        info = self.require(path)
        if info["object_type"] != DIRECTORY:
            return {"objects": [info]}
        since = query.get("notebooks_modified_after")
        objects = []
        for row in self.store.children(path):
            child = self.info(row["path"])
            assert child is not None
            if since and child["object_type"] == NOTEBOOK and child["modified_at"] <= int(since):
                continue
            objects.append(child)
        return {"objects": objects} if objects else {}

    def delete(self, body: Mapping[str, Any]) -> dict[str, Any]:
        path = normalize(body.get("path"))
        recursive = body.get("recursive") in (True, "true", "True", 1)
        if path == "/":
            raise invalid("The workspace root cannot be deleted.")
        info = self.require(path)
        if info["object_type"] == DIRECTORY:
            below = self.store.descendants(path)
            if below and not recursive:
                raise ApiError(400, "DIRECTORY_NOT_EMPTY", f"Folder ({path}) is not empty.")
            self.store.delete_objects([r["path"] for r in below] + [path])
            shutil.rmtree(self.files / path.lstrip("/"), ignore_errors=True)
        else:
            disk = self.disk_path(path)
            self.store.delete_objects([path])
            if disk is not None:
                disk.unlink(missing_ok=True)
        return {}
