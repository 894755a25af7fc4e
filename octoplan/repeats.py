"""Never the same text twice to one recipient within 30 days, from any campaign (SPEC section 6).

A campaign's own history (its id and its `renamed_from` ids) already keeps it from sending a
recipient twice. This guards the rest: a campaign renamed without `renamed_from`, copied under
another id, or repeating another campaign's text. A recipient a plan would send a text that
state says another campaign sent them (or may have: unconfirmed, in doubt) within the last 30
days blocks the campaign, unless it says `allow_repeat: true`.

"The same text" is the same final text, whatever else differs (sender, send_at...): each
recipient's content hash in state is keyed with its campaign's options digest (ids.py), so the
planned text is hashed with that batch's key and compared. Cheap where it usually runs: state's
recent batches are listed without their recipients, a campaign with no other campaign's recent
batch costs nothing more, and only the recipients another campaign reached lately have their
text built and hashed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import compress

from octoplan import ids
from octoplan.errors import Diagnostic
from octoplan.mask import mask_recipient
from octoplan.messages import Messages
from octoplan.payload import options_of_body
from octoplan.state.base import RecentBatch, SentContents, StateStore
from octoplan.words import plural

REPEAT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Repeat:
    """Recipients a campaign would send the text another campaign sent them lately."""

    earlier: str  # that campaign's id
    at: datetime  # its latest such send
    recipients: list[str]  # keys


class RecentSends:
    """What state sent lately, read once per plan: the batches up front, the recipients of a
    batch the first time a campaign needs them."""

    def __init__(self, store: StateStore, now: datetime) -> None:
        self._store = store
        self._batches = store.recent_batches(now - REPEAT_WINDOW)
        self._contents: dict[str, tuple[list[str], list[str], bytes]] = {}

    def others(self, history: Iterable[str]) -> list[RecentBatch]:
        """Recent batches of campaigns other than these ids."""
        own = set(history)
        return [batch for batch in self._batches if batch.campaign_id not in own]

    def contents(self, batches: Sequence[RecentBatch]) -> list[tuple[list[str], list[str], bytes]]:
        """(recipient keys, content hashes, the hashes' key) of each batch."""
        missing = [b.request_id for b in batches if b.request_id not in self._contents]
        if missing:
            found = self._store.sent_contents(missing)
            endpoints = {b.request_id: b.endpoint for b in batches}
            for request_id, sent in found.items():
                self._contents[request_id] = (
                    sent.keys,
                    sent.content_hashes,
                    self._key(request_id, endpoints[request_id], sent),
                )
        return [self._contents.get(b.request_id, ([], [], b"")) for b in batches]

    def _key(self, request_id: str, endpoint: str, sent: SentContents) -> bytes:
        if sent.options is not None:
            return bytes.fromhex(sent.options)
        # Journaled before schema 3: the key is read back from the body.
        body = json.loads(self._store.payload(request_id))
        return ids.options_digest(options_of_body(endpoint, body))


def repeats(
    messages: Messages, to_send: Sequence[int], others: Sequence[RecentBatch], sends: RecentSends
) -> list[Repeat]:
    """Which of the recipients at `to_send` would get a text one of `others` sent them."""
    if not others or not to_send:
        return []
    keys = messages.keys
    planned = dict(zip(map(keys.__getitem__, to_send), to_send, strict=True))
    texts: dict[int, str] = {}
    found: dict[str, tuple[datetime, list[str]]] = {}
    for batch, (members, hashes, key) in zip(others, sends.contents(others), strict=True):
        hits = list(compress(range(len(members)), map(planned.__contains__, members)))
        repeated = []
        for position in hits:
            index = planned[members[position]]
            if key == messages.options:
                same = messages.hash(index) == hashes[position]
            else:
                text = texts.get(index)
                if text is None:
                    text = texts[index] = messages.text(index)
                same = ids.content_hash(key, text) == hashes[position]
            if same:
                repeated.append(members[position])
        if repeated:
            at, recipients = found.get(batch.campaign_id, (batch.at, []))
            recipients.extend(repeated)
            found[batch.campaign_id] = (max(at, batch.at), recipients)
    return [
        Repeat(campaign, at, sorted(set(recipients)))
        for campaign, (at, recipients) in sorted(found.items())
    ]


def repeat_errors(
    campaign_id: str, where: tuple[str, int | None, int | None], found: Sequence[Repeat]
) -> list[Diagnostic]:
    """One error per earlier campaign, at the campaign's `id` (or its file's first line)."""
    path, line, col = where
    return [
        Diagnostic(
            path,
            line,
            col,
            f"campaign {campaign_id} would send {plural(len(r.recipients), 'recipient')} "
            f"(e.g. {mask_recipient(r.recipients[0])}) the very text campaign {r.earlier} "
            f"sent them on {r.at:%Y-%m-%d}: a recipient never gets the same text twice "
            "within 30 days",
            f"if {campaign_id} is {r.earlier} renamed, add `renamed_from: [{r.earlier}]` to it "
            f"(or run `octoplan state mv {r.earlier} {campaign_id}`); to send it again on "
            "purpose, set `allow_repeat: true`",
        )
        for r in found
    ]
