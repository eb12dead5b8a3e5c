"""The deploy files against the code: commands, ports, variables, metrics and manifests.

Each test reads the Dockerfile, docker-compose.yml or a file under deploy/ and checks it
against what the code defines (services and ports in ``services.runtime``, settings in
``shared.config``, series in ``shared.metrics``), so that renaming one without the other
fails here rather than in a cluster.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from prometheus_client.metrics import MetricWrapperBase
from pydantic import BaseModel

from services.cli import app
from services.runtime import DEFAULT_PORTS, SERVICES, WORKERS, _durables_of
from shared import metrics
from shared.bus import server_urls
from shared.config import FLAT_VARIABLES, PREFIXES, GatewaySettings, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "holodeck-dashboard.json"
# Values of the NATS Helm chart, not a manifest of the kustomization.
NATS_VALUES = K8S / "nats-values.yaml"
KEDA = DEPLOY / "keda"
NATS_NODES = ("nats-1", "nats-2", "nats-3")
GATEWAY_PORT = GatewaySettings().port


def _load_healthcheck() -> Any:
    spec = importlib.util.spec_from_file_location(
        "holodeck_healthcheck", ROOT / "deploy" / "docker" / "healthcheck.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HEALTHCHECK = _load_healthcheck()

# Labels Prometheus itself attaches to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})


# --- reading the files ------------------------------------------------------------------


def _documents(path: Path) -> list[Any]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def _yaml_files() -> list[Path]:
    found = {*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml"), COMPOSE}
    return sorted(found)


def _compose() -> dict[str, Any]:
    (doc,) = _documents(COMPOSE)
    return doc


def _holodeck_services() -> dict[str, dict[str, Any]]:
    """The compose services that run the Holodeck image."""
    return {
        name: service
        for name, service in _compose()["services"].items()
        if "build" in service or str(service.get("image", "")).startswith("holodeck")
    }


def _compose_environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _k8s_objects() -> list[tuple[Path, dict[str, Any]]]:
    objects = []
    for path in sorted(K8S.glob("*.y*ml")):
        if path.name in ("kustomization.yaml", NATS_VALUES.name):
            continue
        objects += [(path, doc) for doc in _documents(path)]
    return objects


def _k8s_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in _k8s_objects() if doc["kind"] == kind}


def _containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return deployment["spec"]["template"]["spec"]["containers"]


def _holodeck_containers() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(deployment name, deployment, container) for every container of the image."""
    return [
        (name, deployment, container)
        for name, deployment in _k8s_kind("Deployment").items()
        for container in _containers(deployment)
        if str(container["image"]).split(":")[0].endswith("holodeck")
    ]


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    instructions = [tuple(line.split(None, 1)) for line in lines]
    last_from = max(i for i, (word, _) in enumerate(instructions) if word.upper() == "FROM")
    return [(word.upper(), rest) for word, rest in instructions[last_from:]]


def _dockerfile_one(instruction: str) -> str:
    found = [rest for word, rest in _dockerfile_instructions() if word == instruction]
    assert len(found) == 1, f"the final stage needs exactly one {instruction}"
    return found[0]


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in _dockerfile_instructions():
        if word == "ENV":
            for token in shlex.split(rest):
                key, _, value = token.partition("=")
                env[key] = value
    return env


def _exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arguments
    return value


# --- what the code understands ----------------------------------------------------------


def understood_variable(name: str) -> bool:
    """Whether ``shared.config`` reads an environment variable of this name.

    Decided from the code: the flat variables (``FLAT_VARIABLES`` with each prefix of
    ``PREFIXES``), ``<prefix>CONFIG``, and ``<env_prefix><SECTION><delimiter><FIELD>`` for
    every field of every section model on :class:`Settings`.
    """
    if name != name.upper():
        return False
    flat = {pattern.format(prefix=prefix) for pattern in FLAT_VARIABLES for prefix in PREFIXES}
    if name in flat or name in {f"{prefix}CONFIG" for prefix in PREFIXES}:
        return True
    env_prefix = Settings.model_config.get("env_prefix") or ""
    delimiter = Settings.model_config.get("env_nested_delimiter")
    if not delimiter or not name.startswith(env_prefix):
        return False
    section, found, field = name[len(env_prefix) :].partition(delimiter)
    if not found:
        return False
    info = Settings.model_fields.get(section.lower())
    model = info.annotation if info is not None else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return False
    return field.lower() in model.model_fields


