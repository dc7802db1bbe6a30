"""Settings, read from `CREDGRAPH_*` environment variables or a `.env` file.

Every setting is documented in docs/settings.md; a test fails when the two drift apart.
No URI means the embedded store: credgraph starts an ArcadeDB server itself.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import secrets
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from credgraph.graph.terms import Term
from credgraph.graph.vocabulary import CODE_WORD, RECORD_LABEL, Label
from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PREFIX = "CREDGRAPH_"
ENV_FILE = ".env"
# variables of the same prefix that are no setting: the test suite's switch for the browser
# tests (tests/test_viz_page.py)
_OTHER_VARIABLES = frozenset({"CREDGRAPH_BROWSER_TESTS"})
_SECRET_FIELDS = frozenset({"neo4j_password", "person_key"})
_NEO4J_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
_log = logging.getLogger("credgraph.settings")
_warned: set[str] = set()

_WEAK_SECRETS = frozenset({"changeme", "change-me", "password", "neo4j", "secret", "admin", "test"})
_MIN_KEY_LENGTH = 32
# the audit log's own files: the log's default name and folder in the data directory, and its
# sealing key beside it (the files the audit keeps beside a log are api/audit.py's)
AUDIT_LOG_NAME = "audit.log"
AUDIT_KEY_NAME = "audit.key"
MEMORY_SIZE = r"^\d+[mMgG]$"
# national practice (DOMAIN.md): an administrative penalty stays published for at least 3
# months from its decision, a year in work safety, fire safety and special equipment, before a
# credit repair may end it
DEFAULT_REPAIR_AFTER = (
    '{"admin_penalty": "3m", "admin_penalty:work_safety": "1y", '
    '"admin_penalty:fire_safety": "1y", "admin_penalty:special_equipment": "1y"}'
)

# national practice (DOMAIN.md): an administrative penalty is published for at most 3 years
# from its decision; the plans give no maximum for other kinds
DEFAULT_PUBLISH_AT_MOST = '{"admin_penalty": "3y"}'
# where a record change is offered: everywhere (true), nowhere (false), or in the cities whose
# region code starts with one of these prefixes (`3502`, or `35` for a whole province)
Offered = bool | tuple[str, ...]
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_OFFERED = "should be true, false or region-code prefixes separated by commas (3502,3501,3505)"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ApiInterface(StrEnum):
    """Which interface a `credgraph serve` process is: the internal one answers every role, the
    public one the public role only (docs/security.md, "Public and internal interfaces")."""

    INTERNAL = "internal"
    PUBLIC = "public"


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
        env_prefix=PREFIX, env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore"
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
    embedded_heap: str = Field("2g", pattern=MEMORY_SIZE, description="embedded JVM heap")
    embedded_gc: Collector = Field(
        Collector.AUTO, description="embedded JVM collector: auto, latency or throughput"
    )
    embedded_page_cache: str | None = Field(
        None,
        pattern=MEMORY_SIZE,
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
    max_depth: int = Field(
        4,
        ge=1,
        le=6,
        description="largest paths maxDepth, and linkedParties depth up to 4, accepted",
    )
    max_page_size: int = Field(200, ge=1, le=10_000, description="largest page a query returns")
    traversal_cap: int = Field(
        5000, ge=10, description="most relations a linked-parties query explores before it stops"
    )
    risk_neighbourhood_cap: int = Field(
        20_000,
        ge=10,
        le=10_000_000,
        description="most relations one risk report's neighbourhood walk reads in all before its "
        "contagion layer says it was cut",
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
    api_interface: ApiInterface = Field(
        ApiInterface.INTERNAL,
        description="internal (every role) or public (the public role only: a key of another "
        "role is refused with 403 PUBLIC_INTERFACE_ONLY)",
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

    # `true`, `false` or the region-code prefixes of the cities that offer it, read here (as
    # `repair_after`) so that a refusal names the variable and what it should be
    record_repair: Annotated[Offered, NoDecode] = Field(
        True,
        validate_default=True,
        description="where the deployment offers credit repair: recordRepair is accepted for "
        "the records of these cities (true: every record)",
    )
    record_objection: Annotated[Offered, NoDecode] = Field(
        True,
        validate_default=True,
        description="where the deployment offers objection handling: openObjection and "
        "closeObjection are accepted for the records of these cities (true: every record)",
    )
    # JSON text, read here rather than by pydantic-settings, whose own refusal of bad JSON
    # would name neither the variable nor what it should be
    repair_after: Annotated[dict[str, Term], NoDecode] = Field(
        DEFAULT_REPAIR_AFTER,
        validate_default=True,
        description="shortest publication before a repair may take effect, by record kind or "
        "`kind:sector`, as a JSON object of terms",
    )
    publish_at_most: Annotated[dict[str, Term], NoDecode] = Field(
        DEFAULT_PUBLISH_AT_MOST,
        validate_default=True,
        description="longest publication on the public interface, from the decision date, by "
        "record kind or `kind:sector`, as a JSON object of terms",
    )

    @field_validator("neo4j_uri")
    @classmethod
    def _bolt_uri(cls, value: str | None) -> str | None:
        if value and value.partition("://")[0].lower() not in _NEO4J_SCHEMES:
            raise ValueError("must start with bolt:// or neo4j:// (or bolt+s://, neo4j+s:// ...)")
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_dir_is_a_folder(cls, value: Path) -> Path:
        return _usable_folder(value.expanduser())

    @field_validator("audit_log")
    @classmethod
    def _audit_log_is_a_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        path = value.expanduser()
        if path.is_dir():
            raise ValueError(f"{path} is a folder; name the log file in it")
        _usable_folder(path.parent)
        return path

    @field_validator("risk_profiles_file")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("embedded_aot_cache")
    @classmethod
    def _aot_cache_is_a_folder(cls, value: str) -> str:
        if value not in ("auto", "off"):
            _usable_folder(Path(value).expanduser())
        return value

    @field_validator("repair_after", mode="plain")
    @classmethod
    def _repair_terms(cls, value: object) -> dict[str, Term]:
        return repair_terms(value)

    @field_validator("publish_at_most", mode="plain")
    @classmethod
    def _publication_terms(cls, value: object) -> dict[str, Term]:
        return publication_terms(value)

    @field_validator("record_repair", "record_objection", mode="plain")
    @classmethod
    def _offered(cls, value: object) -> Offered:
        return offered_where(value)

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
                f"{PREFIX}EMBEDDED_PAGE_CACHE ({self.embedded_page_cache}) must be smaller "
                f"than {PREFIX}EMBEDDED_HEAP ({self.embedded_heap}): the page cache lives in "
                "the heap"
            )
        return self

    @model_validator(mode="after")
    def _production_has_its_secrets(self) -> Settings:
        if self.environment is not Environment.PRODUCTION:
            return self
        if self.person_key is None:
            raise ValueError(
                "CREDGRAPH_PERSON_KEY is required in production (32 or more random characters, "
                "kept safe): a key generated into the data directory differs on every host and "
                "is lost with the folder, and person tokens made under another key never match"
            )
        if self.neo4j_uri and not (self.neo4j_password and self.neo4j_password.get_secret_value()):
            raise ValueError(
                "CREDGRAPH_NEO4J_PASSWORD is required in production when CREDGRAPH_NEO4J_URI is set"
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
        return self.audit_log or self.data_dir / "audit" / AUDIT_LOG_NAME

    @property
    def audit_key_path(self) -> Path:
        return self.audit_log_path.with_name(AUDIT_KEY_NAME)

    def audit_key_bytes(self) -> bytes:
        """The key that seals the audit chain, generated once beside the log (mode 0600)."""
        return read_or_create_secret(self.audit_key_path).encode()

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

    def has_person_key(self) -> bool:
        """Whether the person key is set, or was generated into the data dir already."""
        return self.person_key is not None or self._person_key_file.exists()

    def person_key_bytes(self) -> bytes:
        """The HMAC key for person tokens, generated once into the data dir when not set."""
        if self.person_key is not None:
            return self.person_key.get_secret_value().encode()
        return read_or_create_secret(self._person_key_file).encode()

    @property
    def _person_key_file(self) -> Path:
        return self.data_dir / "person.key"


def with_collector(settings: Settings, work: Collector) -> Settings:
    """`settings` for a command whose work wants the `work` collector: `auto` becomes it, a
    collector chosen in the settings stays."""
    if settings.embedded_gc is not Collector.AUTO:
        return settings
    return settings.model_copy(update={"embedded_gc": work})


def offered_where(value: object) -> Offered:
    """`record_repair` or `record_objection` from its text: `true`, `false`, or region-code
    prefixes (a province's two digits or a city's four) separated by commas; a bool or a
    sequence of prefixes as they are. ValueError saying what it should be."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        value = [part.strip() for part in text.split(",")]
    if not isinstance(value, list | tuple):
        raise ValueError(_OFFERED)
    prefixes = tuple(str(part) for part in value)
    wrong = [p for p in prefixes if not (p.isascii() and p.isdigit() and len(p) in (2, 4))]
    if not prefixes or wrong:
        raise ValueError(f"{_OFFERED}; {', '.join(map(repr, wrong)) or 'none'} is no prefix")
    return prefixes


