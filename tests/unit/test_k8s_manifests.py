"""The Kubernetes manifests (deploy/k8s/) as a cluster would get them, checked with no cluster:
every overlay rendered by kustomize, every object validated against the Kubernetes schemas
(kubernetes-validate) and every ScaledObject against KEDA's (check-jsonschema), then Jiban's own
rules: what the code wires, listens on, requires and takes to shut down."""

from __future__ import annotations

import base64
import copy
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from certificates import self_signed
from cryptography.fernet import Fernet

from jiban.cli import parser as cli_parser
from shared.broker import create_broker
from shared.migrations import ALL_SERVICES
from shared.service import PING_TIMEOUT_S, STOP_TIMEOUT_S
from shared.settings import Settings
from shared.topics import TopicNames

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "production")
SCALEDOBJECT_SCHEMA = K8S / "schemas" / "keda-scaledobject.schema.json"
# The oldest Kubernetes the manifests are for: the preStop `sleep` action is on by default
# from 1.30; kubectl 1.32 is what CI has.
KUBERNETES_VERSION = "1.32"
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
WORKLOAD_KINDS = {"StatefulSet", "Deployment"}
# Values for the Secret the production overlay references (made out of band): what each key
# holds, in a form the code accepts.
PRODUCTION_SECRET_SAMPLES = {
    "database-url": "postgresql://jiban:password@10.20.0.5:5432/jiban",
    "tracking-code-key": "a-tracking-code-key-of-some-length",
    "channel-key-encryption-key": Fernet.generate_key().decode(),
    "oidc-client-secret": "client-secret",
    "kafka-sasl-password": "sasl-password",
    "smtp-password": "smtp-password",
    "sms-gateway-headers": '{"Authorization": "Bearer x"}',
    "notify-webhooks": "{}",
}


# --- rendering -----------------------------------------------------------------------------


REQUIRE_KUSTOMIZE = "JIBAN_REQUIRE_KUSTOMIZE"


def kustomize() -> list[str]:
    """kubectl's kustomize, else a standalone kustomize. Without either the checks are skipped
    on a developer's machine and fail under JIBAN_REQUIRE_KUSTOMIZE=1 (as CI runs), like the
    browser and promtool checks."""
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    if standalone := shutil.which("kustomize"):
        return [standalone, "build"]
    why = (
        "deploy/k8s cannot be checked: neither kubectl nor kustomize is on PATH. Install "
        "kubectl 1.27 or newer (it embeds kustomize v5; Debian's kubernetes-client 1.20 is too "
        "old) or kustomize v5 (`go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0`)"
    )
    if os.environ.get(REQUIRE_KUSTOMIZE) == "1":
        pytest.fail(f"{why}; {REQUIRE_KUSTOMIZE}=1 requires these checks", pytrace=False)
    pytest.skip(why)


