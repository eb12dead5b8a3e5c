"""One typed settings object, from environment variables and an optional YAML file.

The YAML file has the shape of the operations guide's ``production.yaml`` (sections
``llm``, ``image_generation``, ``three_d_generation``, ``performance``, ``logging``) plus
``nats``, ``storage`` and ``gateway``. The guide's flat variables work as written
(``OPENAI_API_KEY``, ``COMFYUI_API_URL``, ``SF3D_API_URL``, ``NATS_URL``, ``DATABASE_URL``,
``HOLDECK_LOG_LEVEL``, ``HOLDECK_CACHE_SIZE_MB``, ``HOLDECK_WORKERS``); the guide spells
the prefix ``HOLDECK_`` and both it and ``HOLODECK_`` are accepted. Any field can also be
set as ``HOLODECK_<SECTION>__<FIELD>``.

A ``.env`` file in the working directory is read as if its lines were variables, below the
real environment. Strings in the YAML file may hold ``${VAR}`` (or ``${VAR:-fallback}``),
filled in from the environment and ``.env``; a missing variable is an error naming it.

Precedence, highest first: arguments, the environment (flat variables, then
``HOLODECK_<SECTION>__<FIELD>``), ``.env`` (in the same order), the YAML file, defaults.
``holodeck config show`` prints the effective values and where each came from.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from shared.contract import MAX_OBJECT_COUNT, MAX_PROMPT_CHARS
from shared.errors import ConfigError

DEFAULT_WORKSPACE = Path("~/.holodeck")
PREFIXES = ("HOLODECK_", "HOLDECK_")
# Read from the working directory, below the real environment.
DOTENV_FILE = Path(".env")

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
    "{prefix}PREFETCH": ("performance", "prefetch"),
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


# -- pools of backend servers (shared/pool.py) ---------------------------------------------


def server_url_problem(url: str) -> str | None:
    """Why ``url`` is not a backend server's base URL (``http(s)://host[:port][/path]``);
    None if it is one."""
    match = re.fullmatch(
        r"(https?)://([^/?#@\s]+@)?(\[[0-9A-Fa-f:.]+\]|[^/:?#\s]+)(:\d+)?(/\S*)?", url
    )
    if match is None:
        return f"{url!r} is not a server URL: it must be http(s)://host[:port]"
    if match.group(4) and not 0 < int(match.group(4)[1:]) < 65536:
        return f"{url!r} has no valid port"
    return None


def _url_list(value: Any) -> Any:
    """A list of URLs from YAML, or from one variable: comma-separated, or a JSON list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                raise ValueError(
                    f"{text!r} is neither a JSON list nor comma-separated URLs"
                ) from None
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _checked_urls(urls: list[str]) -> list[str]:
    for url in urls:
        if problem := server_url_problem(url):
            raise ValueError(problem)
    normal = [url.rstrip("/") for url in urls]
    twice = sorted({url for url in normal if normal.count(url) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)} listed twice")
    return urls


def _checked_url_text(value: str | None) -> str | None:
    if value is not None:
        _checked_urls(_url_list(value))
    return value


def _servers(one: str | None, many: list[str], one_name: str, many_name: str) -> list[str]:
    """The pool's URLs, from the single-URL field (which may hold several, comma-separated)
    or the list; both naming different servers is an error."""
    listed = [url.rstrip("/") for url in many]
    given = [url.rstrip("/") for url in _url_list(one)] if one else []
    if given and listed and sorted(given) != sorted(listed):
        raise ValueError(
            f"{one_name} and {many_name} name different servers: set one of them "
            f"({one_name.split()[0]} takes a comma-separated list too)"
        )
    return listed or given


ServerUrls = Annotated[list[str], NoDecode]
"""URLs of a pool's servers: a YAML list, or one comma-separated variable."""


