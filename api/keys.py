"""API keys: made once, shown once, stored as a digest, checked on every request.

A key reads `cgk_<id>_<secret>`: the id (12 hex characters) names the stored `ApiKey` node
and appears in the audit log; the secret (32 random bytes, URL-safe base64) is only ever
compared by its SHA-256 digest. A plain digest is enough because the secret is random: there
is nothing to guess, so a slow password hash would only slow every request down.

`KeyRing` checks keys against the store and caches what it found for a few seconds, so a busy
API does not read the store on every request; a revocation takes effect everywhere within that
time (`CREDGRAPH_API_KEY_CACHE_S`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from credgraph.api.limits import MAX_KEY_NAME_CHARS
from credgraph.api.roles import ApiRole
from credgraph.graph.store import GraphStore
from credgraph.queries.keys import StoredKey, create_key, find_key, list_keys, revoke_key

_KEY = re.compile(r"^cgk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_PREFIX = "cgk"


class ApiKeyError(ValueError):
    """A key that cannot be created or revoked (unknown role, empty name, unknown id), with the
    argument at fault (`role`, `name`, `key_id`) for the command line to name."""

    def __init__(self, argument: str, reason: str) -> None:
        super().__init__(reason)
        self.argument = argument


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's id and name, and its role."""

    key_id: str
    name: str
    role: ApiRole

    @classmethod
    def anonymous(cls) -> Caller:
        """A caller without a key, allowed only when public access is configured."""
        return cls(key_id="-", name="anonymous", role=ApiRole.PUBLIC)


@dataclass(frozen=True)
class NewKey:
    key_id: str
    name: str
    role: ApiRole
    secret: str  # the whole key: shown once, never stored


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_key(store: GraphStore, role: str, name: str) -> NewKey:
    """Create a key with this role and name; the returned `secret` is the only copy."""
    try:
        api_role = ApiRole(role)
    except ValueError:
        known = ", ".join(r.value for r in ApiRole)
        raise ApiKeyError("role", f"must be one of {known}") from None
    label = name.strip()
    if not label or len(label) > MAX_KEY_NAME_CHARS:
        raise ApiKeyError("name", f"must be 1 to {MAX_KEY_NAME_CHARS} characters")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    whole = f"{_PREFIX}_{key_id}_{secret}"
    create_key(store, key_id, label, api_role.value, digest(secret), datetime.now(UTC))
    return NewKey(key_id, label, api_role, whole)


def all_keys(store: GraphStore) -> list[StoredKey]:
    """Every key, its times in UTC with their zone (the embedded store gives them back
    without it, and a time read in another zone would be off by hours)."""
    return [
        replace(key, created_at=as_utc(key.created_at), revoked_at=as_utc(key.revoked_at))
        for key in list_keys(store)
    ]


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored time with its zone: the embedded store gives back the UTC times credgraph wrote
    without it."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def key_id_of(text: str) -> str:
    """The key id `text` gives: an id as `keys list` shows it, or a whole key, as whoever
    found a leaked key has it."""
    match = _KEY.match(text.strip())
    return match.group(1) if match else text.strip().lower()


def revoke(store: GraphStore, key: str) -> tuple[StoredKey, bool]:
    """Revoke the key `key` names (its id or the whole key); also whether this call revoked
    it (False: it was revoked before, and keeps that time)."""
    key_id = key_id_of(key)
    before = find_key(store, key_id)
    if before is None:
        raise _no_such_key(key_id)
    if before.revoked:
        return replace(before, revoked_at=as_utc(before.revoked_at)), False
    found = revoke_key(store, key_id, datetime.now(UTC))
    if found is None:  # removed from the store in between
        raise _no_such_key(key_id)
    return found, True


class KeyRing:
    """Checks presented keys against the store, with a short cache of the lookups."""

    def __init__(self, store: GraphStore, cache_s: float) -> None:
        self._store = store
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, StoredKey | None]] = {}
        self._lock = threading.Lock()

    def caller(self, presented: str) -> Caller | None:
        """The caller a presented key belongs to; None for a malformed, unknown or revoked key."""
        match = _KEY.match(presented.strip())
        if match is None:
            return None
        key_id, secret = match.groups()
        return _checked(self._lookup(key_id), secret)

    def cached_caller(self, presented: str) -> tuple[bool, Caller | None]:
        """(True, `caller(presented)`) when that needs no store read: a malformed key, or one
        looked up within the cache time; (False, None) when only `caller` can tell."""
        match = _KEY.match(presented.strip())
        if match is None:
            return True, None
        key_id, secret = match.groups()
        cached = self._fresh(key_id)
        if cached is None:
            return False, None
        return True, _checked(cached[1], secret)

    def _fresh(self, key_id: str) -> tuple[float, StoredKey | None] | None:
        with self._lock:
            cached = self._cache.get(key_id)
        if cached is not None and time.monotonic() - cached[0] < self._cache_s:
            return cached
        return None

    def _lookup(self, key_id: str) -> StoredKey | None:
        cached = self._fresh(key_id)
        if cached is not None:
            return cached[1]
        now = time.monotonic()
        stored = find_key(self._store, key_id)
        with self._lock:
            if len(self._cache) > 10_000:  # unknown ids must not grow the cache without bound
                self._cache.clear()
            self._cache[key_id] = (now, stored)
        return stored


def _checked(stored: StoredKey | None, secret: str) -> Caller | None:
    """The caller of a stored key when `secret` is its secret and it is live, else None."""
    if stored is None or stored.revoked:
        return None
    if not hmac.compare_digest(stored.secret_sha256, digest(secret)):
        return None
    try:
        return Caller(stored.key_id, stored.name, ApiRole(stored.role))
    except ValueError:
        return None


def _no_such_key(key_id: str) -> ApiKeyError:
    return ApiKeyError("key_id", f"no key with the id {key_id!r} (credgraph keys list shows them)")
