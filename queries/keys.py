"""API keys as `ApiKey` nodes: id, name, role, the hash of the secret, creation and revocation.

The secret itself is never stored: `api/keys.py` makes a key, prints it once and hands this
module only its SHA-256 digest. Keys live in the graph store so that every API worker and every
API host behind a load balancer sees the same keys and the same revocations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from credgraph.graph.store import GraphStore, stored_datetime

CREATE_API_KEY: LiteralString = """
CREATE (k:ApiKey {uid: $uid})
SET k.name = $name, k.role = $role, k.secret_sha256 = $digest, k.created_at = $created_at
"""

API_KEY_BY_ID: LiteralString = """
MATCH (k:ApiKey {uid: $uid})
RETURN k {.*} AS key
"""

ALL_API_KEYS: LiteralString = """
MATCH (k:ApiKey)
RETURN k {.*} AS key
ORDER BY k.created_at, k.uid
"""

REVOKE_API_KEY: LiteralString = """
MATCH (k:ApiKey {uid: $uid})
SET k.revoked_at = coalesce(k.revoked_at, $revoked_at)
RETURN k {.*} AS key
"""


@dataclass(frozen=True)
class StoredKey:
    """An API key as stored: never the secret, only its digest."""

    key_id: str
    name: str
    role: str
    secret_sha256: str
    created_at: datetime | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def _stored(node: dict[str, Any]) -> StoredKey:
    return StoredKey(
        key_id=str(node["uid"]),
        name=str(node.get("name") or ""),
        role=str(node.get("role") or ""),
        secret_sha256=str(node.get("secret_sha256") or ""),
        created_at=stored_datetime(node.get("created_at")),
        revoked_at=stored_datetime(node.get("revoked_at")),
    )


def create_key(
    store: GraphStore, key_id: str, name: str, role: str, digest: str, created_at: datetime
) -> None:
    """Store a new key (the uniqueness constraint refuses a duplicate id)."""
    params = {
        "uid": key_id,
        "name": name,
        "role": role,
        "digest": digest,
        "created_at": created_at,
    }
    store.write(CREATE_API_KEY, params, operation="keys.create")


def find_key(store: GraphStore, key_id: str) -> StoredKey | None:
    rows = store.read(API_KEY_BY_ID, {"uid": key_id}, operation="keys.find")
    return _stored(rows[0]["key"]) if rows else None


def list_keys(store: GraphStore) -> list[StoredKey]:
    return [_stored(row["key"]) for row in store.read(ALL_API_KEYS, operation="keys.list")]


def revoke_key(store: GraphStore, key_id: str, revoked_at: datetime) -> StoredKey | None:
    """Mark a key revoked (idempotent: the first revocation time stays); None if unknown."""
    rows = store.write(
        REVOKE_API_KEY, {"uid": key_id, "revoked_at": revoked_at}, operation="keys.revoke"
    )
    return _stored(rows[0]["key"]) if rows else None