class ImageSettings(Section):
    default_backend: Literal["procedural", "comfyui"] = "procedural"
    # One server (COMFYUI_API_URL), or several: comma-separated here or listed in
    # comfyui_urls. Several form one pool (shared/pool.py).
    comfyui_url: str | None = None
    comfyui_urls: ServerUrls = Field(default_factory=list)
    workflow_path: Path | None = None
    negative_prompt: str = "blurry, low quality, text, watermark, people"
    timeout: float = Field(default=300, gt=0)
    quality: Literal["draft", "standard", "high"] = "standard"
    size: int = Field(default=512, ge=64, le=2048)
    # Prompts each server is sent at once (0: no bound); the rest wait for whichever
    # server frees first. Apart from performance.concurrent_workers (messages in hand).
    comfyui_concurrency: int = Field(default=2, ge=0, le=256)
    # cluster: the bound holds across replicas (slots claimed in JetStream key-value);
    # replica: each replica keeps its own bound.
    concurrency_scope: Literal["cluster", "replica"] = "cluster"
    # A server failing this many requests in a row (no connection, timeouts, 5xx) is
    # left out for circuit_cooldown_s, then given one trial request.
    circuit_failures: int = Field(default=3, ge=1, le=100)
    circuit_cooldown_s: float = Field(default=30, gt=0)

    _split = field_validator("comfyui_urls", mode="before")(lambda cls, v: _url_list(v))
    _check_list = field_validator("comfyui_urls")(lambda cls, v: _checked_urls(v))
    _check_one = field_validator("comfyui_url")(lambda cls, v: _checked_url_text(v))

    @property
    def comfyui_servers(self) -> list[str]:
        """Every ComfyUI server of the pool."""
        return _servers(
            self.comfyui_url, self.comfyui_urls, "comfyui_url (COMFYUI_API_URL)", "comfyui_urls"
        )

    @model_validator(mode="after")
    def _backend_reachable(self) -> ImageSettings:
        if not self.comfyui_servers and self.default_backend == "comfyui":
            raise ValueError("comfyui_url (COMFYUI_API_URL) is required for the comfyui backend")
        return self


class MeshSettings(Section):
    default_backend: Literal["procedural", "sf3d", "hunyuan3d"] = "procedural"
    # One server each (SF3D_API_URL, HUNYUAN3D_API_URL), or several: comma-separated
    # there or listed in sf3d_urls / hunyuan3d_urls; several form one pool.
    sf3d_url: str | None = None
    sf3d_urls: ServerUrls = Field(default_factory=list)
    sf3d_api_key: str | None = None
    hunyuan3d_url: str | None = None
    hunyuan3d_urls: ServerUrls = Field(default_factory=list)
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
    # Requests each server is sent at once (its /generate runs one at a time); 0 is no
    # bound. Waiting for a slot does not count against ``timeout``.
    hunyuan3d_concurrency: int = Field(default=1, ge=0, le=256)
    sf3d_concurrency: int = Field(default=0, ge=0, le=256)
    # cluster: the bounds hold across replicas (slots claimed in JetStream key-value);
    # replica: each replica keeps its own bound.
    concurrency_scope: Literal["cluster", "replica"] = "cluster"
    # A server failing this many requests in a row (no connection, timeouts, 5xx) is
    # left out for circuit_cooldown_s, then given one trial request.
    circuit_failures: int = Field(default=3, ge=1, le=100)
    circuit_cooldown_s: float = Field(default=30, gt=0)

    _split = field_validator("sf3d_urls", "hunyuan3d_urls", mode="before")(
        lambda cls, v: _url_list(v)
    )
    _check_lists = field_validator("sf3d_urls", "hunyuan3d_urls")(lambda cls, v: _checked_urls(v))
    _check_one = field_validator("sf3d_url", "hunyuan3d_url")(lambda cls, v: _checked_url_text(v))

    @property
    def sf3d_servers(self) -> list[str]:
        """Every SF3D server of the pool."""
        return _servers(self.sf3d_url, self.sf3d_urls, "sf3d_url (SF3D_API_URL)", "sf3d_urls")

    @property
    def hunyuan3d_servers(self) -> list[str]:
        """Every Hunyuan3D server of the pool."""
        return _servers(
            self.hunyuan3d_url,
            self.hunyuan3d_urls,
            "hunyuan3d_url (HUNYUAN3D_API_URL)",
            "hunyuan3d_urls",
        )

    @model_validator(mode="after")
    def _backend_reachable(self) -> MeshSettings:
        sf3d, hunyuan3d = self.sf3d_servers, self.hunyuan3d_servers
        if self.default_backend == "sf3d" and not sf3d:
            raise ValueError("sf3d_url (SF3D_API_URL) is required for the sf3d backend")
        if self.default_backend == "hunyuan3d" and not hunyuan3d:
            raise ValueError("hunyuan3d_url (HUNYUAN3D_API_URL) is required for hunyuan3d")
        return self