def offered_in(offered: Offered, city: str | None) -> bool:
    """Whether a record of `city` (its region prefix; None: the record names none) is offered
    the process: always under `true`, never under `false`, else when its city starts with one
    of the prefixes; a record that names no city is not shown to be in one of them."""
    if isinstance(offered, bool):
        return offered
    return city is not None and any(city.startswith(prefix) for prefix in offered)


def repair_terms(value: object) -> dict[str, Term]:
    """`repair_after` from its JSON text (or a mapping): each key a negative record kind, or a
    kind and a sector code (`admin_penalty:work_safety`), each value a term (`3m`, `1y`).
    ValueError naming the key whose entry is refused."""
    negative = [kind.value for kind, label in RECORD_LABEL.items() if label is Label.SANCTION_EVENT]
    return _kind_terms(
        value, DEFAULT_REPAIR_AFTER, negative, "credit repair applies to negative records only"
    )


def publication_terms(value: object) -> dict[str, Term]:
    """`publish_at_most` from its JSON text (or a mapping): each key a record kind, or a kind
    and a sector code, each value a term. ValueError naming the key whose entry is refused."""
    return _kind_terms(value, DEFAULT_PUBLISH_AT_MOST, [kind.value for kind in RECORD_LABEL], "")


def _kind_terms(value: object, example: str, kinds: list[str], why: str) -> dict[str, Term]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"should be a JSON object such as {example} ({exc.msg})") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"should be a JSON object such as {example}")
    terms: dict[str, Term] = {}
    for key, written in value.items():
        kind, colon, sector = str(key).partition(":")
        if kind not in kinds:
            raise ValueError(
                f"key {key!r}: should start with a{' negative' if why else ''} record kind "
                f"({', '.join(kinds)}){': ' + why if why else ''}"
            )
        if colon and not CODE_WORD.match(sector):
            raise ValueError(
                f"key {key!r}: the sector should be a code of lower-case letters, digits and _ "
                "(`admin_penalty:work_safety`)"
            )
        try:
            terms[str(key)] = Term.parse(written)
        except ValueError as exc:
            raise ValueError(f"key {key!r}: {exc}") from None
    return terms


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