def _series() -> dict[str, frozenset[str]]:
    """Every series name ``shared.metrics`` exports, with the labels it carries."""
    series: dict[str, frozenset[str]] = {}
    for value in vars(metrics).values():
        if isinstance(value, metrics.MemoryLimit):  # a collector of one unlabelled gauge
            series[value.name] = frozenset()
        if not isinstance(value, MetricWrapperBase):
            continue
        (family,) = value.describe()
        labels = frozenset(value._labelnames)
        if family.type == "counter":
            series[family.name + "_total"] = labels
        elif family.type == "histogram":
            series[family.name + "_bucket"] = labels | {"le"}
            series[family.name + "_count"] = labels
            series[family.name + "_sum"] = labels
        elif family.type == "summary":
            series[family.name] = labels | {"quantile"}
            series[family.name + "_count"] = labels
            series[family.name + "_sum"] = labels
        else:
            series[family.name] = labels
    return series


def _serve_params(args: list[str]) -> dict[str, Any]:
    """Parse a ``holodeck`` command line with the real CLI, without running it."""
    group = typer.main.get_command(app)
    commands: dict[str, Any] = getattr(group, "commands", {})
    assert args, "empty command"
    command = commands.get(args[0])
    assert command is not None, f"holodeck has no command {args[0]!r}"
    with command.make_context(args[0], list(args[1:])) as ctx:
        return dict(ctx.params)


def _served_port(args: list[str]) -> int:
    """The one service a ``serve`` command runs, checked, and the port it listens on."""
    assert args[0] == "serve", args
    params = _serve_params(args)
    names = params["names"]
    assert len(names) == 1, f"one service per container: {args}"
    (name,) = names
    assert name in SERVICES, f"{name!r} is not a service: {SERVICES}"
    if name in WORKERS:
        assert params["metrics_port"] == DEFAULT_PORTS[name], args
        return DEFAULT_PORTS[name]
    assert params["port"] == GATEWAY_PORT, args
    return GATEWAY_PORT


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting from this machine's environment or home directory leaks in."""
    flat = {pattern.format(prefix=prefix) for pattern in FLAT_VARIABLES for prefix in PREFIXES}
    for key in list(os.environ):
        if key.startswith(PREFIXES) or key in flat:
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


# --- every file parses ------------------------------------------------------------------


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_parses(path: Path):
    docs = _documents(path)
    assert docs, f"{path} holds no document"
    assert all(isinstance(doc, dict) for doc in docs)


def test_dashboard_is_json():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["panels"]


# --- the variable helper itself ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NATS_URL", True),
        ("DATABASE_URL", True),
        ("OPENAI_API_KEY", True),
        ("HOLDECK_LOG_LEVEL", True),
        ("HOLODECK_LOG_LEVEL", True),
        ("HOLDECK_CONFIG", True),
        ("HOLODECK_CONFIG", True),
        ("HOLODECK_NATS__MAX_DELIVER", True),
        ("HOLODECK_STORAGE__ARTIFACT_STORE", True),
        ("HOLODECK_GATEWAY__HOST", True),
        ("HOLODECK_NATS__NO_SUCH_FIELD", False),
        ("HOLODECK_NO_SUCH_SECTION__URL", False),
        ("HOLODECK_NATS", False),
        ("HOLODECK_LOGLEVEL", False),
        ("holodeck_nats__url", False),
        ("POSTGRES_PASSWORD", False),
    ],
)
def test_understood_variable(name: str, expected: bool):
    assert understood_variable(name) is expected


