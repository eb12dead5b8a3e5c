"""Settings: the guide's variables, YAML, precedence and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import load_settings
from shared.errors import ConfigError


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HOLODECK_WORKSPACE", str(tmp_path))
    settings = load_settings()
    assert settings.performance.concurrent_workers == 4
    assert settings.storage.root == tmp_path
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    assert settings.nats.url is None


def test_guide_variables_work_with_both_prefixes(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOLDECK_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("HOLODECK_CACHE_SIZE_MB", "200")
    monkeypatch.setenv("HOLDECK_WORKERS", "8")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("COMFYUI_API_URL", "http://comfy:8188")
    monkeypatch.setenv("SF3D_API_URL", "http://sf3d:8080")
    monkeypatch.setenv("NATS_URL", "nats://bus:4222")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@db/h")
    settings = load_settings()
    assert settings.logging.level == "DEBUG"
    assert settings.performance.max_cache_size_mb == 200
    assert settings.performance.concurrent_workers == 8
    assert settings.llm.api_key == "sk-test"
    assert settings.image_generation.comfyui_url == "http://comfy:8188"
    assert settings.three_d_generation.sf3d_url == "http://sf3d:8080"
    assert settings.nats.url == "nats://bus:4222"
    assert settings.database_url == "postgresql+asyncpg://u@db/h"


def test_yaml_file_in_the_guide_shape(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    path = tmp_path / "production.yaml"
    path.write_text(
        "llm:\n  timeout: 45\n  retry_attempts: 5\n"
        "performance:\n  concurrent_workers: 6\n  max_cache_size_mb: 300\n"
        "logging:\n  level: WARNING\n"
    )
    monkeypatch.setenv("HOLODECK_CONFIG", str(path))
    monkeypatch.setenv("HOLDECK_WORKERS", "3")  # a variable beats the file
    settings = load_settings()
    assert settings.llm.timeout == 45 and settings.llm.retry_attempts == 5
    assert settings.performance.max_cache_size_mb == 300
    assert settings.performance.concurrent_workers == 3
    assert settings.logging.level == "WARNING"


def test_nested_variables(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOLODECK_NATS__MAX_DELIVER", "9")
    assert load_settings().nats.max_deliver == 9


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("HOLDECK_WORKERS", "lots", "performance.concurrent_workers"),
        ("HOLDECK_WORKERS", "0", "performance.concurrent_workers"),
        ("HOLDECK_LOG_LEVEL", "LOUD", "logging.level"),
        ("HOLODECK_NATS__MAX_DELIVER", "-1", "nats.max_deliver"),
    ],
)
def test_invalid_values_name_the_field(monkeypatch: pytest.MonkeyPatch, name, value, field):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert field in str(info.value)


def test_unknown_yaml_key_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("performance:\n  concurent_workers: 3\n")
    monkeypatch.setenv("HOLODECK_CONFIG", str(path))
    with pytest.raises(ConfigError, match=r"performance\.concurent_workers"):
        load_settings()


def test_broken_yaml_and_missing_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("performance: [unclosed\n")
    monkeypatch.setenv("HOLODECK_CONFIG", str(path))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings()
    monkeypatch.setenv("HOLODECK_CONFIG", str(tmp_path / "absent.yaml"))
    with pytest.raises(ConfigError, match="not a file"):
        load_settings()


def test_workspace_config_yaml_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    (tmp_path / "config.yaml").write_text("gateway:\n  port: 9999\n")
    monkeypatch.setenv("HOLODECK_WORKSPACE", str(tmp_path))
    assert load_settings().gateway.port == 9999


def test_remote_backend_without_its_url_is_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOLODECK_IMAGE_GENERATION__DEFAULT_BACKEND", "comfyui")
    with pytest.raises(ConfigError, match="COMFYUI_API_URL"):
        load_settings()
    monkeypatch.setenv("COMFYUI_API_URL", "http://comfy:8188")
    assert load_settings().image_generation.default_backend == "comfyui"
    monkeypatch.setenv("HOLODECK_THREE_D_GENERATION__DEFAULT_BACKEND", "sf3d")
    with pytest.raises(ConfigError, match="SF3D_API_URL"):
        load_settings()


def test_the_guides_production_yaml_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    path = tmp_path / "production.yaml"
    path.write_text(
        "llm:\n  default_provider: openai\n  timeout: 30\n  retry_attempts: 3\n"
        "  backoff_factor: 1.5\n"
        "image_generation:\n  default_backend: comfyui\n  timeout: 300\n  quality: high\n"
        "three_d_generation:\n  default_backend: sf3d\n  timeout: 600\n  quality: standard\n"
        "performance:\n  cache_ttl: 7200\n  max_cache_size_mb: 500\n  concurrent_workers: 8\n"
        "  memory_monitoring: true\n"
        "logging:\n  level: INFO\n  file_rotation: 100MB\n  retention_days: 30\n"
    )
    monkeypatch.setenv("HOLODECK_CONFIG", str(path))
    monkeypatch.setenv("COMFYUI_API_URL", "http://localhost:8188")
    monkeypatch.setenv("SF3D_API_URL", "http://localhost:8080")
    settings = load_settings()
    assert settings.llm.default_provider == "openai"
    assert settings.image_generation.default_backend == "comfyui"
    assert settings.three_d_generation.default_backend == "sf3d"
    assert settings.performance.concurrent_workers == 8
