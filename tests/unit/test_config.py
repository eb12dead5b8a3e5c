"""Settings: the guide's variables, YAML, precedence and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.config_commands import key_entry, parse_permissions
from services.gateway.security import KeyRing, new_key
from shared.config import explain_settings, interpolate, load_settings
from shared.errors import BadInput, ConfigError


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


# -- security, .env, ${VAR}, config show -----------------------------------------------

GUIDE_SECURITY = """\
security:
  api_keys:
    - name: "production"
      key: "${PRODUCTION_API_KEY}"
      rate_limit: "1000/hour"
      permissions: ["read", "write"]

    - name: "development"
      key: "${DEVELOPMENT_API_KEY}"
      rate_limit: "100/hour"
      permissions: ["read"]

  rate_limiting:
    enabled: true
    default_limit: "100/hour"
    burst_limit: "200"

  cors:
    allowed_origins:
      - "https://holodeck.example.com"
      - "https://app.holodeck.example.com"
    allowed_methods: ["GET", "POST"]
    allowed_headers: ["Authorization", "Content-Type"]
"""
PRODUCTION_KEY = "p" * 32
DEVELOPMENT_KEY = "d" * 32


@pytest.fixture
def guide_security(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The guide's security block as the config file, run from an empty directory."""
    path = tmp_path / "production.yaml"
    path.write_text(GUIDE_SECURITY)
    monkeypatch.setenv("HOLODECK_CONFIG", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def test_the_guides_security_block_with_keys_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, guide_security: Path
):
    monkeypatch.setenv("PRODUCTION_API_KEY", PRODUCTION_KEY)
    monkeypatch.setenv("DEVELOPMENT_API_KEY", DEVELOPMENT_KEY)
    security = load_settings().security
    production, development = security.api_keys
    assert production.name == "production" and production.permissions == ["read", "write"]
    assert production.key is not None and production.key.get_secret_value() == PRODUCTION_KEY
    assert development.rate_limit == "100/hour" and development.permissions == ["read"]
    assert security.rate_limiting.burst_limit == 200
    assert security.cors.allowed_origins[1] == "https://app.holodeck.example.com"
    assert PRODUCTION_KEY not in repr(security)


def test_a_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch, guide_security: Path):
    monkeypatch.delenv("PRODUCTION_API_KEY", raising=False)
    monkeypatch.setenv("DEVELOPMENT_API_KEY", DEVELOPMENT_KEY)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "PRODUCTION_API_KEY is not set" in message
    assert "security.api_keys[0].key" in message and str(guide_security) in message


def test_keys_from_dot_env_and_the_environment_above_it(
    monkeypatch: pytest.MonkeyPatch, guide_security: Path
):
    (guide_security.parent / ".env").write_text(
        f"PRODUCTION_API_KEY={PRODUCTION_KEY}\nDEVELOPMENT_API_KEY={DEVELOPMENT_KEY}\n"
        "HOLDECK_WORKERS=6\nHOLDECK_LOG_LEVEL=DEBUG\nHOLODECK_NATS__MAX_DELIVER=7\n"
        "OPENAI_API_KEY=sk-from-dotenv\n"
    )
    monkeypatch.delenv("PRODUCTION_API_KEY", raising=False)
    monkeypatch.delenv("DEVELOPMENT_API_KEY", raising=False)
    monkeypatch.setenv("HOLDECK_WORKERS", "8")
    settings = load_settings()
    assert settings.security.api_keys[0].key is not None
    assert settings.security.api_keys[0].key.get_secret_value() == PRODUCTION_KEY
    assert settings.performance.concurrent_workers == 8  # the environment beats .env
    assert settings.logging.level == "DEBUG"
    assert settings.nats.max_deliver == 7
    assert settings.llm.api_key == "sk-from-dotenv"


