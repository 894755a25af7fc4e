"""What a recipient was sent, read back from state, beside what they would get now.

A text edited after a partial send goes to the remaining recipients only; a reviewer should see
the edit, not only a count. State keeps each request's body exactly as sent (compressed in
`batch_bodies`), so a sample's old text is rebuilt from it: the request text, personalized
with that recipient's own fields where the endpoint personalizes (`{first_name}`...), and
transliterated as the API does unless the request said `auto_optimize_text: false`.

Only a few recent requests are read, and only when some recipient's text changed: a plan of a
million recipients pays for a handful of rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from octoplan import channels
from octoplan.channels import IDENTITY_FIELDS, SendFlow
from octoplan.messages import CHANGED, Messages
from octoplan.placeholders import apply_placeholders
from octoplan.sms import auto_optimize
from octoplan.state.base import BatchStatus, StateReader

# How far back to look: the newest requests hold the latest text sent.
MAX_REQUESTS = 5
MAX_RECIPIENTS_PER_REQUEST = 5
_IDENTITIES = IDENTITY_FIELDS
# The endpoints whose texts the API personalizes, and those of the channels it auto-optimizes.
_PERSONALIZING = frozenset(f.endpoints.send for f in SendFlow if f.personalizes)
_OPTIMIZING = frozenset(c.route.flow.endpoints.send for c in channels.ALL if c.auto_optimizes)


@dataclass(frozen=True)
class TextChange:
    """One recipient's text as sent and as it would be now."""

    recipient: str  # identity key (clear: views mask it)
    old: str
    new: str


def delivered(endpoint: str, body: Mapping[str, Any], key: str) -> str | None:
    """The text recipient `key` got from a request `body` sent to `endpoint`."""
    text = body.get("text")
    if not isinstance(text, str):
        return None
    recipients = body.get("recipients")
    fields: Mapping[str, str] | None = None
    if isinstance(recipients, list):
        fields = next(
            (
                r
                for r in recipients
                if isinstance(r, dict) and any(r.get(name) == key for name in _IDENTITIES)
            ),
            None,
        )
    if endpoint in _PERSONALIZING:
        if fields is None:
            return None
        text = apply_placeholders(text, fields)
    if endpoint in _OPTIMIZING and body.get("auto_optimize_text") is not False:
        text = auto_optimize(text)
    return text


def text_change(
    store: StateReader,
    campaign_id: str,
    messages: Messages,
    flags: Sequence[int],
    sent: Mapping[str, str],
) -> TextChange | None:
    """A recipient whose text changed since it was sent (`flags`: each message's standing,
    `sent`: the content hash state holds per recipient), with both texts; from the newest
    requests, so the old text is the latest one sent."""
    keys = messages.keys
    accepted = store.batches(campaign_id, [BatchStatus.ACCEPTED])
    for record in reversed(accepted[-MAX_REQUESTS:]):
        members = store.batch_recipients(record.request_id)
        tried = 0
        for key, content_hash in members:
            if sent.get(key) != content_hash:
                continue  # another request decides this recipient
            tried += 1
            if tried > MAX_RECIPIENTS_PER_REQUEST:
                break
            try:
                index = keys.index(key)
            except ValueError:
                continue  # no longer a recipient
            if flags[index] != CHANGED:
                break  # this request sent today's text: look further back
            old = delivered(record.endpoint, json.loads(store.payload(record.request_id)), key)
            if old is None:
                return None
            return TextChange(key, old, messages.text(index))
    return None


def diff_lines(old: str, new: str) -> list[str]:
    """The two texts as `- `/`+ ` lines (and `  ` for lines both share), like a diff."""
    if "\n" not in old and "\n" not in new:
        return [f"- {old}", f"+ {new}"]
    import difflib  # multi-line texts only: every `plan` imports this module

    return [
        line.rstrip("\n")
        for line in difflib.ndiff(old.splitlines(), new.splitlines())
        if not line.startswith("? ")
    ]
