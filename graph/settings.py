"""Settings, read from `CREDGRAPH_*` environment variables or a `.env` file.

Every setting is documented in docs/settings.md; a test fails when the two drift apart.
No URI means the embedded store: credgraph starts an ArcadeDB server itself.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_WEAK_SECRETS = frozenset({"changeme", "change-me", "password", "neo4j", "secret", "admin", "test"})
_MIN_KEY_LENGTH = 32
_MEMORY_SIZE = r"^\d+[mMgG]$"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Collector(StrEnum):
    """The embedded store's garbage collector: `throughput` for bulk loads, `latency` for
    serving queries, `auto` for whichever the command that starts the store does
    (docs/settings.md)."""

    AUTO = "auto"
    THROUGHPUT = "throughput"
    LATENCY = "latency"


class Settings(BaseSettings):
    """All of credgraph's settings. Field names map to `CREDGRAPH_<NAME>` variables."""

    model_config = SettingsConfigDict(
        env_prefix="CREDGRAPH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Environment = Field(
        Environment.DEVELOPMENT, description="development or production"
    )
    data_dir: Path = Field(Path(".data"), description="local data: embedded store, keys, logs")

    neo4j_uri: str | None = Field(
        None, description="bolt:// or neo4j:// URI of an external store; unset = embedded"
    )
    neo4j_user: str = Field("neo4j", description="user for the external store")
    neo4j_password: SecretStr | None = Field(None, description="password for the external store")
    database: str | None = Field(
        None, description="database name; default: the server's default, `credgraph` embedded"
    )

    embedded_bolt_port: int = Field(7688, ge=1, le=65535, description="embedded Bolt port")
    embedded_http_port: int = Field(2480, ge=1, le=65535, description="embedded HTTP port")
    embedded_heap: str = Field("2g", pattern=_MEMORY_SIZE, description="embedded JVM heap")
    embedded_gc: Collector = Field(
        Collector.AUTO, description="embedded JVM collector: auto, latency or throughput"
    )
    embedded_page_cache: str | None = Field(
        None,
        pattern=_MEMORY_SIZE,
        description="embedded store's page cache, inside the heap; unset = a quarter of the heap",
    )
    embedded_aot_cache: str = Field(
        "auto",
        min_length=1,
        description="where the embedded JVM keeps its AOT cache: auto (the user's cache "
        "folder), off, or a folder",
    )
    embedded_start_timeout_s: float = Field(
        90.0, gt=0, description="seconds to wait for the embedded store to accept connections"
    )

    person_key: SecretStr | None = Field(
        None, description="HMAC key for person tokens; unset = generated into the data dir"
    )

    query_timeout_s: float = Field(30.0, gt=0, description="store transaction timeout")
    write_batch_size: int = Field(
        10_000, ge=1, le=100_000, description="rows per write transaction (one ledger chunk)"
    )

    api_host: str = Field("127.0.0.1", description="address `credgraph serve` binds")
    api_port: int = Field(8000, ge=1, le=65535, description="port `credgraph serve` binds")
    max_depth: int = Field(4, ge=1, le=6, description="largest linkedParties depth accepted")
    max_page_size: int = Field(200, ge=1, le=10_000, description="largest page a query returns")
    traversal_cap: int = Field(
        5000, ge=10, description="most relations a linked-parties query explores before it stops"
    )
    api_workers: int = Field(1, ge=1, le=64, description="worker processes of `credgraph serve`")
    api_threads: int = Field(
        4, ge=1, le=1000, description="threads each API worker runs resolvers and store calls on"
    )
    api_request_timeout_s: float = Field(
        10.0, gt=0, description="time budget of one API request, passed to every store call"
    )
    api_max_body_bytes: int = Field(
        65_536, ge=1024, description="largest request body the API reads (else 413)"
    )
    api_max_query_depth: int = Field(10, ge=2, le=50, description="deepest GraphQL selection")
    api_max_aliases: int = Field(15, ge=1, le=1000, description="most aliases in one operation")
    api_max_tokens: int = Field(2000, ge=100, description="most tokens in one GraphQL document")
    api_max_screen_ids: int = Field(50, ge=1, le=1000, description="most ids one screen call takes")
    api_key_cache_s: float = Field(
        5.0, ge=0, description="seconds a checked API key is cached (revocation delay)"
    )
    api_walk_cache_relations: int = Field(
        20_000, ge=0, le=10_000_000, description="relations the kept linkedParties walks hold"
    )
    api_hub_cache_relations: int = Field(
        200_000,
        ge=0,
        le=10_000_000,
        description="relations of hubs an API worker keeps for walks, paths and risk reports",
    )
    api_hub_min_relations: int = Field(
        100,
        ge=1,
        le=1_000_000,
        description="relations a party has in one level read for the hub cache to keep them",
    )
    api_warmup_s: float = Field(
        30.0,
        ge=0,
        le=86_400,
        description="seconds between an API worker's looks at the data version to warm its hub "
        "cache and sanction subjects (0: no warming)",
    )
    api_party_cache_size: int = Field(
        10_000, ge=0, le=10_000_000, description="party cards an API worker keeps"
    )
    api_public_access: bool = Field(
        False, description="requests without a key get the public role (else 401)"
    )
    audit_log: Path | None = Field(
        None, description="audit log file; unset = <data dir>/audit/audit.log"
    )
    audit_fsync: bool = Field(True, description="fsync every audit event before answering")

    risk_profiles_file: Path | None = Field(
        None, description="YAML file of extra risk policy profiles (docs/risk-model.md)"
    )
    risk_data_version_cache_s: float = Field(
        0.0, ge=0, le=60, description="seconds an API worker reuses the data version it read"
    )
    risk_report_cache_size: int = Field(
        5000, ge=0, le=1_000_000, description="risk reports an API worker keeps per snapshot id"
    )

    @field_validator("neo4j_password", "person_key")
    @classmethod
    def _refuse_weak_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().lower() in _WEAK_SECRETS:
            raise ValueError("is a well-known default; choose a real secret")
        return value

    @field_validator("person_key")
    @classmethod
    def _refuse_short_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < _MIN_KEY_LENGTH:
            raise ValueError(f"must be at least {_MIN_KEY_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _page_cache_inside_heap(self) -> Settings:
        if self.embedded_page_cache and megabytes(self.embedded_page_cache) >= megabytes(
            self.embedded_heap
        ):
            raise ValueError(
                f"embedded_page_cache ({self.embedded_page_cache}) must be smaller than "
                f"embedded_heap ({self.embedded_heap}): the page cache lives in the heap"
            )
        return self

    @property
    def embedded(self) -> bool:
        return not self.neo4j_uri

    def has_store(self) -> bool:
        """Whether there is a store to read: Neo4j, or an embedded store already created under
        the data directory (starting one would create it)."""
        return not self.embedded or (self.data_dir / "arcadedb").exists()

    @property
    def database_name(self) -> str | None:
        if self.database:
            return self.database
        return "credgraph" if self.embedded else None

    @property
    def audit_log_path(self) -> Path:
        return self.audit_log or self.data_dir / "audit" / "audit.log"

    def audit_key_bytes(self) -> bytes:
        """The key that seals the audit chain, generated once beside the log (mode 0600)."""
        return read_or_create_secret(self.audit_log_path.with_name("audit.key")).encode()

    def aot_cache_dir(self) -> Path | None:
        """The folder of the embedded JVM's AOT caches (graph/aot.py), or None when off."""
        if self.embedded_aot_cache == "off":
            return None
        if self.embedded_aot_cache == "auto":
            try:
                cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
            except RuntimeError:  # no home directory: no cache, and the store starts as ever
                return None
            return Path(cache_home) / "credgraph" / "aot"
        return Path(self.embedded_aot_cache).expanduser()

    def person_key_bytes(self) -> bytes:
        """The HMAC key for person tokens, generated once into the data dir when not set."""
        if self.person_key is not None:
            return self.person_key.get_secret_value().encode()
        return read_or_create_secret(self.data_dir / "person.key").encode()


def with_collector(settings: Settings, work: Collector) -> Settings:
    """`settings` for a command whose work wants the `work` collector: `auto` becomes it, a
    collector chosen in the settings stays."""
    if settings.embedded_gc is not Collector.AUTO:
        return settings
    return settings.model_copy(update={"embedded_gc": work})


def megabytes(size: str) -> int:
    """A memory size such as `512m` or `4g` (the JVM's notation) in megabytes."""
    number, unit = int(size[:-1]), size[-1].lower()
    return number * 1024 if unit == "g" else number


def read_or_create_secret(path: Path) -> str:
    """Read a secret file, or create it (owner-only, mode 0600) with a fresh random secret."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    write_owner_only(path, value + "\n")
    return value


def write_owner_only(path: Path, text: str) -> None:
    """Create `path` readable and writable by its owner alone (mode 0600, never widened by the
    umask or an existing file: it must not exist) and write `text` into it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (used by the CLI and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