class PerformanceSettings(Section):
    cache_ttl: int = Field(default=7200, ge=0)
    max_cache_size_mb: int = Field(default=500, ge=1)
    # Backend calls in flight per object stage and replica (the GPU work it keeps going).
    concurrent_workers: int = Field(default=4, ge=1, le=256)
    # Messages each replica holds per durable (0: twice concurrent_workers): more than
    # the backend calls, so work waiting for an identical object or a slot leaves no
    # backend slot idle. Each message in hand is kept alive until its work ends.
    prefetch: int = Field(default=0, ge=0, le=1024)
    memory_monitoring: bool = True

    @property
    def messages_in_hand(self) -> int:
        return self.prefetch or 2 * self.concurrent_workers


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
    # Copies of the stream, the key-value buckets and the object store a JetStream cluster
    # keeps: 1 for a single server (the embedded one), 3 on a three-node cluster.
    replicas: int = Field(default=1, ge=1, le=5)
    # Credentials of every connection: user and password, a token, an NKey seed file or a
    # .creds file (JWT + seed), at most one of them; TLS with a CA and a client certificate.
    user: str | None = None
    password: str | None = None
    token: str | None = None
    nkey_seed_file: Path | None = None
    creds_file: Path | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    @model_validator(mode="after")
    def _one_way_in(self) -> NatsSettings:
        ways = [
            name
            for name, given in (
                ("user", self.user is not None),
                ("token", self.token is not None),
                ("nkey_seed_file", self.nkey_seed_file is not None),
                ("creds_file", self.creds_file is not None),
            )
            if given
        ]
        if len(ways) > 1:
            raise ValueError(f"choose one way to authenticate to NATS, not {' and '.join(ways)}")
        if self.password is not None and self.user is None:
            raise ValueError("password needs user")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        return self


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


# -- security (the gateway's keys, rate limits, CORS, body limit) -------------------------

Permission = Literal["read", "write"]
# An API key shorter than this is refused: it could be guessed.
MIN_API_KEY_CHARS = 16
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def rate_limit_problem(value: str) -> str | None:
    """Why ``value`` is not a rate such as ``100/hour`` or ``10 per minute``; None if it is."""
    import limits  # its storage backends load slowly: only a configured rate needs it

    try:
        limits.parse(value)
    except ValueError:
        return f"{value!r} is not a rate limit such as 100/hour, 10/minute or 5 per second"
    return None


def _rate(value: str) -> str:
    if problem := rate_limit_problem(value):
        raise ValueError(problem)
    return value


class ApiKeySettings(Section):
    """One API key: the key itself (``key``, usually ``${VARIABLE}``) or only its SHA-256
    (``key_sha256``, as ``holodeck keys create`` prints), its permissions and its rate."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    key: SecretStr | None = None
    key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    permissions: list[Permission] = Field(
        default_factory=lambda: list[Permission](["read"]), min_length=1
    )
    # None: security.rate_limiting.default_limit.
    rate_limit: str | None = None
    burst_limit: int | None = Field(default=None, ge=1)
    # The priority of every scene this key requests (None: as each request says).
    priority: Literal["interactive", "batch"] | None = None

    _check_rate = field_validator("rate_limit")(lambda cls, v: v if v is None else _rate(v))

    @model_validator(mode="after")
    def _one_key(self) -> ApiKeySettings:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError(f"API key {self.name!r} needs exactly one of key and key_sha256")
        if self.key is not None and len(self.key.get_secret_value()) < MIN_API_KEY_CHARS:
            raise ValueError(
                f"API key {self.name!r} is shorter than {MIN_API_KEY_CHARS} characters "
                "(make one with: holodeck keys create NAME)"
            )
        return self


class RateLimitSettings(Section):
    enabled: bool = True
    # Per key without its own rate_limit, and per client address for anonymous access.
    default_limit: str = "1200/minute"
    # Requests that may come at once before the rate applies; None: the rate's count.
    burst_limit: int | None = Field(default=None, ge=1)

    _check_rate = field_validator("default_limit")(lambda cls, v: _rate(v))


class CorsSettings(Section):
    # Empty: no cross-origin access (browsers allow only the gateway's own pages).
    allowed_origins: list[str] = Field(default_factory=list)
    allowed_methods: list[str] = Field(default_factory=lambda: ["GET", "POST"])
    allowed_headers: list[str] = Field(
        default_factory=lambda: ["Authorization", "Content-Type", "X-API-Key", "Idempotency-Key"]
    )
    allow_credentials: bool = False
    max_age_s: int = Field(default=600, ge=0)


class SecuritySettings(Section):
    """The gateway's door: who may call it, how often, from which web origins."""

    api_keys: list[ApiKeySettings] = Field(default_factory=list)
    # Requests without a key are served (with anonymous_permissions) even though keys are
    # configured, or on a non-loopback address without keys. Without keys on loopback,
    # anonymous access is always on.
    allow_anonymous: bool = False
    anonymous_permissions: list[Permission] = Field(
        default_factory=lambda: list[Permission](["read", "write"])
    )
    rate_limiting: RateLimitSettings = Field(default_factory=RateLimitSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    max_body_bytes: int = Field(default=64 * 1024, ge=1)
    content_security_policy: str = DEFAULT_CSP

    @model_validator(mode="after")
    def _distinct(self) -> SecuritySettings:
        names = [k.name for k in self.api_keys]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"API key names must differ: {', '.join(twice)} used twice")
        if "anonymous" in names:
            raise ValueError("the key name 'anonymous' stands for requests without a key")
        secrets = [k.key.get_secret_value() for k in self.api_keys if k.key is not None]
        if len(set(secrets)) != len(secrets):
            raise ValueError("two API keys have the same key")
        return self