def test_dot_env_beats_the_yaml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    (tmp_path / "c.yaml").write_text("performance:\n  concurrent_workers: 3\n")
    (tmp_path / ".env").write_text(f"HOLODECK_CONFIG={tmp_path / 'c.yaml'}\nHOLDECK_WORKERS=5\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().performance.concurrent_workers == 5
    (tmp_path / ".env").write_text(f"HOLODECK_CONFIG={tmp_path / 'c.yaml'}\n")
    assert load_settings().performance.concurrent_workers == 3


def test_interpolation_fallbacks_and_escapes():
    environ = {"HOST": "db", "EMPTY": ""}
    data = {"a": "postgresql://${HOST}:5432/x", "b": ["${MISSING:-none}", "$${HOST}"]}
    assert interpolate(data, environ) == {
        "a": "postgresql://db:5432/x",
        "b": ["none", "${HOST}"],
    }
    assert interpolate("${EMPTY:-fallback}", environ) == "fallback"
    assert interpolate("${EMPTY}", environ) == ""
    with pytest.raises(ConfigError, match=r"x\.y: the variable NOPE is not set"):
        interpolate({"x": {"y": "${NOPE}"}}, environ)


def test_invalid_keys_are_named_never_shown(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOLODECK_SECURITY__API_KEYS", '[{"name": "ci", "key": "short-secret-1"}]')
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "security.api_keys.0" in str(info.value) and "shorter than 16" in str(info.value)
    assert "short-secret-1" not in str(info.value)
    monkeypatch.setenv(
        "HOLODECK_SECURITY__API_KEYS",
        f'[{{"name": "a", "key": "{PRODUCTION_KEY}"}}, {{"name": "a", "key": "{"x" * 20}"}}]',
    )
    with pytest.raises(ConfigError, match="a used twice"):
        load_settings()
    monkeypatch.setenv(
        "HOLODECK_SECURITY__API_KEYS", f'[{{"name": "anonymous", "key": "{PRODUCTION_KEY}"}}]'
    )
    with pytest.raises(ConfigError, match="requests without a key"):
        load_settings()
    monkeypatch.setenv(
        "HOLODECK_SECURITY__API_KEYS",
        '[{"name": "a", "key": "' + PRODUCTION_KEY + '", "permissions": ["admin"]}]',
    )
    with pytest.raises(ConfigError, match=r"security\.api_keys\.0\.permissions"):
        load_settings()


def test_config_show_masks_secrets_and_names_sources(
    monkeypatch: pytest.MonkeyPatch, guide_security: Path
):
    (guide_security.parent / ".env").write_text(
        f"PRODUCTION_API_KEY={PRODUCTION_KEY}\nDEVELOPMENT_API_KEY={DEVELOPMENT_KEY}\n"
        "OPENAI_API_KEY=sk-from-dotenv\nHOLDECK_WORKERS=6\n"
    )
    monkeypatch.setenv("HOLDECK_WORKERS", "8")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://holodeck:hunter2@db/holodeck")
    rows = {path: (value, source) for path, value, source in explain_settings()}
    assert rows["security.api_keys[0].key"] == ("****", f"YAML file {guide_security}")
    assert rows["security.rate_limiting.burst_limit"] == (200, f"YAML file {guide_security}")
    assert rows["llm.api_key"] == ("****", ".env (OPENAI_API_KEY)")
    assert rows["performance.concurrent_workers"] == (8, "environment (HOLDECK_WORKERS)")
    assert rows["gateway.database_url"] == (
        "postgresql+asyncpg://holodeck:****@db/holodeck",
        "environment (DATABASE_URL)",
    )
    assert rows["gateway.port"] == (8080, "default")
    shown = repr(rows)
    for secret in (PRODUCTION_KEY, DEVELOPMENT_KEY, "sk-from-dotenv", "hunter2"):
        assert secret not in shown


def test_a_created_key_line_works_as_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    key = new_key()
    line = key_entry("ci", key, parse_permissions("write, read"), "50/minute")
    path = tmp_path / "c.yaml"
    path.write_text("security:\n  api_keys:\n    " + line + "\n")
    monkeypatch.setenv("HOLODECK_CONFIG", str(path))
    [entry] = load_settings().security.api_keys
    assert (entry.name, entry.permissions, entry.rate_limit) == (
        "ci",
        ["read", "write"],
        "50/minute",
    )
    assert key not in path.read_text()
    found = KeyRing([entry]).find(key)
    assert found is not None and found.name == "ci"
    with pytest.raises(BadInput, match="admin is not a permission"):
        parse_permissions("read,admin")


# Pools of backend servers ------------------------------------------------------------------


def test_one_backend_url_is_a_pool_of_one(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COMFYUI_API_URL", "http://comfy:8188/")
    monkeypatch.setenv("HUNYUAN3D_API_URL", "http://hy:8081")
    settings = load_settings()
    assert settings.image_generation.comfyui_servers == ["http://comfy:8188"]
    assert settings.three_d_generation.hunyuan3d_servers == ["http://hy:8081"]
    assert settings.three_d_generation.sf3d_servers == []
    assert settings.image_generation.comfyui_concurrency == 2
    assert settings.image_generation.circuit_failures == 3
    assert settings.three_d_generation.circuit_cooldown_s == 30


def test_the_guide_variables_take_comma_separated_pools(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COMFYUI_API_URL", "http://gpu-1:8188, http://gpu-2:8188,")
    monkeypatch.setenv("SF3D_API_URL", "http://gpu-1:8080,https://gpu-2/sf3d/")
    settings = load_settings()
    assert settings.image_generation.comfyui_servers == ["http://gpu-1:8188", "http://gpu-2:8188"]
    assert settings.three_d_generation.sf3d_servers == ["http://gpu-1:8080", "https://gpu-2/sf3d"]


def test_pools_as_yaml_lists_and_nested_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    path = tmp_path / "production.yaml"
    path.write_text(
        "image_generation:\n  default_backend: comfyui\n"
        "  comfyui_urls: [http://gpu-1:8188, http://gpu-2:8188]\n  comfyui_concurrency: 1\n"
        "three_d_generation:\n  hunyuan3d_urls:\n    - http://hy-1:8081\n    - http://hy-2:8081\n"
    )
    monkeypatch.setenv("HOLODECK_CONFIG", str(path))
    monkeypatch.setenv("HOLODECK_THREE_D_GENERATION__SF3D_URLS", "http://a:1,http://b:2")
    settings = load_settings()
    assert settings.image_generation.comfyui_servers == ["http://gpu-1:8188", "http://gpu-2:8188"]
    assert settings.image_generation.comfyui_concurrency == 1
    assert settings.three_d_generation.hunyuan3d_servers == ["http://hy-1:8081", "http://hy-2:8081"]
    assert settings.three_d_generation.sf3d_servers == ["http://a:1", "http://b:2"]
    # A variable beats the file, as for every other setting.
    monkeypatch.setenv("HOLODECK_IMAGE_GENERATION__COMFYUI_URLS", '["http://gpu-3:8188"]')
    assert load_settings().image_generation.comfyui_servers == ["http://gpu-3:8188"]


@pytest.mark.parametrize(
    ("name", "value", "field", "named"),
    [
        (
            "COMFYUI_API_URL",
            "http://gpu-1:8188,gpu-2:8188",
            "image_generation.comfyui_url",
            "gpu-2:8188",
        ),
        ("SF3D_API_URL", "ftp://gpu-1", "three_d_generation.sf3d_url", "ftp://gpu-1"),
        ("HUNYUAN3D_API_URL", "http://hy:99999", "three_d_generation.hunyuan3d_url", "hy:99999"),
        (
            "HOLODECK_IMAGE_GENERATION__COMFYUI_URLS",
            "http://a:1,http://a:1/",
            "image_generation.comfyui_urls",
            "http://a:1 listed twice",
        ),
    ],
)
def test_a_bad_server_url_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, field: str, named: str
):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert field in info.value.message and named in info.value.message


def test_a_url_and_a_list_naming_other_servers_are_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COMFYUI_API_URL", "http://gpu-1:8188")
    with pytest.raises(ConfigError) as info:
        load_settings(image_generation={"comfyui_urls": ["http://gpu-2:8188"]})
    assert "comfyui_url (COMFYUI_API_URL) and comfyui_urls" in info.value.message
    # The same servers both ways are no contradiction.
    same = load_settings(image_generation={"comfyui_urls": ["http://gpu-1:8188/"]})
    assert same.image_generation.comfyui_servers == ["http://gpu-1:8188"]


def test_config_show_hides_passwords_in_a_pools_urls(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(
        "HOLODECK_THREE_D_GENERATION__SF3D_URLS", "https://u:hunter22@a:1,https://b:2"
    )
    rows = {path: value for path, value, _ in explain_settings()}
    assert rows["three_d_generation.sf3d_urls"] == ["https://u:****@a:1", "https://b:2"]