def test_flat_variables_point_at_real_fields():
    for pattern, (section, field) in FLAT_VARIABLES.items():
        model = Settings.model_fields[section].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel), pattern
        assert field in model.model_fields, pattern


# --- the image --------------------------------------------------------------------------


def test_dockerfile_entrypoint_and_default_command():
    assert _exec_form(_dockerfile_one("ENTRYPOINT")) == ["holodeck"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^holodeck\s*=\s*"services\.cli:app"', pyproject, re.M)
    cmd = _exec_form(_dockerfile_one("CMD"))
    params = _serve_params(cmd)
    assert cmd[0] == "up"
    assert params["port"] == GATEWAY_PORT
    healthcheck = _dockerfile_one("HEALTHCHECK")
    probe = _exec_form(healthcheck.split(" CMD ", 1)[1])
    assert probe[0] == "python"
    script = PurePosixPath(probe[1])
    copied = [rest.split() for word, rest in _dockerfile_instructions() if word == "COPY"]
    (source,) = [ROOT / parts[0] for parts in copied if parts[-1] == str(script)]
    assert HEALTHCHECK.port_of(["holodeck", *cmd]) == params["port"]
    assert source == ROOT / "deploy" / "docker" / "healthcheck.py"
    assert str(params["port"]) in _dockerfile_one("EXPOSE").split()


def test_dockerfile_runs_unprivileged_with_a_workspace_under_home():
    user = _dockerfile_one("USER").split(":")[0]
    assert user not in ("root", "0")
    env = _dockerfile_env()
    assert env.get("HOME", "").startswith("/home/")
    for name in env:
        if name.startswith(PREFIXES):
            assert understood_variable(name), f"Dockerfile sets {name}, which nothing reads"
    for _, deployment, _ in _holodeck_containers():
        context = deployment["spec"]["template"]["spec"]["securityContext"]
        assert str(context["runAsUser"]) == user
    (config,) = _configmap_config().values()
    assert str(config["storage"]["workspace"]).startswith(env["HOME"] + "/")


def test_dockerfile_installs_without_editable_mode():
    runs = " ".join(rest for word, rest in _dockerfile_instructions() if word == "RUN")
    assert "pip install" in runs
    assert " -e " not in f" {runs} " and "--editable" not in runs


# --- docker-compose ---------------------------------------------------------------------


def test_compose_runs_every_service_once_with_its_port():
    services = _holodeck_services()
    served: dict[str, int] = {}
    for name, service in services.items():
        command = service["command"]
        port = _served_port(command)
        served[command[1]] = port
        probe = service["healthcheck"]["test"]
        assert probe[-1] == str(port), f"{name}: healthcheck on {probe[-1]}, serves {port}"
        assert service["restart"] == "unless-stopped"
        assert set(service["depends_on"]) >= set(NATS_NODES)
        assert HEALTHCHECK.port_of(["holodeck", *command]) == port
        for dependency in service["depends_on"].values():
            assert dependency["condition"] == "service_healthy"
    assert sorted(served) == sorted(SERVICES)
    assert len(services) == len(SERVICES)
    gateway = next(s for s in services.values() if s["command"][1] == "gateway")
    assert f"{GATEWAY_PORT}:{GATEWAY_PORT}" in gateway["ports"]


def test_compose_scales_imagegen():
    imagegen = next(s for s in _holodeck_services().values() if s["command"][1] == "imagegen")
    assert imagegen["deploy"]["replicas"] >= 2
    assert "container_name" not in imagegen and "ports" not in imagegen


def test_compose_variables_are_understood():
    for name, service in _holodeck_services().items():
        for variable in _compose_environment(service):
            assert understood_variable(variable), f"{name} sets {variable}, which nothing reads"


def test_compose_settings_reach_nats_postgres_and_shared_artifacts(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
):
    compose = _compose()
    postgres = _compose_environment(compose["services"]["postgres"])
    for name, service in _holodeck_services().items():
        with monkeypatch.context() as patch:
            for key, value in _compose_environment(service).items():
                patch.setenv(key, value)
            settings = load_settings()
        urls = [urlsplit(u) for u in server_urls(settings.nats.url or "")]
        assert sorted(u.hostname or "" for u in urls) == sorted(NATS_NODES), name
        assert all(u.scheme == "nats" and u.hostname in compose["services"] for u in urls)
        assert settings.nats.replicas == len(NATS_NODES), name
        assert settings.nats.user and settings.nats.password, name
        assert settings.storage.artifact_store == "nats", name
        if service["command"][1] != "gateway":
            continue
        assert settings.gateway.host == "0.0.0.0"
        database = urlsplit(settings.database_url)
        assert database.scheme == "postgresql+asyncpg"
        assert database.hostname == "postgres"
        assert database.username == postgres["POSTGRES_USER"]
        assert database.password == postgres["POSTGRES_PASSWORD"]
        assert database.path.lstrip("/") == postgres["POSTGRES_DB"]
        assert "postgres" in service["depends_on"]


def test_compose_bind_mounts_exist():
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).is_file(), f"{name} mounts missing {source}"