class WebhookSettings(Section):
    """POSTs to a request's ``options.callback_url`` when its scene ends, signed with
    HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret`` (no secret: none are sent)."""

    secret: SecretStr | None = None
    # Loopback, private, link-local and other non-public addresses are refused unless this
    # is set (a callback URL is the requester's to choose: it must not reach inside).
    allow_private: bool = False
    attempts: int = Field(default=6, ge=1, le=20)
    first_delay_s: float = Field(default=1.0, gt=0)
    max_delay_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)
    # Prefixed to the links in a webhook's body (e.g. https://holodeck.example.com).
    public_url: str | None = None


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
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)

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
        environ, dotenv = os.environ, read_dotenv()
        return (
            init_settings,
            *_variable_sources(settings_cls, environ),
            *_variable_sources(settings_cls, dotenv),
            _YamlFile(settings_cls, {**dotenv, **environ}),
        )


def read_dotenv(path: Path = DOTENV_FILE) -> dict[str, str]:
    """The variables of a ``.env`` file (empty when there is none)."""
    if not path.is_file():
        return {}
    try:
        values = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    return {k: v for k, v in values.items() if v is not None}


def _variable_sources(
    settings_cls: type[BaseSettings], environ: Mapping[str, str]
) -> tuple[PydanticBaseSettingsSource, ...]:
    return _FlatVariables(settings_cls, environ), _NestedVariables(settings_cls, environ)


