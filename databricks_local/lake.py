"""Lake access for local runs: `s3://` (and mounted) paths become local files, synced from S3 with boto3.

Local Spark has no S3 connector offline, so before Spark reads `s3://bucket/prefix/...` the objects under the
glob-free part of the path are downloaded to `<cache>/<bucket>/<key>` (skipped when the local copy has the same
size) and Spark reads the local copy. The endpoint is `AWS_ENDPOINT_URL` (the local stack, `http://127.0.0.1:4566`,
when unset); credentials come from the environment, or the local stack's test credentials when none are set.
An `s3_dir` may stand in for S3 altogether (`s3://bucket/key` is `<s3_dir>/bucket/key`), for tests and offline use.
"""

from __future__ import annotations

import fnmatch
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

S3_URI = re.compile(r"^s3a?://(?:(?P<key>[^:@/]+):(?P<secret>[^@/]+)@)?(?P<bucket>[^/]+)/?(?P<prefix>.*)$")
GLOB_CHARS = "*?[{"


class LakeError(RuntimeError):
    """The lake cannot be reached or a path does not name anything readable."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str
    access_key: str | None = None
    secret_key: str | None = None

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        match = S3_URI.match(uri)
        if not match:
            raise LakeError(f"not an s3:// URI: {uri!r}")
        from urllib.parse import unquote

        secret = match["secret"]
        return cls(match["bucket"], match["prefix"], match["key"], unquote(secret) if secret else None)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def is_s3(path: str) -> bool:
    return path.startswith(("s3://", "s3a://"))


def aws_client(
    service: str,
    access_key: str | None = None,
    secret_key: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    config: Any = None,
    session_token: str | None = None,
) -> Any:
    """A boto3 client for `service` at the configured endpoint (the local stack by default), bounded calls.

    Endpoint: `endpoint_url`, else `AWS_ENDPOINT_URL`, else the local stack's. A LocalStack endpoint (loopback)
    gets its client from the project's one LocalStack factory (`local_stack.aws`); any other endpoint is real AWS
    (or a compatible service) and gets a plain boto3 client. Credentials: the keys given, else the environment's
    (or `AWS_PROFILE`), else (LocalStack only) the local stack's test credentials.
    """
    import boto3

    from local_stack.aws import default_config, is_local_endpoint, localstack_client
    from local_stack.config import StackConfig

    defaults = StackConfig.from_env().aws_env()
    env = {k: os.environ.get(k) or v for k, v in defaults.items()}
    if not os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_PROFILE"):
        env.pop("AWS_ACCESS_KEY_ID"), env.pop("AWS_SECRET_ACCESS_KEY")
    endpoint = endpoint_url or env["AWS_ENDPOINT_URL"]
    access_key = access_key or env.get("AWS_ACCESS_KEY_ID")
    secret_key = secret_key or env.get("AWS_SECRET_ACCESS_KEY")
    region = region or env["AWS_DEFAULT_REGION"]
    if is_local_endpoint(endpoint):
        return localstack_client(
            service,
            endpoint_url=endpoint,
            region=region,
            access_key=access_key,
            secret_key=secret_key,
            session_token=session_token,
            config=config,
        )
    merged = default_config() if config is None else default_config().merge(config)
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        config=merged,
    )


def s3_client(access_key: str | None = None, secret_key: str | None = None) -> Any:
    """A boto3 S3 client for the configured endpoint (the local stack by default), standard retries."""
    return aws_client("s3", access_key, secret_key)


def glob_free_prefix(prefix: str) -> str:
    """The part of a key pattern before its first glob character."""
    cut = min((prefix.find(c) for c in GLOB_CHARS if c in prefix), default=len(prefix))
    return prefix[:cut]


@dataclass
class S3Mirror:
    """Makes `s3://` paths readable by local Spark: a local directory per bucket, synced on demand."""

    cache_dir: Path
    s3_dir: Path | None = None
    synced: dict[str, int] = field(default_factory=dict)

    def local_path(self, uri: str) -> str:
        """The local path that holds what `uri` (an `s3://` or `s3a://` path, globs allowed) names."""
        location = S3Location.parse(uri)
        if self.s3_dir is not None:
            return str(Path(self.s3_dir) / location.bucket / location.prefix)
        self.sync(location)
        return str(Path(self.cache_dir) / location.bucket / location.prefix)

    def sync(self, location: S3Location) -> int:
        """Download the objects matching `location` that the cache lacks; return how many objects match."""
        pattern = location.prefix
        list_prefix = glob_free_prefix(pattern)
        client = s3_client(location.access_key, location.secret_key)
        wanted: list[tuple[str, int]] = []
        try:
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=location.bucket, Prefix=list_prefix
            ):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if (
                        pattern == list_prefix
                        or fnmatch.fnmatchcase(key, pattern)
                        or fnmatch.fnmatchcase(key, pattern + "/*")
                    ):
                        wanted.append((key, obj["Size"]))
        except Exception as error:
            raise LakeError(f"cannot list s3://{location.bucket}/{list_prefix}: {error}") from None
        root = Path(self.cache_dir) / location.bucket
        missing = [key for key, size in wanted if not _same_size(root / key, size)]

        def fetch(key: str) -> None:
            target = root / key
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            client.download_file(location.bucket, key, str(partial))
            partial.replace(target)

        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(fetch, missing))
        except Exception as error:
            raise LakeError(f"cannot download from s3://{location.bucket}/{list_prefix}: {error}") from None
        self.synced[location.uri] = len(wanted)
        return len(wanted)


def _same_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False