# --- Kubernetes -------------------------------------------------------------------------


def _configmap_config() -> dict[str, dict[str, Any]]:
    """ConfigMap name → its parsed config.yaml."""
    return {
        name: yaml.safe_load(doc["data"]["config.yaml"])
        for name, doc in _k8s_kind("ConfigMap").items()
        if "config.yaml" in doc.get("data", {})
    }


def test_kustomization_lists_every_manifest():
    (kustomization,) = _documents(K8S / "kustomization.yaml")
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    files = {p.name for p in K8S.glob("*.y*ml")} - {"kustomization.yaml", NATS_VALUES.name}
    assert set(listed) == files
    namespaces = _k8s_kind("Namespace")
    assert list(namespaces) == [kustomization["namespace"]]


def test_kubernetes_runs_every_service_once_with_its_port():
    served: dict[str, str] = {}
    for name, deployment, container in _holodeck_containers():
        assert "command" not in container, "the image's ENTRYPOINT is holodeck"
        port = _served_port(container["args"])
        served[container["args"][1]] = name
        ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
        assert port in ports.values(), f"{name}: serves {port}, declares {ports}"
        # Liveness restarts a pod: it must not depend on NATS or the database, or an outage
        # of either would restart every pod; readiness takes it out of rotation instead.
        for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")):
            check = container[probe]["httpGet"]
            probed = ports.get(check["port"], check["port"])
            assert probed == port, f"{name}: {probe} on {check['port']}, serves {port}"
            assert check["path"] == path, f"{name}: {probe} on {check['path']}"
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations.get("prometheus.io/path", "/metrics") == "/metrics"
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and resources["limits"]
    assert sorted(served) == sorted(SERVICES)
    assert len(_holodeck_containers()) == len(SERVICES)


def test_kubernetes_variables_are_understood_and_their_sources_exist():
    secrets = _k8s_kind("Secret")
    configmaps = _k8s_kind("ConfigMap")
    for name, _, container in _holodeck_containers():
        variables = [item["name"] for item in container.get("env", [])]
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                secret = secrets[ref["name"]]
                keys = {*secret.get("stringData", {}), *secret.get("data", {})}
                assert ref["key"] in keys, f"{name}: {ref} names a missing key"
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                secret = secrets[source["secretRef"]["name"]]
                variables += [*secret.get("stringData", {}), *secret.get("data", {})]
            if "configMapRef" in source:
                variables += list(configmaps[source["configMapRef"]["name"]]["data"])
        for variable in variables:
            assert understood_variable(variable), f"{name} sets {variable}, which nothing reads"


def test_kubernetes_config_file_is_mounted_where_holodeck_config_points():
    configmaps = _k8s_kind("ConfigMap")
    for name, deployment, container in _holodeck_containers():
        env = {item["name"]: item.get("value") for item in container["env"]}
        target = PurePosixPath(env["HOLODECK_CONFIG"])
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volume_name = mounts[str(target.parent)]
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        (volume,) = [v for v in volumes if v["name"] == volume_name]
        configmap = configmaps[volume["configMap"]["name"]]
        assert target.name in configmap["data"], f"{name}: {target} is not in the ConfigMap"


