"""Deterministic identities: request_ids and content hashes.

A request_id is derived only from what the request carries (campaign, endpoint, body) and from
the ids of earlier attempts for the same recipients that state says did not go out. The same
inputs and the same state therefore always give the same id, and a retried request (a crash, a
rerun, a 5xx) reuses it, which is what lets the API's 24 h deduplication catch a resend.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
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


def batch_request_id(
    campaign_id: str,
    endpoint: str,
    base: Mapping[str, Any],
    recipients: Sequence[tuple[Sequence[str], Sequence[str]]],
    earlier: Iterable[str] = (),
) -> str:
    """The request_id of a batch: `base` is its body without recipients (text and options),
    `recipients` the (field names, values) of each recipient, in order.

    Serialized as two JSON documents rather than one body, so that a million recipients are
    hashed from tuples at C speed instead of being built as dicts first.
    """
    digest = hashlib.sha256()
    digest.update(canonical_json([campaign_id, endpoint, base, sorted(set(earlier))]).encode())
    digest.update(b"\n")
    digest.update(json.dumps(recipients, ensure_ascii=False, separators=(",", ":")).encode())
    return REQUEST_ID_PREFIX + digest.hexdigest()[:32]


def options_digest(options: Mapping[str, Any]) -> bytes:
    """What, besides the text, makes two sends of one text different (sender, channel...)."""
    return hashlib.sha256(canonical_json(options).encode()).digest()[:16]


def content_hash(options: bytes, text: str) -> str:
    """What a recipient receives: the campaign's channel options and the final text."""
    return hashlib.blake2b(text.encode(), digest_size=12, key=options).hexdigest()


def content_hashes(options: bytes, texts: Iterable[str]) -> list[str]:
    """`content_hash` of each text (one keyed hasher copied per text: cheaper than a new one)."""
    keyed = hashlib.blake2b(digest_size=12, key=options)
    out = []
    for text in texts:
        hasher = keyed.copy()
        hasher.update(text.encode())
        out.append(hasher.hexdigest())
    return out
