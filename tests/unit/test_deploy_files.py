"""The deployment files agree with the code (no Docker engine is needed to check this)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from shared.migrations import ALL_SERVICES
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def settings_env_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(field.alias or f"JIBAN_{name.upper()}")
    return names


def is_known_variable(name: str) -> bool:
    # OTEL_* belong to OpenTelemetry's SDK, which reads them itself (shared/tracing.py).
    return name in settings_env_names() or name.startswith("OTEL_")


def test_compose_runs_the_four_services_behind_one_gateway():
    services = compose()["services"]
    assert {"kafka", "postgres", "migrate", "gateway", *ALL_SERVICES} <= set(services)
    for name in ALL_SERVICES:
        service = services[name]
        assert service["command"] == ["python", "-m", f"services.{name}"]
        # Scalable: no fixed host ports (the gateway publishes them).
        assert "ports" not in service and "container_name" not in service
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    migrate = services["migrate"]
    assert {d["condition"] for d in migrate["depends_on"].values()} == {"service_healthy"}
    for dependency in migrate["depends_on"]:
        assert "healthcheck" in services[dependency]
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    published = {p.split(":")[0].strip('"') for p in services["gateway"]["ports"]}
    assert published == {"8001", "8002", "8003", "8004", "8005"}


def test_compose_sets_only_settings_the_services_know():
    for name in [*ALL_SERVICES, "migrate"]:
        env = compose()["services"][name]["environment"]
        unknown = {key for key in env if not is_known_variable(key)}
        assert not unknown, f"{name} sets {unknown}, which shared/settings.py does not read"
    assert compose()["services"]["dispatch"]["environment"]["KAFKA_ENABLE_IDEMPOTENCE"] == "true"
    # Traces stay off unless the operator turns them on.
    assert compose()["services"]["tracking"]["environment"]["OTEL_TRACES_EXPORTER"] == (
        "${OTEL_TRACES_EXPORTER:-none}"
    )


def test_compose_gives_every_service_a_way_to_verify_sign_in_tokens():
    # Outside development mode a service without a secret or a JWKS URL refuses to start.
    from shared.identity import MIN_SECRET_BYTES, verifier_from

    for name in ALL_SERVICES:
        env = {k: str(v) for k, v in compose()["services"][name]["environment"].items()}
        fallback = re.fullmatch(r"\$\{[A-Z_]+:-(.*)\}", env["JIBAN_JWT_SECRET"])
        secret = fallback.group(1) if fallback else env["JIBAN_JWT_SECRET"]
        assert len(secret.encode()) >= MIN_SECRET_BYTES
        assert env.get("JIBAN_DEV_MODE", "0").lower() not in {"1", "true"}
        verifier_from(dev_mode=False, secret=secret)  # raises IdentityNotConfigured if not


def test_gateway_routes_each_port_to_its_service():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    for port, name in zip(range(8001, 8006), ALL_SERVICES, strict=True):
        block = conf.split(f"listen {port}")[1].split("listen ")[0]
        assert re.search(rf"http://{name}:8000", block), f"port {port} does not reach {name}"


def test_compose_points_the_console_at_the_services_inside_the_network():
    env = compose()["services"]["console"]["environment"]
    for name in ("dispatch", "tracking", "notify"):
        assert env[f"JIBAN_CONSOLE_{name.upper()}_URL"] == f"http://{name}:8000"


def test_dockerfile_copies_what_exists_and_ci_runs_make_test():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+)", dockerfile, flags=re.MULTILINE):
        assert (ROOT / source).exists(), source
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_topics_have_at_least_six_partitions_so_six_replicas_can_share_them():
    assert Settings().topic_partitions == 6
    with pytest.raises(ValidationError, match="topic_partitions"):
        Settings(topic_partitions=3)


def test_compose_s_prometheus_and_grafana_mount_files_that_exist_read_only():
    services = compose()["services"]
    for name, image, port in (
        ("prometheus", "prom/prometheus", "9090"),
        ("grafana", "grafana/grafana", "3000"),
    ):
        service = services[name]
        repository, tag = service["image"].split(":")
        assert repository == image and tag not in {"", "latest"}, "pinned"
        assert [p.split(":")[0].strip('"') for p in service["ports"]] == [port]
        files = [v for v in service["volumes"] if v.startswith("./")]
        assert files, name
        for volume in files:
            source, _target, mode = volume.split(":")
            assert (ROOT / source).exists(), volume
            assert mode == "ro", volume
    assert "prometheus-data" in compose()["volumes"]