def test_configmap_config_loads(monkeypatch: pytest.MonkeyPatch, clean_env: Path):
    configs = _configmap_config()
    assert configs, "no ConfigMap holds a config.yaml"
    for name, config in configs.items():
        assert set(config) == set(Settings.model_fields), name
        path = clean_env / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        monkeypatch.setenv("HOLODECK_CONFIG", str(path))
        settings = load_settings()
        assert settings.storage.artifact_store == "nats"
        assert settings.gateway.host == "0.0.0.0"
        assert settings.gateway.port == GATEWAY_PORT
        assert urlsplit(settings.nats.url or "").scheme == "nats"


def test_kubernetes_pods_load_their_settings(monkeypatch: pytest.MonkeyPatch, clean_env: Path):
    """Each container's settings as the pod would see them: image ENV, its env (secrets
    from the template) and the ConfigMap's file."""
    secrets = _k8s_kind("Secret")
    configs = _configmap_config()
    image_env = {k: v for k, v in _dockerfile_env().items() if k.startswith(PREFIXES)}
    for name, _, container in _holodeck_containers():
        with monkeypatch.context() as patch:
            for key, value in image_env.items():
                patch.setenv(key, value)
            for item in container["env"]:
                if item["name"] == "HOLODECK_CONFIG":
                    (config,) = configs.values()
                    path = clean_env / "config.yaml"
                    path.write_text(yaml.safe_dump(config))
                    patch.setenv("HOLODECK_CONFIG", str(path))
                elif "value" in item:
                    patch.setenv(item["name"], str(item["value"]))
                else:
                    ref = item["valueFrom"]["secretKeyRef"]
                    patch.setenv(item["name"], secrets[ref["name"]]["stringData"][ref["key"]])
            settings = load_settings()
        assert settings.storage.artifact_store == "nats", name
        assert settings.nats.replicas == 3, name
        assert settings.nats.user and settings.nats.password, f"{name}: no NATS login"
        if container["args"][1] == "gateway":
            assert settings.gateway.host == "0.0.0.0"
            assert settings.security.api_keys, "the gateway would refuse 0.0.0.0 without keys"
            assert settings.database_url.startswith("postgresql+asyncpg://"), name


def test_autoscalers_target_cpu_requesting_deployments():
    deployments = _k8s_kind("Deployment")
    autoscalers = _k8s_kind("HorizontalPodAutoscaler")
    scaled = set()
    for name, hpa in autoscalers.items():
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment"
        deployment = deployments[target["name"]]
        scaled.add(target["name"])
        assert "replicas" not in deployment["spec"], f"{name}: the autoscaler owns replicas"
        for container in _containers(deployment):
            assert "cpu" in container["resources"]["requests"]
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    services_scaled = {c["args"][1] for n, _, c in _holodeck_containers() if n in scaled}
    assert services_scaled == {"imagegen", "meshgen"}
    for name, deployment in deployments.items():
        if name not in scaled:
            assert deployment["spec"]["replicas"] >= 1, name


