"""Load the project's Databricks Asset Bundle (`databricks.yml`): the one place a job setting is written.

The Databricks CLI (`databricks bundle deploy -t <target>`) reads the whole bundle language; `make deploy-job`
(databricks-sdk, for users without the CLI and for the local workspace) reads this fixed subset of it and fails,
naming the file and the key, on anything else:

* `bundle`: `name` (required);
* `include`: globs of YAML files relative to `databricks.yml` (`resources/*.yml`); an included file holds only
  `resources`;
* `variables`: `<name>: {description, default}`; a variable without a default is required. Values, strongest first:
  `--var name=value`, the values a deploy passes from Terraform outputs, `BUNDLE_VAR_<name>`, the target's
  `variables`, the default (which may reference other variables);
* `workspace`: `host`, `profile`, `root_path`, `file_path` (default `${workspace.root_path}/files`; `root_path`
  defaults to the CLI's `/Workspace/Users/<you>/.bundle/<bundle>/<target>`);
* references `${var.<name>}`, `${bundle.name}`, `${bundle.target}`, `${workspace.host|root_path|file_path}` and
  `${workspace.current_user.userName|short_name}` (the last two ask the workspace who you are);
* `targets`: `<name>: {default, mode, workspace, variables, resources}`; `mode: development` prefixes job names
  with `[dev <short_name>] `, tags them `dev: <short_name>` and pauses their schedules, `mode: production` changes
  nothing; a target's `resources.jobs.<key>` is merged into the job (mappings key by key, `tasks` by `task_key`,
  `job_clusters` by `job_cluster_key`, `parameters` by `name`, other lists replaced);
* `resources.jobs`: each job is checked against the `databricks-bundles` job model, and a relative
  `notebook_task.notebook_path` (relative to the YAML file that holds it) names a notebook inside the bundle, which
  a deploy finds at `${workspace.file_path}/<its path from the bundle root, without extension>`.
"""

from __future__ import annotations

import copy
import fnmatch
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from databricks_deploy.discovery import DeployError

BUNDLE_FILE = "databricks.yml"
REPO_ROOT = Path(__file__).resolve().parent.parent

TOP_LEVEL = {"bundle", "include", "variables", "workspace", "targets", "resources"}
BUNDLE_KEYS = {"name"}
VARIABLE_KEYS = {"description", "default"}
WORKSPACE_KEYS = {"host", "profile", "root_path", "file_path"}
TARGET_KEYS = {"default", "mode", "workspace", "variables", "resources"}
MODES = ("development", "production")
RESOURCE_KINDS = {"jobs"}
#: How a target's list merges into the job's list: by this key of its items.
MERGE_KEYS = {"tasks": "task_key", "job_clusters": "job_cluster_key", "parameters": "name"}
REFERENCE = re.compile(r"\$\{([^}]*)\}")
WORKSPACE_REFS = {"host", "root_path", "file_path", "current_user.userName", "current_user.short_name"}


class BundleError(DeployError):
    """A bundle outside the supported subset, or one that does not resolve: says the file and the key."""

    def __init__(self, file: Path, key: str, message: str) -> None:
        self.file, self.key = file, key
        super().__init__(f"{_show(file)}: {key}: {message}" if key else f"{_show(file)}: {message}")


class NeedsCurrentUser(BundleError):
    """The bundle refers to `${workspace.current_user.*}` (or is in development mode): ask the workspace."""


@dataclass(frozen=True)
class BundleJob:
    """One job of the bundle, resolved for a target: its settings as the Jobs API takes them."""

    key: str
    settings: dict[str, Any]
    source: Path  # the YAML file that defines it
    notebooks: dict[str, Path] = field(default_factory=dict)  # workspace path -> local file

    @property
    def name(self) -> str:
        return str(self.settings["name"])


