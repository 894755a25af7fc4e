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


# A batch's recipients: the distinct field-name tuples, which one each recipient uses, and
# each recipient's record (its values joined by US, see messages.py).
Recipients = tuple[list[tuple[str, ...]], list[int], list[str]]


def batch_request_id(
    campaign_id: str,
    endpoint: str,
    base: Mapping[str, Any],
    recipients: Recipients,
    earlier: Iterable[str] = (),
) -> str:
    """The request_id of a batch: `base` is its body without recipients (text and options),
    `recipients` who it goes to, field by field.

    Hashed from the recipients' records rather than from a body with a dict per recipient, so
    that a million recipients are serialized at C speed without building a million dicts.
    """
    digest = hashlib.sha256()
    digest.update(canonical_json([campaign_id, endpoint, base, sorted(set(earlier))]).encode())
    digest.update(b"\n")
    digest.update(_recipients_text(recipients).encode())
    return REQUEST_ID_PREFIX + digest.hexdigest()[:32]


def _recipients_text(recipients: Recipients) -> str:
    """The recipients as text: the names as JSON, then the records joined by RS (records hold
    no RS: contact values never hold control characters)."""
    names, which, records = recipients
    shape = [names, which] if len(names) > 1 else [names, len(records)]
    head = json.dumps(shape, ensure_ascii=False, separators=(",", ":"))
    return head + "\n" + "\x1e".join(records)


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
