"""Deterministic identities: request_ids and content hashes.

A request_id is derived only from what the request carries (campaign, endpoint, body) and from
the ids of earlier attempts for the same recipients that state says did not go out. The same
inputs and the same state therefore always give the same id, and a retried request (a crash, a
rerun, a 5xx) reuses it, which is what lets the API's 24 h deduplication catch a resend.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

REQUEST_ID_PREFIX = "op-"


def canonical_json(value: Any) -> str:
    """The one serialization used for hashing and for the bodies we send and journal."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def request_id(
    campaign_id: str, endpoint: str, body: Mapping[str, Any], earlier: Iterable[str] = ()
) -> str:
    digest = hashlib.sha256()
    digest.update(canonical_json([campaign_id, endpoint, body, sorted(set(earlier))]).encode())
    return REQUEST_ID_PREFIX + digest.hexdigest()[:32]


def options_digest(options: Mapping[str, Any]) -> bytes:
    """What, besides the text, makes two sends of one text different (sender, channel...)."""
    return hashlib.sha256(canonical_json(options).encode()).digest()[:16]


def content_hash(options: bytes, text: str) -> str:
    """What a recipient receives: the campaign's channel options and the final text."""
    return hashlib.blake2b(text.encode(), digest_size=12, key=options).hexdigest()