def render(path: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [*kustomize(), str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"kustomize {path.relative_to(ROOT)}: {done.stderr.strip()}"
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {overlay: render(K8S / "overlays" / overlay) for overlay in OVERLAYS}


def of_kind(objects: list[dict[str, Any]], *kinds: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in kinds]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def workloads(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in of_kind(objects, *WORKLOAD_KINDS)}


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for o in of_kind(objects, *WORKLOAD_KINDS, "Job"):
        yield f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]["spec"]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def config(objects: list[dict[str, Any]]) -> dict[str, str]:
    maps = [
        o for o in of_kind(objects, "ConfigMap") if o["metadata"]["name"].startswith("jiban-config")
    ]
    assert len(maps) == 1
    data: dict[str, str] = maps[0]["data"]
    return data


def partitions(objects: list[dict[str, Any]]) -> int:
    return int(config(objects).get("JIBAN_TOPIC_PARTITIONS", Settings().topic_partitions))


# --- schemas -------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_for_kubernetes(rendered, overlay) -> None:
    objects = rendered[overlay]
    kinds = {o["kind"] for o in objects}
    assert {"StatefulSet", "Service", "Job", "PodDisruptionBudget", "NetworkPolicy"} <= kinds
    assert {"ConfigMap", "ScaledObject", "TriggerAuthentication"} <= kinds
    for o in objects:
        if o["kind"] in KEDA_KINDS:
            continue  # no schema in kubernetes-validate: KEDA's is checked below
        kubernetes_validate.validate(o, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validation_catches_a_misspelt_field(rendered) -> None:
    statefulset = copy.deepcopy(workloads(rendered["dev"])["intake"])
    statefulset["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(statefulset, KUBERNETES_VERSION, strict=True)


def check_scaled_objects(
    objects: list[dict[str, Any]], tmp: Path
) -> subprocess.CompletedProcess[str]:
    files = []
    for i, o in enumerate(objects):
        path = tmp / f"scaledobject-{i}-{o['metadata']['name']}.json"
        path.write_text(json.dumps(o))
        files.append(str(path))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--schemafile",
            str(SCALEDOBJECT_SCHEMA),
            *files,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_scaled_object_is_valid_for_keda(rendered, tmp_path) -> None:
    objects = [o for overlay in OVERLAYS for o in of_kind(rendered[overlay], "ScaledObject")]
    assert len(objects) == 2 * len(ALL_SERVICES)
    done = check_scaled_objects(objects, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_keda_s_schema_refuses_an_unquoted_lag_threshold_and_a_misspelt_field(
    rendered, tmp_path
) -> None:
    unquoted = copy.deepcopy(named(rendered["production"], "ScaledObject", "dispatch"))
    unquoted["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 100
    misspelt = copy.deepcopy(unquoted)
    misspelt["spec"]["triggers"][0]["metadata"]["lagThreshold"] = "100"
    misspelt["spec"]["minReplicas"] = 1
    for broken, says in ((unquoted, "lagThreshold"), (misspelt, "minReplicas")):
        done = check_scaled_objects([broken], tmp_path)
        assert done.returncode == 1 and says in done.stdout, done.stdout + done.stderr


# --- scaling -------------------------------------------------------------------------------


def scaling_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Replicas within the topics' partitions, never scaled to 0, one autoscaler a workload."""
    problems = []
    limit = partitions(objects)
    targets: dict[str, list[str]] = {}
    for o in of_kind(objects, "ScaledObject", "HorizontalPodAutoscaler"):
        spec, name = o["spec"], o["metadata"]["name"]
        targets.setdefault(spec["scaleTargetRef"]["name"], []).append(f"{o['kind']}/{name}")
        if o["kind"] == "ScaledObject":
            low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        else:
            low, high = spec.get("minReplicas", 1), spec["maxReplicas"]
        if high > limit:
            problems.append(f"{name}: up to {high} replicas, the topics have {limit} partitions")
        if low < 1:
            problems.append(f"{name}: minimum {low} replicas (a consumer must never stop)")
        if low > high:
            problems.append(f"{name}: minimum {low} above maximum {high}")
    for name, w in workloads(objects).items():
        if w["spec"].get("replicas", 1) > limit:
            problems.append(f"{name}: {w['spec']['replicas']} replicas above {limit} partitions")
        if len(targets.get(name, [])) != 1:
            problems.append(f"{name}: autoscaled by {targets.get(name, [])}, not by exactly one")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_replicas_stay_within_the_topics_partitions(rendered, overlay) -> None:
    assert scaling_problems(rendered[overlay]) == []


def test_the_scaling_check_catches_more_replicas_than_partitions_and_a_second_autoscaler(
    rendered,
) -> None:
    objects = copy.deepcopy(rendered["production"])
    named(objects, "ScaledObject", "tracking")["spec"]["maxReplicaCount"] = partitions(objects) + 1
    objects.append(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "console-cpu"},
            "spec": {"scaleTargetRef": {"name": "console"}, "minReplicas": 2, "maxReplicas": 4},
        }
    )
    problems = scaling_problems(objects)
    assert any(p.startswith("tracking: up to 7 replicas") for p in problems), problems
    assert any(p.startswith("console: autoscaled by") for p in problems), problems


def wired_consumers(service: str) -> tuple[set[tuple[str, str]], list[dict[str, Any]]]:
    """(group, physical topic) of every consumer the service's app.py wires, and the options
    each subscriber gives aiokafka."""
    settings = Settings(dev_mode=True, tracking_code_key="test-tracking-code-key")
    app = importlib.import_module(f"services.{service}.app").build(settings)
    runtime = app.state.runtime
    names = TopicNames(settings.topic_prefix)
    wired = {
        (c.group, names.physical(topic))
        for c in runtime.consumers
        for topic in c.topics
    }
    return wired, [s._connection_args for s in runtime.broker.subscribers]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_lag_triggers_are_the_groups_and_topics_the_code_wires(rendered, overlay) -> None:
    objects = rendered[overlay]
    prefix = config(objects).get("JIBAN_TOPIC_PREFIX", "")
    for service in ALL_SERVICES:
        scaled = [
            o
            for o in of_kind(objects, "ScaledObject")
            if o["spec"]["scaleTargetRef"]["name"] == service
        ]
        assert len(scaled) == 1, service
        spec = scaled[0]["spec"]
        assert spec["scaleTargetRef"]["kind"] == workloads(objects)[service]["kind"]
        kafka = [t for t in spec["triggers"] if t["type"] == "kafka"]
        triggered = {(t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in kafka}
        wired, options = wired_consumers(service)
        assert prefix == "" and triggered == wired, service
        assert len(kafka) == len(triggered), f"{service}: a group and topic twice"
        for trigger in kafka:
            metadata = trigger["metadata"]
            # KEDA's lag for a group with no commit follows this policy: the consumers' own.
            assert metadata["offsetResetPolicy"] == "earliest"
            assert metadata["bootstrapServersFromEnv"] == "KAFKA_BOOTSTRAP_SERVERS"
            assert "KAFKA_BOOTSTRAP_SERVERS" in config(objects)
            assert trigger["authenticationRef"]["name"] == "jiban-kafka"
        assert {o["auto_offset_reset"] for o in options} == {"earliest"}
        # The HTTP side scales on CPU in the same ScaledObject (KEDA makes the one HPA).
        cpu = [t for t in spec["triggers"] if t["type"] == "cpu"]
        assert len(cpu) == 1 and cpu[0]["metadata"]["containerName"] == "service", service
    named(objects, "TriggerAuthentication", "jiban-kafka")


# --- pods ----------------------------------------------------------------------------------


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ask_the_real_endpoints_on_the_port_the_service_listens_on(
    rendered, overlay
) -> None:
    for name, workload in workloads(rendered[overlay]).items():
        spec = workload["spec"]["template"]["spec"]
        (service,) = [c for c in spec["containers"] if c["name"] == "service"]
        (port,) = service["ports"]
        env = env_of(service)
        listens = Settings(http_port=int(env["JIBAN_HTTP_PORT"]["value"])).port_for(name)
        assert port == {"name": "http", "containerPort": listens} and listens == 8000
        assert env["JIBAN_HTTP_HOST"]["value"] == "0.0.0.0"
        app = importlib.import_module(f"services.{name}.app").build(
            Settings(dev_mode=True, tracking_code_key="test-tracking-code-key")
        )
        routes = set(app.openapi()["paths"])
        probes = {
            kind: service[kind]["httpGet"]
            for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        }
        assert probes["livenessProbe"]["path"] == probes["startupProbe"]["path"] == "/healthz"
        assert probes["readinessProbe"]["path"] == "/readyz"
        for probe in probes.values():
            assert probe["path"] in routes and probe["port"] in ("http", listens)
        # /readyz pings the database, then the broker, each for up to PING_TIMEOUT_S.
        assert service["readinessProbe"]["timeoutSeconds"] > 2 * PING_TIMEOUT_S
        service_object = named(rendered[overlay], "Service", name)
        assert service_object["spec"]["ports"][0]["targetPort"] == "http"


def image_the_dockerfile_builds() -> tuple[str, int]:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    tag = re.search(r"docker build -f deploy/Dockerfile -t (\S+):\S+ \.", dockerfile)
    uid = re.search(r"useradd .*--uid (\d+)", dockerfile)
    assert tag and uid and re.search(r"^USER jiban", dockerfile, flags=re.MULTILINE)
    return tag.group(1), int(uid.group(1))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_and_commands_exist(rendered, overlay) -> None:
    image, _uid = image_the_dockerfile_builds()
    jiban = cli_parser()
    commands = set()
    for where, spec in pod_specs(rendered[overlay]):
        for container in containers(spec):
            repository, _, tag = container["image"].rpartition(":")
            assert repository.rsplit("/", 1)[-1] == image and tag not in ("", "latest"), where
            command = container["command"]
            if command[:2] == ["python", "-m"]:
                module = command[2]
                assert where == f"StatefulSet/{module.removeprefix('services.')}", where
                assert importlib.util.find_spec(f"{module}.__main__") is not None, module
            else:
                assert command[0] == "jiban", where
                jiban.parse_args(command[1:])  # exits 2 on a command that does not exist
            commands.add(" ".join(command))
    assert {"jiban migrate", "jiban topics create", "jiban wait --timeout 300"} <= commands


def test_a_command_the_cli_does_not_have_is_caught() -> None:
    with pytest.raises(SystemExit):
        cli_parser().parse_args(["topics", "make"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_unprivileged_on_a_read_only_root(rendered, overlay) -> None:
    _image, uid = image_the_dockerfile_builds()
    for where, spec in pod_specs(rendered[overlay]):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] and pod["runAsUser"] == uid == pod["runAsGroup"], where
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in containers(spec):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert len(tmp) == 1 and "emptyDir" in volumes[tmp[0]["name"]], where
            requests, limits = container["resources"]["requests"], container["resources"]["limits"]
            assert {"cpu", "memory"} <= set(requests) and {"cpu", "memory"} <= set(limits), where


def test_shutdown_fits_in_the_grace_period_and_restarts_keep_their_membership(rendered) -> None:
    uvicorn = re.search(
        r"timeout_graceful_shutdown=(\d+)", (ROOT / "shared" / "service.py").read_text()
    )
    assert uvicorn
    broker = create_broker(Settings(), "intake").config.configs[0].graceful_timeout
    shutdown = int(uvicorn.group(1)) + broker + STOP_TIMEOUT_S
    for overlay in OVERLAYS:
        objects = rendered[overlay]
        session_s = int(config(objects)["JIBAN_CONSUMER_SESSION_TIMEOUT_MS"]) / 1000
        for name, workload in workloads(objects).items():
            spec = workload["spec"]["template"]["spec"]
            (service,) = [c for c in spec["containers"] if c["name"] == "service"]
            pause = service["lifecycle"]["preStop"]["sleep"]["seconds"]
            assert 0 < pause < 15
            assert spec["terminationGracePeriodSeconds"] > pause + shutdown, name
            # Static membership needs a name that survives the restart: a StatefulSet pod's.
            assert workload["kind"] == "StatefulSet", name
            instance = env_of(service)["JIBAN_GROUP_INSTANCE_ID"]["valueFrom"]
            assert instance == {"fieldRef": {"fieldPath": "metadata.name"}}, name
            assert session_s > pause + 10, "a restarting pod must rejoin before it expires"
            budgets = [
                b
                for b in of_kind(objects, "PodDisruptionBudget")
                if b["spec"]["selector"] == workload["spec"]["selector"]
            ]
            assert len(budgets) == 1 and budgets[0]["spec"]["maxUnavailable"] == 1, name
    _wired, options = wired_consumers("dispatch")
    assert {o["group_instance_id"] for o in options} == {None}, "unset by default"


# --- settings ------------------------------------------------------------------------------


def known_variables() -> set[str]:
    return {f.alias or f"JIBAN_{name.upper()}" for name, f in Settings.model_fields.items()}


def test_production_s_example_secret_lists_the_keys_the_manifests_reference(rendered) -> None:
    example = (K8S / "overlays" / "production" / "secrets.env.example").read_text()
    listed = set(re.findall(r"^([a-z0-9.-]+)=", example, flags=re.MULTILINE))
    required, optional = set(), set()
    for _where, spec in pod_specs(rendered["production"]):
        for container in containers(spec):
            for e in container.get("env", []):
                if ref := e.get("valueFrom", {}).get("secretKeyRef"):
                    assert ref["name"] == "jiban-secrets"
                    (optional if ref.get("optional") else required).add(ref["key"])
        for volume in spec["volumes"]:
            if secret := volume.get("secret"):
                required |= {item["key"] for item in secret["items"]}
    # The CA is a file (--from-file), not a line of the env file; the JWT secret is for
    # deployments that sign their own tokens (this one has an identity provider).
    assert required - {"kafka-ca.crt"} <= listed <= required | optional
    assert listed == set(PRODUCTION_SECRET_SAMPLES) and "jwt-secret" not in listed
    assert not of_kind(rendered["production"], "Secret"), "production's Secret is never committed"


def secret_data(objects: list[dict[str, Any]], overlay: str, files: Path) -> dict[str, bytes]:
    secrets = of_kind(objects, "Secret")
    if overlay == "production":
        assert not secrets
        ca, _key = self_signed(files)
        return {
            **{k: v.encode() for k, v in PRODUCTION_SECRET_SAMPLES.items()},
            "kafka-ca.crt": ca.read_bytes(),
        }
    (secret,) = secrets
    return {k: base64.b64decode(v) for k, v in secret["data"].items()}


def environment(
    container: dict[str, Any],
    spec: dict[str, Any],
    objects: list[dict[str, Any]],
    secrets: dict[str, bytes],
    files: Path,
) -> dict[str, str]:
    """The container's environment as the kubelet would make it (the mounted Secret files
    written under `files`, and the paths pointing there)."""
    maps = {o["metadata"]["name"]: o.get("data", {}) for o in of_kind(objects, "ConfigMap")}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]])
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif ref := e["valueFrom"].get("secretKeyRef"):
            if ref["key"] in secrets:
                env[e["name"]] = secrets[ref["key"]].decode()
            else:
                assert ref.get("optional"), f"{e['name']}: no key {ref['key']} in the Secret"
        elif e["valueFrom"].get("fieldRef"):
            env[e["name"]] = "intake-0"
    volumes = {v["name"]: v for v in spec["volumes"]}
    for mount in container.get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        folder = files / mount["name"]
        folder.mkdir(exist_ok=True)
        for item in secret["items"]:
            (folder / item["path"]).write_bytes(secrets[item["key"]])
        env = {k: v.replace(mount["mountPath"], str(folder)) for k, v in env.items()}
    return env


@pytest.fixture
def clean_environment(monkeypatch) -> Iterator[Any]:
    """Settings read os.environ: only what a test sets there counts."""
    for variable in known_variables() | {"JIBAN_DEV_MODE"}:
        monkeypatch.delenv(variable, raising=False)
    yield monkeypatch


def settings_problems(
    objects: list[dict[str, Any]], overlay: str, files: Path, monkeypatch: Any
) -> list[str]:
    """Every container's environment read as the code reads it, outside development mode:
    each service must build, each Job's and init container's command must find its settings."""
    problems = []
    secrets = secret_data(objects, overlay, files)
    for where, spec in pod_specs(objects):
        for container in containers(spec):
            env = environment(container, spec, objects, secrets, files)
            unknown = {v for v in env if v not in known_variables() and not v.startswith("OTEL_")}
            if unknown:
                problems.append(f"{where}/{container['name']}: {sorted(unknown)} are not settings")
            env["JIBAN_DEV_MODE"] = "false"
            with monkeypatch.context() as patch:
                for key, value in env.items():
                    patch.setenv(key, value)
                try:
                    settings = Settings()
                    if container["command"][:2] == ["python", "-m"]:
                        module = container["command"][2]
                        importlib.import_module(f"{module}.app").build(settings)
                except Exception as exc:
                    problems.append(f"{where}/{container['name']}: {type(exc).__name__}: {exc}")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_setting_the_code_requires_outside_development_is_provided(
    rendered, overlay, tmp_path, clean_environment
) -> None:
    assert settings_problems(rendered[overlay], overlay, tmp_path, clean_environment) == []


def test_the_settings_check_catches_a_secret_left_out(
    rendered, tmp_path, clean_environment
) -> None:
    objects = copy.deepcopy(rendered["dev"])
    (secret,) = of_kind(objects, "Secret")
    del secret["data"]["tracking-code-key"]
    for _where, spec in pod_specs(objects):
        for container in containers(spec):
            for e in container.get("env", []):
                if e.get("valueFrom", {}).get("secretKeyRef", {}).get("key") == "tracking-code-key":
                    e["valueFrom"]["secretKeyRef"]["optional"] = True
    problems = settings_problems(objects, "dev", tmp_path, clean_environment)
    assert len(problems) == 1 and "JIBAN_TRACKING_CODE_KEY" in problems[0], problems


# --- network -------------------------------------------------------------------------------


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default_and_let_through_what_jiban_needs(
    rendered, overlay
) -> None:
    objects = rendered[overlay]
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(objects, "NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    pods = {
        where: o["spec"]["template"]["metadata"]["labels"]
        for o in of_kind(objects, *WORKLOAD_KINDS, "Job")
        for where in [f"{o['kind']}/{o['metadata']['name']}"]
    }
    for where, labels in pods.items():
        for needed in ("jiban-dns", "jiban-datastores"):
            assert selects(policies[needed]["podSelector"], labels), f"{where}: {needed}"
    console_egress = policies["console-to-services"]["egress"][0]["to"][0]["podSelector"]
    callable_ = {n for n in ALL_SERVICES if selects(console_egress, pods[f"StatefulSet/{n}"])}
    assert callable_ == {"dispatch", "tracking", "notify"}
    assert {p["port"] for p in policies["notify-providers"]["egress"][0]["ports"]} == {
        443,
        25,
        465,
        587,
    }


def test_keda_reads_the_lag_with_what_the_services_connect_with(rendered) -> None:
    """Production's TriggerAuthentication names ConfigMap keys and Secret keys that exist, in
    KEDA's spelling of the services' Kafka security."""
    objects = rendered["production"]
    spec = named(objects, "TriggerAuthentication", "jiban-kafka")["spec"]
    maps = {o["metadata"]["name"]: o["data"] for o in of_kind(objects, "ConfigMap")}
    found = {r["parameter"]: maps[r["name"]][r["key"]] for r in spec["configMapTargetRef"]}
    services = config(objects)
    assert services["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and found["tls"] == "enable"
    spelling = {
        "SCRAM-SHA-512": "scram_sha512",
        "SCRAM-SHA-256": "scram_sha256",
        "PLAIN": "plaintext",
    }
    assert found["sasl"] == spelling[services["KAFKA_SASL_MECHANISM"]]
    assert found["username"] == services["KAFKA_SASL_USERNAME"]
    secret = {(r["parameter"], r["name"], r["key"]) for r in spec["secretTargetRef"]}
    assert secret == {
        ("password", "jiban-secrets", "kafka-sasl-password"),
        ("ca", "jiban-secrets", "kafka-ca.crt"),
    }
    assert named(rendered["dev"], "TriggerAuthentication", "jiban-kafka")["spec"] == {}
    assert "KAFKA_SECURITY_PROTOCOL" not in config(rendered["dev"]), "dev: plaintext"


def test_without_kustomize_the_checks_skip_on_a_laptop_and_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.delenv(REQUIRE_KUSTOMIZE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="neither kubectl nor kustomize"):
        kustomize()
    monkeypatch.setenv(REQUIRE_KUSTOMIZE, "1")
    with pytest.raises(pytest.fail.Exception, match="JIBAN_REQUIRE_KUSTOMIZE=1 requires"):
        kustomize()