@dataclass(frozen=True)
class Bundle:
    """The bundle resolved for one target."""

    name: str
    target: str
    mode: str | None
    root: Path
    workspace: dict[str, str]
    variables: dict[str, Any]
    jobs: dict[str, BundleJob]

    @property
    def file_path(self) -> str:
        """Workspace folder of the bundle's files: a notebook `notebooks/x.py` is `<file_path>/notebooks/x`."""
        return self.workspace["file_path"]

    def workspace_path(self, local: Path) -> str:
        """Where the local file `local` (inside the bundle) lives in the workspace (notebooks lose the .py)."""
        relative = local.resolve().relative_to(self.root.resolve())
        return f"{self.file_path.rstrip('/')}/{relative.with_suffix('').as_posix()}"


def parse_vars(pairs: list[str]) -> dict[str, str]:
    """`--var name=value` arguments as a mapping."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise DeployError(f"--var expects name=value, not {pair!r}")
        values[name.strip()] = value
    return values


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise BundleError(path, "", f"cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise BundleError(path, "", f"not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BundleError(path, "", "expected a mapping at the top level")
    return data


def _mapping(value: Any, file: Path, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BundleError(file, key, f"expected a mapping, got {type(value).__name__}")
    return value


def _only(value: Mapping[str, Any], allowed: set[str], file: Path, key: str) -> None:
    for name in value:
        if name not in allowed:
            where = f"{key}.{name}" if key else str(name)
            raise BundleError(
                file,
                where,
                f"not in the bundle subset databricks_deploy supports (here: {', '.join(sorted(allowed))}); "
                "see databricks_deploy/bundle.py, or deploy with the Databricks CLI",
            )


def load_bundle(
    root: Path = REPO_ROOT,
    target: str | None = None,
    variables: Mapping[str, str] | None = None,
    current_user: Mapping[str, str] | None = None,
    resolve_jobs: bool = True,
) -> Bundle:
    """Read `<root>/databricks.yml` and its includes and resolve them for `target` (default: the `default` one).

    `variables` are the `--var` values (and those a deploy passes from Terraform outputs); `current_user` the
    workspace's answer to "who am I" (`userName`, `short_name`), needed only where the bundle refers to it
    (`NeedsCurrentUser` otherwise). A variable without a value is an error only where it is used;
    `resolve_jobs=False` resolves the workspace paths alone (what an import of the notebooks needs).
    """
    main = root / BUNDLE_FILE
    if not main.is_file():
        raise BundleError(main, "", "no bundle here (databricks.yml is missing)")
    config = _yaml(main)
    _only(config, TOP_LEVEL, main, "")
    bundle = _mapping(config.get("bundle"), main, "bundle")
    _only(bundle, BUNDLE_KEYS, main, "bundle")
    if not isinstance(bundle.get("name"), str) or not bundle["name"]:
        raise BundleError(main, "bundle.name", "required: the bundle's name")

    # resources: the main file's, then each included file's (a job key may be defined once)
    jobs: dict[str, tuple[dict[str, Any], Path]] = {}
    _add_resources(config.get("resources"), main, jobs)
    includes = config.get("include") or []
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise BundleError(main, "include", "expected a list of file globs")
    for i, pattern in enumerate(includes):
        matches = sorted(p for p in root.glob(pattern) if p.is_file())
        if not matches:
            raise BundleError(main, f"include[{i}]", f"{pattern!r} matches no file")
        for path in matches:
            if not fnmatch.fnmatch(path.name, "*.yml") and not fnmatch.fnmatch(path.name, "*.yaml"):
                raise BundleError(path, "", f"included by {pattern!r} but not a YAML file")
            included = _yaml(path)
            _only(included, {"resources"}, path, "")
            _add_resources(included.get("resources"), path, jobs)

    # the target
    targets = _mapping(config.get("targets"), main, "targets")
    if target is None:
        defaults = [name for name, t in targets.items() if isinstance(t, dict) and t.get("default") is True]
        if len(defaults) != 1:
            raise BundleError(
                main, "targets", "choose a target (--target): none or several are `default: true`"
            )
        target = defaults[0]
    if target not in targets:
        raise BundleError(main, "targets", f"no target {target!r} (targets: {', '.join(targets) or 'none'})")
    chosen = _mapping(targets[target], main, f"targets.{target}")
    _only(chosen, TARGET_KEYS, main, f"targets.{target}")
    mode = chosen.get("mode")
    if mode is not None and mode not in MODES:
        raise BundleError(main, f"targets.{target}.mode", f"expected one of {', '.join(MODES)}, not {mode!r}")

    # variables
    declared = _mapping(config.get("variables"), main, "variables")
    for name, spec in declared.items():
        _only(_mapping(spec, main, f"variables.{name}"), VARIABLE_KEYS, main, f"variables.{name}")
    target_values = _mapping(chosen.get("variables"), main, f"targets.{target}.variables")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if spec and "default" in spec:
            values[name] = spec["default"]
    for name, value in target_values.items():
        if name not in declared:
            raise BundleError(main, f"targets.{target}.variables.{name}", "not a declared variable")
        if isinstance(value, dict):
            raise BundleError(main, f"targets.{target}.variables.{name}", "only plain values are supported")
        values[name] = value
    for name in declared:
        env = os.environ.get(f"BUNDLE_VAR_{name}")
        if env is not None:
            values[name] = env
    for name, value in (variables or {}).items():
        if name not in declared:
            raise DeployError(
                f"--var {name}: the bundle declares no variable {name!r} ({', '.join(declared)})"
            )
        values[name] = value
    resolver = _Resolver(main, bundle["name"], target, values, current_user, set(declared))

    # workspace
    workspace = dict(_mapping(config.get("workspace"), main, "workspace"))
    _only(workspace, WORKSPACE_KEYS, main, "workspace")
    override = _mapping(chosen.get("workspace"), main, f"targets.{target}.workspace")
    _only(override, WORKSPACE_KEYS, main, f"targets.{target}.workspace")
    workspace.update(override)
    workspace.setdefault(
        "root_path",
        "/Workspace/Users/${workspace.current_user.userName}/.bundle/${bundle.name}/${bundle.target}",
    )
    workspace.setdefault("file_path", "${workspace.root_path}/files")
    resolver.workspace = workspace
    resolved_ws = {k: str(resolver.resolve(v, main, f"workspace.{k}")) for k, v in workspace.items()}

    # the target's job overrides
    overrides = _mapping(chosen.get("resources"), main, f"targets.{target}.resources")
    _only(overrides, RESOURCE_KINDS, main, f"targets.{target}.resources")
    for key, job in _mapping(overrides.get("jobs"), main, f"targets.{target}.resources.jobs").items():
        where = f"targets.{target}.resources.jobs.{key}"
        if key not in jobs:
            raise BundleError(main, where, "overrides a job the bundle does not define")
        jobs[key] = (_merge(jobs[key][0], _mapping(job, main, where), main, where), jobs[key][1])

    result = Bundle(
        name=bundle["name"],
        target=target,
        mode=mode,
        root=root,
        workspace=resolved_ws,
        variables={n: resolver.var(n, main, f"variables.{n}") for n in declared if n in values},
        jobs={},
    )
    if not resolve_jobs:
        return result
    for key, (job, source) in jobs.items():
        result.jobs[key] = _job(result, resolver, key, job, source, mode)
    return result


def _add_resources(value: Any, file: Path, jobs: dict[str, tuple[dict[str, Any], Path]]) -> None:
    resources = _mapping(value, file, "resources")
    _only(resources, RESOURCE_KINDS, file, "resources")
    for key, job in _mapping(resources.get("jobs"), file, "resources.jobs").items():
        if key in jobs:
            raise BundleError(file, f"resources.jobs.{key}", f"already defined in {_show(jobs[key][1])}")
        jobs[key] = (_mapping(job, file, f"resources.jobs.{key}"), file)


def _merge(base: Any, override: Any, file: Path, key: str) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = _merge(base[name], value, file, f"{key}.{name}") if name in base else value
        return merged
    name = key.rsplit(".", 1)[-1]
    if isinstance(base, list) and isinstance(override, list) and name in MERGE_KEYS:
        by = MERGE_KEYS[name]
        merged_list = list(base)
        for i, item in enumerate(override):
            if not isinstance(item, dict) or by not in item:
                raise BundleError(file, f"{key}[{i}]", f"each item needs its {by}")
            at = [j for j, old in enumerate(merged_list) if isinstance(old, dict) and old.get(by) == item[by]]
            if at:
                merged_list[at[0]] = _merge(merged_list[at[0]], item, file, f"{key}[{i}]")
            else:
                merged_list.append(item)
        return merged_list
    return copy.deepcopy(override)


class _Resolver:
    """Substitutes `${...}` references; anything it does not know is an error naming the file and the key."""

    def __init__(
        self,
        main: Path,
        bundle_name: str,
        target: str,
        values: dict[str, Any],
        current_user: Mapping[str, str] | None,
        declared: set[str],
    ) -> None:
        self.main, self.bundle_name, self.target = main, bundle_name, target
        self.values, self.declared = values, declared
        self.current_user = current_user
        self.workspace: dict[str, Any] = {}
        self._vars: dict[str, Any] = {}
        self._busy: set[str] = set()

    def var(self, name: str, file: Path, key: str) -> Any:
        if name in self._vars:
            return self._vars[name]
        if name not in self.declared:
            raise BundleError(file, key, f"${{var.{name}}}: the bundle declares no variable {name!r}")
        if name not in self.values:
            raise BundleError(
                self.main,
                f"variables.{name}",
                f"no value (used by {_show(file)}: {key}): pass --var {name}=... (or set BUNDLE_VAR_{name}); "
                "it has no default",
            )
        if name in self._busy:
            raise BundleError(self.main, f"variables.{name}", "refers to itself")
        self._busy.add(name)
        self._vars[name] = self.resolve(self.values[name], self.main, f"variables.{name}")
        self._busy.discard(name)
        return self._vars[name]

    def lookup(self, ref: str, file: Path, key: str) -> Any:
        scope, _, rest = ref.partition(".")
        if scope == "var" and rest:
            return self.var(rest, file, key)
        if ref == "bundle.name":
            return self.bundle_name
        if ref == "bundle.target":
            return self.target
        if scope == "workspace" and rest in WORKSPACE_REFS:
            if rest.startswith("current_user."):
                if self.current_user is None:
                    raise NeedsCurrentUser(file, key, f"${{{ref}}} needs a workspace to ask who you are")
                return self.current_user[rest.removeprefix("current_user.")]
            if rest not in self.workspace:
                raise BundleError(file, key, f"${{{ref}}} is not set for target {self.target!r}")
            if rest in self._busy:
                raise BundleError(self.main, f"workspace.{rest}", "refers to itself")
            self._busy.add(rest)
            try:
                return self.resolve(self.workspace[rest], self.main, f"workspace.{rest}")
            finally:
                self._busy.discard(rest)
        raise BundleError(
            file,
            key,
            f"${{{ref}}} is outside the supported references (${{var.*}}, ${{bundle.name|target}}, "
            f"${{workspace.{'|'.join(sorted(WORKSPACE_REFS))}}})",
        )

    def resolve(self, value: Any, file: Path, key: str) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v, file, f"{key}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, file, f"{key}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value
        whole = REFERENCE.fullmatch(value)
        if whole:
            return self.lookup(whole.group(1), file, key)
        return REFERENCE.sub(lambda m: str(self.lookup(m.group(1), file, key)), value)


def _job(
    bundle: Bundle, resolver: _Resolver, key: str, raw: dict[str, Any], source: Path, mode: str | None
) -> BundleJob:
    where = f"resources.jobs.{key}"
    settings = resolver.resolve(raw, source, where)
    notebooks: dict[str, Path] = {}
    for i, task in enumerate(settings.get("tasks") or []):
        notebook = task.get("notebook_task") if isinstance(task, dict) else None
        path = notebook.get("notebook_path") if isinstance(notebook, dict) else None
        if not isinstance(path, str) or path.startswith("/"):
            continue  # a workspace path already, or the model check below reports it
        local = (source.parent / path).resolve()
        task_key = f"{where}.tasks[{i}].notebook_task.notebook_path"
        try:
            local.relative_to(bundle.root.resolve())
        except ValueError:
            raise BundleError(
                source, task_key, f"{path!r} is outside the bundle ({_show(bundle.root)})"
            ) from None
        if not local.is_file():
            raise BundleError(source, task_key, f"{path!r}: no such notebook ({_show(local)})")
        remote = bundle.workspace_path(local)
        notebook["notebook_path"] = remote
        notebooks[remote] = local
    if mode == "development":
        settings = _development(settings, resolver, source, where)
    _validate(settings, source, where)
    return BundleJob(key=key, settings=settings, source=source, notebooks=notebooks)


def _development(settings: dict[str, Any], resolver: _Resolver, source: Path, where: str) -> dict[str, Any]:
    """What the CLI's `mode: development` does to a job: a personal name prefix and tag, schedules paused."""
    short = resolver.lookup("workspace.current_user.short_name", source, f"{where}.name (mode: development)")
    settings = {**settings, "name": f"[dev {short}] {settings.get('name', '')}"}
    settings["tags"] = {**(settings.get("tags") or {}), "dev": short}
    for trigger in ("schedule", "continuous", "trigger"):
        if isinstance(settings.get(trigger), dict):
            settings[trigger] = {**settings[trigger], "pause_status": "PAUSED"}
    return settings