class SettingsError(ValueError):
    """Settings that cannot be used: one line per problem, each naming its variable."""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (used by the CLI and tests).

    Raises SettingsError naming each variable whose value is refused. Logs a warning (once per
    process) for each `CREDGRAPH_*` variable that is no setting, naming the nearest one."""
    for problem in unknown_variables([*os.environ, *_env_file_names()]):
        if problem not in _warned:
            _warned.add(problem)
            _log.warning("credgraph: %s", problem)
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError("\n".join(_explain(error) for error in exc.errors())) from None


def unknown_variables(names: Iterable[str]) -> list[str]:
    """What is wrong with each `CREDGRAPH_*` name among `names` that names no setting: a typo
    would otherwise be ignored without a word, and the default used instead."""
    known = sorted(name.upper() for name in Settings.model_fields)
    given = {name.upper() for name in names if name.upper().startswith(PREFIX)}
    problems = []
    for name in sorted(given - {PREFIX + k for k in known} - _OTHER_VARIABLES):
        # compared without the prefix, which every name shares and which would outweigh a typo
        nearest = difflib.get_close_matches(name.removeprefix(PREFIX), known, n=1)
        hint = f"; did you mean {PREFIX}{nearest[0]}?" if nearest else " (docs/settings.md)"
        problems.append(f"{name} is not a setting and is ignored{hint}")
    return problems


def _env_file_names() -> list[str]:
    try:
        return list(dotenv_values(ENV_FILE)) if Path(ENV_FILE).is_file() else []
    except (OSError, UnicodeDecodeError):  # unreadable: pydantic-settings says so itself
        return []


# pydantic's words for a value of the wrong type, in an operator's
_PLAIN = {
    "int_parsing": "should be a whole number",
    "int_from_float": "should be a whole number",
    "float_parsing": "should be a number",
    "bool_parsing": "should be true or false",
}


def _explain(error: Any) -> str:
    """One refused value as a line naming its variable (never a secret's value)."""
    message = _PLAIN.get(error["type"]) or str(error["msg"]).removeprefix("Value error, ")
    if message.startswith("Input should"):
        message = message.removeprefix("Input ")
    if error["type"] == "string_pattern_mismatch" and error["ctx"]["pattern"] == MEMORY_SIZE:
        message = "should be a whole number and m or g (512m, 4g)"
    if not error["loc"]:
        return message
    field = str(error["loc"][0])
    value = error["input"]
    shown = (
        "" if field in _SECRET_FIELDS else f"={value!r}" if isinstance(value, str) else f"={value}"
    )
    return f"{PREFIX}{field.upper()}{shown}: {message}"


def _usable_folder(path: Path) -> Path:
    """`path`, when it is a folder or can be made one: no file stands in its way."""
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                raise ValueError(f"{part} is a file, not a folder")
            break
    return path
