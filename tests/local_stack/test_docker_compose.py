"""docker-compose.yml (Docker mode) agrees with local_stack/config.py: services, images, ports, versions, names.

Docker cannot run on the build machine, so the file is checked structurally against the host-mode config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from local_stack import config as cfg

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def flag(command: list[str], name: str) -> str:
    """Value following `name` in a command list."""
    assert name in command, f"{name} missing from {command}"
    return command[command.index(name) + 1]


def published(service: dict[str, Any]) -> set[tuple[str, int, int]]:
    out = set()
    for mapping in service.get("ports", []):
        host, host_port, container_port = mapping.split(":")
        out.add((host, int(host_port), int(container_port)))
    return out


def test_every_host_mode_component_is_a_service_plus_the_database_and_seeder(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {*cfg.DOCKER_COMPONENTS, "mysql", "seed"}
    assert set(cfg.COMPONENTS) - set(cfg.DOCKER_COMPONENTS) == {cfg.DATABRICKS}  # host mode only


def test_images_are_pinned_to_the_host_mode_versions(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert (
        services["localstack"]["image"]
        == cfg.LOCALSTACK_IMAGE
        == f"localstack/localstack:{cfg.LOCALSTACK_VERSION}"
    )
    assert services["tansu"]["image"] == cfg.TANSU_IMAGE == f"ghcr.io/tansu-io/tansu:{cfg.TANSU_VERSION}"
    assert services["mysql"]["image"] == cfg.MYSQL_IMAGE
    for name, service in services.items():
        image = service.get("image", "")
        assert ":latest" not in image and (":" in image or "build" in service), f"{name} image not pinned"


def test_ports_are_the_config_ports_published_on_loopback_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    expected = {
        "localstack": cfg.LOCALSTACK_PORT,
        "tansu": cfg.TANSU_PORT,
        "rest-proxy": cfg.REST_PROXY_PORT,
        "mysql": cfg.MYSQL_PORT,
    }
    for name, port in expected.items():
        assert published(services[name]) == {("127.0.0.1", port, port)}, name
    assert "ports" not in services["s3-sink"] and "ports" not in services["seed"]


def test_localstack_serves_the_same_services_and_creates_the_tansu_bucket(compose: dict[str, Any]) -> None:
    localstack = compose["services"]["localstack"]
    assert localstack["environment"]["SERVICES"] == ",".join(cfg.LOCALSTACK_SERVICES)
    hook_dir = localstack["volumes"][0].split(":")[0]
    hook = (REPO / hook_dir / "create-buckets.sh").read_text()
    assert f"s3://{cfg.DEFAULT_TANSU_BUCKET}" in hook
    assert cfg.DEFAULT_TANSU_BUCKET in " ".join(localstack["healthcheck"]["test"])


def test_tansu_listens_on_the_config_port_with_storage_on_localstack_s3(compose: dict[str, Any]) -> None:
    tansu = compose["services"]["tansu"]
    command = tansu["command"]
    assert command[0] == "broker"
    assert flag(command, "--listener-url").endswith(f":{cfg.TANSU_PORT}")
    assert flag(command, "--advertised-listener-url") == f"tcp://tansu:{cfg.TANSU_PORT}"
    assert flag(command, "--storage-engine") == f"s3://{cfg.DEFAULT_TANSU_BUCKET}/"
    assert tansu["environment"]["AWS_ENDPOINT"] == f"http://localstack:{cfg.LOCALSTACK_PORT}"
    assert tansu["environment"]["AWS_ALLOW_HTTP"] == "true"


def test_rest_proxy_and_sink_run_the_repo_modules_with_the_config_values(compose: dict[str, Any]) -> None:
    services = compose["services"]
    proxy = services["rest-proxy"]
    assert proxy["build"]["dockerfile"] == "docker/Dockerfile"
    assert (REPO / proxy["build"]["dockerfile"]).is_file()
    assert proxy["command"][:3] == ["python", "-m", "local_stack.rest_proxy"]
    assert flag(proxy["command"], "--port") == str(cfg.REST_PROXY_PORT)
    assert flag(proxy["command"], "--bootstrap-servers") == f"tansu:{cfg.TANSU_PORT}"

    sink = services["s3-sink"]["command"]
    assert sink[:3] == ["python", "-m", "local_stack.s3_sink"]
    assert flag(sink, "--bootstrap-servers") == f"tansu:{cfg.TANSU_PORT}"
    assert flag(sink, "--endpoint-url") == f"http://localstack:{cfg.LOCALSTACK_PORT}"
    assert flag(sink, "--flush-size") == str(cfg.DEFAULT_FLUSH_SIZE)
    assert flag(sink, "--rotate-interval-ms") == str(cfg.DEFAULT_ROTATE_INTERVAL_MS)
    # Names derive from USER_ID as emulation/names.py derives them; check them for the default user.
    names = cfg.StackConfig(user_id=cfg.DEFAULT_USER_ID).names

    def resolved(value: str) -> str:
        return value.replace("${USER_ID:-demo}", cfg.DEFAULT_USER_ID)

    assert resolved(flag(sink, "--topics-regex")) == names.topic_regex
    assert resolved(flag(sink, "--bucket")) == names.bucket
    assert resolved(flag(sink, "--group-id")) == cfg.StackConfig(user_id=cfg.DEFAULT_USER_ID).sink_group_id


def test_the_api_reaches_the_rest_proxy_by_its_compose_name() -> None:
    from local_stack.supervisor import DOCKER_REST_PROXY_URL

    assert f"http://rest-proxy:{cfg.REST_PROXY_PORT}" == DOCKER_REST_PROXY_URL


def test_the_image_installs_the_requirement_pins_the_services_import() -> None:
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    pins = {
        line.split("==")[0] for line in (REPO / "requirements.txt").read_text().splitlines() if "==" in line
    }
    for package in (
        "confluent-kafka",
        "boto3",
        "localstack-client",
        "orjson",
        "aiohttp",
        "SQLAlchemy",
        "PyMySQL",
    ):
        assert package in pins and package in dockerfile