def _validate(settings: dict[str, Any], source: Path, where: str) -> None:
    """The job must be a `databricks-bundles` Job and survive the SDK's JobSettings unchanged."""
    from databricks.bundles.jobs import Job
    from databricks.sdk.service.jobs import JobSettings

    if not settings.get("name"):
        raise BundleError(source, f"{where}.name", "required: the job's name (Airflow triggers it by name)")
    try:
        Job.from_dict(copy.deepcopy(settings))
    except (ValueError, TypeError, KeyError) as exc:
        raise BundleError(source, where, f"not a valid job (databricks-bundles): {exc}") from exc
    api = JobSettings.from_dict(copy.deepcopy(settings)).as_dict()
    lost = _lost(settings, api)
    if lost:
        raise BundleError(source, f"{where}.{lost}", "a bundle-only field the Jobs API does not take")


def _lost(ours: Any, api: Any, key: str = "") -> str | None:
    """The first key of `ours` that `api` (the SDK's round trip) dropped or changed, else None."""
    if isinstance(ours, dict) and isinstance(api, dict):
        for name, value in ours.items():
            if name not in api:
                return f"{key}.{name}".lstrip(".")
            found = _lost(value, api[name], f"{key}.{name}")
            if found:
                return found.lstrip(".")
        return None
    if isinstance(ours, list) and isinstance(api, list) and len(ours) == len(api):
        for i, (a, b) in enumerate(zip(ours, api, strict=True)):
            found = _lost(a, b, f"{key}[{i}]")
            if found:
                return found
        return None
    return None if str(ours) == str(api) else key.lstrip(".") or "(value)"


def notebook_root(bundle: Bundle) -> tuple[Path, str]:
    """The local notebooks/ folder and its workspace folder (`make import-notebooks` imports one into the other)."""
    local = bundle.root / "notebooks"
    return local, f"{bundle.file_path.rstrip('/')}/{PurePosixPath('notebooks')}"