class _FlatVariables(PydanticBaseSettingsSource):
    """The operations guide's flat variable names."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        super().__init__(settings_cls)
        self.environ = environ
        # (section, field) -> the variable it came from.
        self.names: dict[tuple[str, str], str] = {}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, dict[str, Any]] = {}
        for pattern, (section, key) in FLAT_VARIABLES.items():
            names = [pattern.format(prefix=p) for p in PREFIXES] if "{" in pattern else [pattern]
            for name in names:
                value = self.environ.get(name)
                if value not in (None, ""):
                    found.setdefault(section, {})[key] = value
                    self.names[(section, key)] = name
                    break
        return found


class _NestedVariables(EnvSettingsSource):
    """``HOLODECK_<SECTION>__<FIELD>`` from a given mapping (the environment or ``.env``)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(data: Any, environ: Mapping[str, str], where: str = "") -> Any:
    """``${VAR}`` and ``${VAR:-fallback}`` in every string of ``data``, from ``environ``;
    ``$${`` stands for a literal ``${``. A missing variable is a :class:`ConfigError`
    naming it and the field."""
    if isinstance(data, dict):
        return {
            k: interpolate(v, environ, f"{where}.{k}" if where else str(k)) for k, v in data.items()
        }
    if isinstance(data, list):
        return [interpolate(v, environ, f"{where}[{i}]") for i, v in enumerate(data)]
    if not isinstance(data, str) or "${" not in data:
        return data

    def fill(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        value = environ.get(name)
        if value is None or (value == "" and fallback is not None):
            if fallback is not None:
                return fallback
            raise ConfigError(
                f"{where}: the variable {name} is not set (in the environment or .env)"
            )
        return value

    parts = data.split("$${")
    return "${".join(_VARIABLE.sub(fill, part) for part in parts)


class _YamlFile(PydanticBaseSettingsSource):
    """``HOLODECK_CONFIG`` (or ``HOLDECK_CONFIG``), else ``<workspace>/config.yaml`` if present."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        super().__init__(settings_cls)
        self.environ = environ
        self.path: Path | None = None

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = self.path = config_path(self.environ)
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
        try:
            return dict(interpolate(data, self.environ))
        except ConfigError as exc:
            raise ConfigError(f"config file {path}: {exc.message}") from None


def config_path(environ: Mapping[str, str] | None = None) -> Path | None:
    environ = os.environ if environ is None else environ
    for prefix in PREFIXES:
        explicit = environ.get(f"{prefix}CONFIG")
        if explicit:
            path = Path(explicit).expanduser()
            if not path.is_file():
                raise ConfigError(f"{prefix}CONFIG points to {path}, which is not a file")
            return path
    workspace = environ.get("HOLODECK_WORKSPACE") or environ.get("HOLDECK_WORKSPACE")
    default = Path(workspace or DEFAULT_WORKSPACE).expanduser() / "config.yaml"
    return default if default.is_file() else None


# Field names whose values are never shown: API keys, passwords, tokens.
_SECRET_NAME = re.compile(r"(^|_)(key|api_key|password|token|secret)s?$|^key$")


def is_secret(path: str) -> bool:
    """Whether the setting at dotted ``path`` holds a secret (``llm.api_key``,
    ``security.api_keys[0].key``, ``nats.password``)."""
    last = re.sub(r"\[\d+\]$", "", path.rsplit(".", 1)[-1])
    return bool(_SECRET_NAME.search(last)) and last != "api_keys"


def mask(path: str, value: Any) -> Any:
    """``value`` fit to print: secrets as ``****``, a password inside a URL replaced."""
    if value is None:
        return None
    if isinstance(value, SecretStr) or is_secret(path):
        return "****"
    if isinstance(value, str) and "://" in value:
        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1****@", value)
    if isinstance(value, list):  # a pool's server URLs
        return [mask(path, item) for item in value]
    return value


def explain_settings() -> list[tuple[str, Any, str]]:
    """Every effective setting as (dotted path, value with secrets masked, where it came
    from: ``default``, ``environment (NAME)``, ``.env (NAME)`` or ``YAML file PATH``)."""
    settings = load_settings()
    environ, dotenv = dict(os.environ), read_dotenv()
    layers: list[tuple[PydanticBaseSettingsSource, str]] = []
    for mapping, label in ((environ, "environment"), (dotenv, ".env")):
        flat, nested = _variable_sources(Settings, mapping)
        layers += [(flat, label), (nested, label)]
    yaml_file = _YamlFile(Settings, {**dotenv, **environ})
    layers.append((yaml_file, "YAML file"))
    origins: dict[str, str] = {}
    for source, label in layers:
        given = source()
        if isinstance(source, _YamlFile):
            label = f"YAML file {source.path}"
        if isinstance(source, _FlatVariables):  # named by the variable
            for (section, key), name in source.names.items():
                origins.setdefault(f"{section}.{key}", f"{label} ({name})")
        for path in _leaves(given):
            origins.setdefault(path, label)
    rows: list[tuple[str, Any, str]] = []
    for path, value in _leaves(settings.model_dump()).items():
        origin = next(
            (origins[p] for p in _prefixes(path) if p in origins),
            "default",
        )
        rows.append((path, mask(path, value), origin))
    return rows


def _leaves(data: Any, where: str = "") -> dict[str, Any]:
    """Dotted paths of the values in nested dicts; lists of dicts by index (``a[0].b``)."""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_leaves(value, f"{where}.{key}" if where else str(key)))
        return out
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        out = {}
        for i, value in enumerate(data):
            out.update(_leaves(value, f"{where}[{i}]"))
        return out
    return {where: data}


def _prefixes(path: str) -> list[str]:
    """``a.b[0].c`` → ``a.b[0].c``, ``a.b[0]``, ``a.b``, ``a`` (the most specific first)."""
    found = [path]
    while True:
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            return found
        path = path[:cut]
        found.append(path)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning every validation failure into a :class:`ConfigError`
    whose message names the offending field (``performance.concurrent_workers: ...``)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            shown = "" if _holds_secret(err["loc"]) else f" (got {err.get('input')!r})"
            problems.append(f"{where}: {err['msg']}{shown}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def _holds_secret(loc: tuple[Any, ...]) -> bool:
    # An invalid API key's input is the key (or its entry): never echo it.
    return loc[:2] == ("security", "api_keys") or any(
        isinstance(p, str) and is_secret(p) for p in loc
    )