def test_services_select_pods_and_reach_their_ports():
    deployments = _k8s_kind("Deployment")
    for name, service in _k8s_kind("Service").items():
        selector = service["spec"]["selector"]
        matching = [
            d
            for d in deployments.values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matching) == 1, f"Service {name} selects {len(matching)} Deployments"
        (deployment,) = matching
        assert deployment["spec"]["selector"]["matchLabels"].items() <= selector.items()
        ports = {
            p.get("name"): p["containerPort"] for c in _containers(deployment) for p in c["ports"]
        }
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert ports.get(target, target) in ports.values(), f"Service {name}: {target}"
    gateway = _k8s_kind("Service")["holodeck"]["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in gateway] == [(80, GATEWAY_PORT)]


# --- Prometheus and Grafana -------------------------------------------------------------

_SERIES_REF = re.compile(r"\b(holodeck_[a-z0-9_]+)\b\s*(\{[^}]*\})?")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def _check_expression(expr: str) -> frozenset[str]:
    """Every series ``expr`` names exists with the labels it selects and groups by;
    returns the labels its series can carry."""
    series = _series()
    refs = _SERIES_REF.findall(expr)
    assert refs or re.search(r"\bup\b", expr), f"no Holodeck series in {expr!r}"
    labels = set(TARGET_LABELS)
    for name, selector in refs:
        assert name in series, f"{name} is not exported by shared.metrics ({expr!r})"
        labels |= series[name]
        for label in _MATCHER.findall(selector):
            assert label in series[name] | TARGET_LABELS, f"{name} has no label {label}"
    for group in _GROUPING.findall(expr):
        for label in filter(None, (part.strip() for part in group.split(","))):
            assert label in labels, f"no series in {expr!r} has the label {label}"
    return frozenset(labels)


def _alert_rules() -> list[dict[str, Any]]:
    (doc,) = _documents(ALERTS)
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_alert_rules_use_existing_series():
    rules = _alert_rules()
    names = {rule["alert"] for rule in rules}
    assert names >= {
        "HighErrorRate",
        "HighMemoryUsage",
        "SlowRequests",
        "StageFailures",
        "ConsumerBacklog",
        "ServiceDown",
        "ScenesFailing",
        "HolodeckScenesStuck",
    }
    for rule in rules:
        labels = _check_expression(rule["expr"])
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        for text in rule["annotations"].values():
            for label in re.findall(r"\$labels\.([A-Za-z_]+)", text):
                assert label in labels, f"{rule['alert']}: no label {label}"


def test_histograms_are_queried_through_buckets():
    series = _series()
    histograms = {name.removesuffix("_bucket") for name in series if name.endswith("_bucket")}
    texts = [rule["expr"] for rule in _alert_rules()]
    texts += [target["expr"] for target in _dashboard_targets()]
    for text in texts:
        for name, _ in _SERIES_REF.findall(text):
            assert name not in histograms, f"{name} is a histogram: use {name}_bucket"
        if "histogram_quantile" in text:
            assert "_bucket" in text


def _dashboard_targets() -> list[dict[str, Any]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_dashboard_uses_existing_series():
    targets = _dashboard_targets()
    assert targets
    used: set[str] = set()
    for target in targets:
        labels = _check_expression(target["expr"])
        used |= {name for name, _ in _SERIES_REF.findall(target["expr"])}
        for label in re.findall(r"\{\{\s*([A-Za-z_]+)\s*\}\}", target.get("legendFormat", "")):
            assert label in labels, f"legend {target['legendFormat']!r}: no label {label}"
    wanted = {
        "holodeck_requests_total",
        "holodeck_stage_duration_seconds_bucket",
        "holodeck_memory_usage_bytes",
        "holodeck_consumer_pending_messages",
        "holodeck_cache_lookups_total",
        "holodeck_error_rate",
        "holodeck_memory_limit_bytes",
        "holodeck_scenes_total",
    }
    assert wanted <= used
    # The hit ratio of the last minutes, not holodeck_cache_hit_ratio's since start.
    assert "holodeck_cache_hit_ratio" not in used


def test_prometheus_scrapes_every_service_at_its_port():
    (config,) = _documents(PROMETHEUS)
    compose_services = _compose()["services"]
    scraped: dict[str, int] = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        targets: list[tuple[str, int]] = []
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                targets.append((host, int(port)))
        for dns in job.get("dns_sd_configs", []):
            targets += [(host, int(dns["port"])) for host in dns["names"]]
        for host, port in targets:
            assert host in compose_services, f"{job['job_name']}: no compose service {host}"
            scraped[host] = port
            assert job["job_name"].startswith("holodeck"), "ServiceDown matches job=~holodeck.*"
    expected = {name: DEFAULT_PORTS.get(name, GATEWAY_PORT) for name in SERVICES}
    assert scraped == expected


def test_prometheus_finds_its_rule_files_where_compose_mounts_them():
    (config,) = _documents(PROMETHEUS)
    prometheus = _compose()["services"]["prometheus"]
    mounts = {}
    for volume in prometheus["volumes"]:
        source, target, *_ = str(volume).split(":")
        mounts[target] = source
    config_target = next(t for t, s in mounts.items() if (ROOT / s).resolve() == PROMETHEUS)
    assert f"--config.file={config_target}" in prometheus["command"]
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS.parent / rule_file).is_file()
        in_container = str(PurePosixPath(config_target).parent / rule_file)
        assert (ROOT / mounts[in_container]).resolve() == (PROMETHEUS.parent / rule_file)


# --- durability -------------------------------------------------------------------------


def test_production_nats_is_a_three_node_cluster_syncing_every_write():
    services = _compose()["services"]
    volumes = set()
    for node in NATS_NODES:
        nats = services[node]
        mounted = {v.split(":")[1]: v.split(":")[0] for v in nats["volumes"] if v.startswith("./")}
        config_path = nats["command"][nats["command"].index("-c") + 1]
        config = (ROOT / mounted[config_path]).read_text()
        assert re.search(r"^\s*sync_interval:\s*always\s*$", config, re.MULTILINE)
        assert re.search(r"^\s*store_dir:\s*/data\s*$", config, re.MULTILINE)
        for other in NATS_NODES:
            assert f"nats-route://{other}:6222" in config
        (data,) = [v.split(":")[0] for v in nats["volumes"] if v.endswith(":/data")]
        volumes.add(data)
        assert nats["environment"]["SERVER_NAME"] == node
        assert "healthcheck" in nats
    assert len(volumes) == len(NATS_NODES), "each node has its own volume"
    for config in _configmap_config().values():
        assert config["nats"]["sync_always"] is True
        assert config["nats"]["replicas"] == 3
    values = yaml.safe_load(NATS_VALUES.read_text())
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    jetstream = values["config"]["jetstream"]
    assert jetstream["enabled"] and jetstream["fileStore"]["pvc"]["enabled"]
    assert jetstream["merge"]["sync_interval"] == "always"
    secrets = _k8s_kind("Secret")
    for item in values["container"]["env"].values():
        ref = item["valueFrom"]["secretKeyRef"]
        assert ref["key"] in secrets[ref["name"]]["stringData"]


def test_keda_overlay_replaces_the_cpu_autoscalers():
    """KEDA scales every worker on its durables' backlog; no Deployment keeps an HPA too."""
    (kustomization,) = _documents(KEDA / "kustomization.yaml")
    assert "../kubernetes" in kustomization["resources"]
    deleted = {
        yaml.safe_load(p["patch"])["metadata"]["name"]
        for p in kustomization["patches"]
        if "$patch: delete" in p["patch"]
    }
    scaled = {}
    for doc in _documents(KEDA / "scaledobjects.yaml"):
        assert doc["kind"] == "ScaledObject"
        target = doc["spec"]["scaleTargetRef"]["name"]
        scaled[target] = doc
        spec = doc["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        assert spec["cooldownPeriod"] >= 60
        for trigger in spec["triggers"]:
            assert trigger["type"] == "nats-jetstream"
            meta = trigger["metadata"]
            assert meta["stream"] == "HOLODECK" and meta["account"] == "$G"
            assert meta["natsServerMonitoringEndpoint"].endswith(":8222")
            assert int(meta["lagThreshold"]) >= 1
    deployments = _k8s_kind("Deployment")
    workers = {n for n, _, c in _holodeck_containers() if c["args"][1] in WORKERS}
    assert set(scaled) == workers
    for name, doc in scaled.items():
        durables = {t["metadata"]["consumer"] for t in doc["spec"]["triggers"]}
        (container,) = _containers(deployments[name])
        assert durables == set(_durables_of(container["args"][1])), name
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: n
        for n, h in _k8s_kind("HorizontalPodAutoscaler").items()
    }
    assert set(hpas.values()) <= deleted, "an HPA left beside a ScaledObject"


def test_disruption_budgets_and_network_policies_cover_every_service():
    budgets = _k8s_kind("PodDisruptionBudget")
    components = {c["args"][1] for _, _, c in _holodeck_containers()}
    covered = {
        b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for b in budgets.values()
    }
    assert covered == components
    policies = _k8s_kind("NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"]["podSelector"] == {}
    open_to_all = [
        p for p in policies.values() for rule in p["spec"].get("ingress", []) if "from" not in rule
    ]
    assert [
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in open_to_all
    ] == ["gateway"]
    (nats,) = [
        p
        for p in policies.values()
        if p["spec"]["podSelector"].get("matchLabels") == {"app.kubernetes.io/name": "nats"}
    ]
    client_rule = next(r for r in nats["spec"]["ingress"] if {"port": 4222} in r["ports"])
    allowed = [peer["podSelector"]["matchLabels"] for peer in client_rule["from"]]
    assert {"app.kubernetes.io/name": "holodeck"} in allowed


# --- the lock file ----------------------------------------------------------------------


def _locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"requirements.lock: {line!r} is not pinned with =="
        pins[canonicalize_name(name)] = version
    return pins


def test_lock_file_pins_every_dependency_of_pyproject_and_their_extras():
    """Every dependency (and what its extras add) is pinned, at a version pyproject allows;
    the image installs the lock with --no-deps, so a missing one would fail at run time."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = _locked()
    for spec in pyproject["project"]["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"requirements.lock misses {requirement.name} ({spec})"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, pyproject wants {spec}"
        )
        for extra in requirement.extras:
            for needed in importlib.metadata.requires(requirement.name) or []:
                wanted = Requirement(needed)
                if wanted.marker is not None and wanted.marker.evaluate({"extra": extra}):
                    if not wanted.marker.evaluate({"extra": ""}):
                        assert canonicalize_name(wanted.name) in pins, (
                            f"requirements.lock misses {wanted.name}, needed by {spec}"
                        )
    assert "holodeck" not in pins, "the project itself is installed after the lock"


def test_dockerfile_installs_the_lock_without_resolving():
    runs = " ".join(rest for word, rest in _dockerfile_instructions() if word == "RUN")
    copies = [rest for word, rest in _dockerfile_instructions() if word == "COPY"]
    assert any(c.split()[0] == "requirements.lock" for c in copies)
    assert "pip install --no-deps -r /tmp/requirements.lock" in runs
    assert "pip check" in runs


ALERT_TESTS = DEPLOY / "prometheus" / "alerts_test.yml"


def _alert_tests() -> list[dict[str, Any]]:
    (doc,) = _documents(ALERT_TESTS)
    assert doc["rule_files"] == [ALERTS.name]
    tests: list[dict[str, Any]] = doc["tests"]
    return tests


def test_every_alert_has_a_firing_and_a_silent_promtool_test():
    fired: set[str] = set()
    silent: set[str] = set()
    for case in _alert_tests():
        for check in case.get("alert_rule_test", []):
            (fired if check["exp_alerts"] else silent).add(check["alertname"])
    names = {rule["alert"] for rule in _alert_rules()}
    assert names - fired == set(), "alerts never shown firing in alerts_test.yml"
    assert names - silent == set(), "alerts never shown silent in alerts_test.yml"
    assert fired | silent <= names, "alerts_test.yml tests alerts that do not exist"


def test_every_dashboard_query_is_tested_on_an_idle_system():
    """Each dashboard query has its promtool test on the idle system, and each panel has a
    query there that answers (0 rather than "No data")."""
    (idle,) = [case for case in _alert_tests() if case["name"].startswith("The dashboard")]
    answers = {check["expr"]: check["exp_samples"] for check in idle["promql_expr_test"]}
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert sorted(answers) == sorted(queries), "alerts_test.yml and the dashboard differ"
    for panel in dashboard["panels"]:
        assert any(answers[t["expr"]] for t in panel["targets"]), panel["title"]
