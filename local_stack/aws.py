"""The one factory of boto3 clients for LocalStack: the local stack, `databricks_local` and the tests use it.

Clients are built through the `localstack-client` package (`localstack_client.session.Session`), which points every
service at one LocalStack edge endpoint with LocalStack's test credentials; this module adds the project's defaults:
the stack's own endpoint (`PIPELINE_LOCALSTACK_PORT`, or an explicit URL such as a test's fault proxy), its region,
and bounded calls (botocore connect/read timeouts and standard retries).

    kinesis = localstack_client("kinesis")                         # the configured stack's LocalStack
    s3 = localstack_client("s3", endpoint_url=stack.localstack_url, config=Config(s3={"addressing_style": "path"}))

`is_local_endpoint` tells a LocalStack URL (loopback, or a compose service name) from a real AWS one; callers that
may talk to real AWS (`databricks_local.lake.aws_client`) build plain boto3 clients for those.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

#: What every LocalStack client gets unless the caller says otherwise: a call never hangs for long.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
MAX_ATTEMPTS = 5
#: Host names that are LocalStack endpoints besides loopback ones (docker-compose's service name).
LOCAL_HOSTS = frozenset({"localhost", "localstack", "host.docker.internal"})


def default_config(**overrides: Any) -> Any:
    """botocore Config of the project's LocalStack clients: timeouts, standard retries, a 16-connection pool."""
    from botocore.config import Config

    values: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
        "retries": {"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        "max_pool_connections": 16,
    }
    return Config(**{**values, **overrides})


def is_local_endpoint(url: str | None) -> bool:
    """True when `url` names a LocalStack endpoint: a loopback address, `localhost` or the compose service."""
    if not url:
        return False
    host = (urlsplit(url).hostname or "").lower()
    return host in LOCAL_HOSTS or host.startswith("127.") or host == "::1"


def stack_endpoint() -> str:
    """The configured local stack's LocalStack URL (`PIPELINE_LOCALSTACK_PORT`, default 4566)."""
    from local_stack.config import StackConfig

    return StackConfig.from_env().localstack_url


def localstack_session(
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
) -> Any:
    """A `localstack_client.session.Session` on `endpoint_url` (default: the configured stack's LocalStack)."""
    from localstack_client.session import Session

    from local_stack.config import TEST_CREDENTIALS, StackConfig

    url = endpoint_url or stack_endpoint()
    parts = urlsplit(url)
    session = Session(
        aws_access_key_id=access_key or TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret_key or TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=region or StackConfig.from_env().region,
        localstack_host=parts.netloc,
    )
    # The session prefers AWS_ENDPOINT_URL from the environment to `localstack_host`, and assumes plain http
    # unless USE_SSL: the endpoint this factory was asked for wins, whatever the environment says.
    mapping = session._service_endpoint_mapping
    if any(value != url.rstrip("/") for value in mapping.values()):
        session._service_endpoint_mapping = dict.fromkeys(mapping, url.rstrip("/"))
    return session


def localstack_client(
    service: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    session_token: str | None = None,
    config: Any = None,
) -> Any:
    """A boto3 client of `service` against LocalStack (default: the configured stack's), built through
    `localstack-client`, with `default_config()` merged under `config` (`session_token`: temporary credentials,
    from STS)."""
    merged = default_config() if config is None else default_config().merge(config)
    session = localstack_session(endpoint_url, region, access_key, secret_key)
    extra = {"aws_session_token": session_token} if session_token else {}
    return session.client(service, config=merged, **extra)
