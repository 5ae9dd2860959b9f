"""Sealing event data with the subject's key (AES-256-GCM), and opening it again.

Only events that carry what a person said are sealed. The subject (user_id), the agent
(agent_id) and the memory id stay in clear so that the log can still be counted, routed
and emptied of a deleted agent's memories (events sealed before agent_id was kept in clear
hold it sealed); the session is kept in clear only as a keyed digest (`session_tag`,
`scopes.session_tag`), so that a run's memories are found in the log while its name (a
caller's words: "trip-to-lisbon-with-ana") is sealed with the rest; the content, metadata
and anything derived from it are inside the ciphertext, bound to the event id.
"""

import base64
import os
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED_TYPES = frozenset(
    {"memory.recorded", "fact.extracted", "entity.extracted", "pack.compiled", "fact.contradicted"}
)
CLEAR_FIELDS = ("type", "user_id", "agent_id", "memory_id")

_json = msgspec.json.Encoder()


def seal(
    plain: bytes, event_id: str, key_id: str, key: bytes, clear: dict[str, str] | None = None
) -> str:
    """The stored form of `plain` (the event data as JSON): clear fields (and `clear`, the
    digests kept beside them) + ciphertext."""
    body = msgspec.json.decode(plain)
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, plain, event_id.encode())
    stored: dict[str, Any] = {field: body.get(field) for field in CLEAR_FIELDS if field in body}
    stored.update(clear or {})
    stored["sealed"] = {
        "key_id": key_id,
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    return _json.encode(stored).decode()


def sealed_key_id(stored: dict[str, Any]) -> str | None:
    sealed = stored.get("sealed")
    return sealed.get("key_id") if isinstance(sealed, dict) else None


def open_sealed(stored: dict[str, Any], event_id: str, keys: dict[str, bytes]) -> bytes | None:
    """The plain event data, or None when its key has been shredded."""
    sealed = stored["sealed"]
    key = keys.get(sealed["key_id"])
    if key is None:
        return None
    try:
        return AESGCM(key).decrypt(
            base64.b64decode(sealed["nonce"]),
            base64.b64decode(sealed["ciphertext"]),
            event_id.encode(),
        )
    except InvalidTag:
        return None
