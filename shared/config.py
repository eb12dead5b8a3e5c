"""One typed settings object, from environment variables and an optional YAML file.

The YAML file has the shape of the operations guide's ``production.yaml`` (sections
``llm``, ``image_generation``, ``three_d_generation``, ``performance``, ``logging``) plus
``nats``, ``storage`` and ``gateway``. The guide's flat variables work as written
(``OPENAI_API_KEY``, ``COMFYUI_API_URL``, ``SF3D_API_URL``, ``NATS_URL``, ``DATABASE_URL``,
``HOLDECK_LOG_LEVEL``, ``HOLDECK_CACHE_SIZE_MB``, ``HOLDECK_WORKERS``); the guide spells
the prefix ``HOLDECK_`` and both it and ``HOLODECK_`` are accepted. Any field can also be
set as ``HOLODECK_<SECTION>__<FIELD>``.

Precedence, highest first: arguments, flat variables, ``HOLODECK_<SECTION>__<FIELD>``,
the YAML file, defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from shared.contract import MAX_OBJECT_COUNT, MAX_PROMPT_CHARS
from shared.errors import ConfigError

DEFAULT_WORKSPACE = Path("~/.holodeck")
PREFIXES = ("HOLODECK_", "HOLDECK_")

# Flat variables of the operations guide → (section, field). Both prefixes are tried.
FLAT_VARIABLES: dict[str, tuple[str, str]] = {
    "OPENAI_API_KEY": ("llm", "api_key"),
    "OPENAI_BASE_URL": ("llm", "base_url"),
    "COMFYUI_API_URL": ("image_generation", "comfyui_url"),
    "SF3D_API_URL": ("three_d_generation", "sf3d_url"),
    "SF3D_API_KEY": ("three_d_generation", "sf3d_api_key"),
    "HUNYUAN3D_API_URL": ("three_d_generation", "hunyuan3d_url"),
    "NATS_URL": ("nats", "url"),
    "DATABASE_URL": ("gateway", "database_url"),
    "{prefix}LOG_LEVEL": ("logging", "level"),
    "{prefix}LOG_FORMAT": ("logging", "format"),
    "{prefix}CACHE_SIZE_MB": ("performance", "max_cache_size_mb"),
    "{prefix}WORKERS": ("performance", "concurrent_workers"),
    "{prefix}WORKSPACE": ("storage", "workspace"),
    "{prefix}ARTIFACT_STORE": ("storage", "artifact_store"),
}


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LLMSettings(Section):
    """``rules`` is the offline understanding; ``openai`` any OpenAI-compatible server."""

    default_provider: Literal["rules", "openai"] = "rules"
    api_key: str | None = None
    base_url: str = "https://api.openai.com"
    model: str = "gpt-4o-mini"
    json_mode: Literal["json_schema", "json_object"] = "json_schema"
    fallback_to_rules: bool = True
    timeout: float = Field(default=30, gt=0)
    retry_attempts: int = Field(default=3, ge=1, le=20)
    backoff_factor: float = Field(default=1.5, ge=1)
    max_retry_wait_s: float = Field(default=30, gt=0)


class PlannerSettings(Section):
    """Bounds on the work one prompt can ask for (see services/planner/limits.py)."""

    max_objects: int = Field(default=150, ge=1, le=MAX_OBJECT_COUNT)
    max_prompt_chars: int = Field(default=MAX_PROMPT_CHARS, ge=1, le=MAX_PROMPT_CHARS)
    timeout_s: float = Field(default=30, gt=0)
    max_memory_mb: int = Field(default=1024, ge=16)


class ImageSettings(Section):
    default_backend: Literal["procedural", "comfyui"] = "procedural"
    comfyui_url: str | None = None
    workflow_path: Path | None = None
    negative_prompt: str = "blurry, low quality, text, watermark, people"
    timeout: float = Field(default=300, gt=0)
    quality: Literal["draft", "standard", "high"] = "standard"
    size: int = Field(default=512, ge=64, le=2048)

    @model_validator(mode="after")
    def _backend_reachable(self) -> ImageSettings:
        if self.default_backend == "comfyui" and not self.comfyui_url:
            raise ValueError("comfyui_url (COMFYUI_API_URL) is required for the comfyui backend")
        return self


class MeshSettings(Section):
    default_backend: Literal["procedural", "sf3d", "hunyuan3d"] = "procedural"
    sf3d_url: str | None = None
    sf3d_api_key: str | None = None
    hunyuan3d_url: str | None = None
    texture_resolution: Literal[512, 1024, 2048] = 1024
    foreground_ratio: float = Field(default=0.85, ge=0.1, le=1.0)
    remesh: Literal["none", "triangle", "quad"] = "none"
    # -1: not sent (the server's own default); any other value is sent as vertex_count.
    vertex_count: int = Field(default=-1, ge=-1, le=20000)
    timeout: float = Field(default=600, gt=0)
    quality: Literal["draft", "standard", "high"] = "standard"
    # Hunyuan3D-2's api_server textures only when started with --enable_tex; its
    # documented launch does not, and a textured request then fails every object.
    hunyuan3d_texture: bool = False
    # sync: /generate; async: /send + /status; auto: sync unless other objects are queued.
    hunyuan3d_mode: Literal["auto", "sync", "async"] = "auto"
    hunyuan3d_poll_interval: float = Field(default=1.0, gt=0)
    # Requests a server is sent at once (its /generate runs one at a time); 0 is no
    # bound. Waiting for a slot does not count against ``timeout``.
    hunyuan3d_concurrency: int = Field(default=1, ge=0, le=256)
    sf3d_concurrency: int = Field(default=0, ge=0, le=256)
    # cluster: the bounds hold across replicas (slots claimed in JetStream key-value);
    # replica: each replica keeps its own bound.
    concurrency_scope: Literal["cluster", "replica"] = "cluster"

    @model_validator(mode="after")
    def _backend_reachable(self) -> MeshSettings:
        if self.default_backend == "sf3d" and not self.sf3d_url:
            raise ValueError("sf3d_url (SF3D_API_URL) is required for the sf3d backend")
        if self.default_backend == "hunyuan3d" and not self.hunyuan3d_url:
            raise ValueError("hunyuan3d_url (HUNYUAN3D_API_URL) is required for hunyuan3d")
        return self


class PerformanceSettings(Section):
    cache_ttl: int = Field(default=7200, ge=0)
    max_cache_size_mb: int = Field(default=500, ge=1)
    concurrent_workers: int = Field(default=4, ge=1, le=256)
    memory_monitoring: bool = True


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["auto", "console", "json"] = "auto"
    file_rotation: str = "100MB"
    retention_days: int = Field(default=30, ge=1)


class NatsSettings(Section):
    url: str | None = None
    stream: str = "HOLODECK"
    max_age_days: float = Field(default=7, gt=0)
    duplicate_window_s: float = Field(default=600, gt=0)
    sync_always: bool = False
    max_deliver: int = Field(default=5, ge=1, le=100)
    ack_wait_s: float = Field(default=30, gt=0)
    retry_base_delay_s: float = Field(default=0.5, gt=0)
    retry_max_delay_s: float = Field(default=30, gt=0)
    # A handler with no result after this long is taken as stalled: abandoned and retried.
    work_deadline_s: float = Field(default=900, gt=0)


class StorageSettings(Section):
    workspace: Path = DEFAULT_WORKSPACE
    artifact_store: Literal["local", "nats"] = "local"
    # Object-store reads: one attempt's deadline, how many attempts before RetryLater, and
    # how many reads one process runs at once (each is a few requests, never a consumer).
    artifact_read_timeout_s: float = Field(default=30, gt=0)
    artifact_read_attempts: int = Field(default=3, ge=1, le=20)
    artifact_read_concurrency: int = Field(default=32, ge=1, le=1024)

    @property
    def root(self) -> Path:
        return self.workspace.expanduser()


class GatewaySettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    database_url: str | None = None
    page_size: int = Field(default=50, ge=1, le=1000)
    # How long an Idempotency-Key is remembered in the key-value bucket.
    idempotency_ttl_s: float = Field(default=86_400, gt=0)
    # A projection behind the stream that has not moved for this long fails /health.
    projection_stall_s: float = Field(default=30, gt=0)
    # A running scene with no event of its current attempt for this long shows as STUCK;
    # per stage (planner, imagegen, meshgen, assembly) where one needs longer.
    stuck_after_s: float = Field(default=900, gt=0)
    stuck_after_stage_s: dict[
        Literal["planner", "imagegen", "meshgen", "assembly"], Annotated[float, Field(gt=0)]
    ] = Field(default_factory=dict)


class Settings(BaseSettings):
    """Everything configurable; build it once at the entry point and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="HOLODECK_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    llm: LLMSettings = Field(default_factory=LLMSettings)
    planner: PlannerSettings = Field(default_factory=PlannerSettings)
    image_generation: ImageSettings = Field(default_factory=ImageSettings)
    three_d_generation: MeshSettings = Field(default_factory=MeshSettings)
    performance: PerformanceSettings = Field(default_factory=PerformanceSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    nats: NatsSettings = Field(default_factory=NatsSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)

    @property
    def database_url(self) -> str:
        return (
            self.gateway.database_url or f"sqlite+aiosqlite:///{self.storage.root / 'gateway.db'}"
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            _FlatVariables(settings_cls),
            env_settings,
            _YamlFile(settings_cls),
        )


class _FlatVariables(PydanticBaseSettingsSource):
    """The operations guide's flat variable names."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, dict[str, Any]] = {}
        for pattern, (section, key) in FLAT_VARIABLES.items():
            names = [pattern.format(prefix=p) for p in PREFIXES] if "{" in pattern else [pattern]
            for name in names:
                value = os.environ.get(name)
                if value not in (None, ""):
                    found.setdefault(section, {})[key] = value
                    break
        return found


class _YamlFile(PydanticBaseSettingsSource):
    """``HOLODECK_CONFIG`` (or ``HOLDECK_CONFIG``), else ``<workspace>/config.yaml`` if present."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = config_path()
        if path is None:
            return {}
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ConfigError(f"config file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a mapping of sections")
        return data


def config_path() -> Path | None:
    for prefix in PREFIXES:
        explicit = os.environ.get(f"{prefix}CONFIG")
        if explicit:
            path = Path(explicit).expanduser()
            if not path.is_file():
                raise ConfigError(f"{prefix}CONFIG points to {path}, which is not a file")
            return path
    workspace = os.environ.get("HOLODECK_WORKSPACE") or os.environ.get("HOLDECK_WORKSPACE")
    default = Path(workspace or DEFAULT_WORKSPACE).expanduser() / "config.yaml"
    return default if default.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning every validation failure into a :class:`ConfigError`
    whose message names the offending field (``performance.concurrent_workers: ...``)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            problems.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
