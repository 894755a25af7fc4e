"""Never the same text twice to one recipient within 30 days, from any campaign (SPEC section 6).

A campaign's own history (its id and its `renamed_from` ids) already keeps it from sending a
recipient twice. This guards the rest: a campaign renamed without `renamed_from`, copied under
another id, or repeating another campaign's text. A recipient a plan would send a text that
state says another campaign sent them (or may have: unconfirmed, in doubt) within the last 30
days blocks the campaign, unless it says `allow_repeat: true`; so does one that a campaign
planned before it in the same plan sends them (one apply would send both).

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
from octoplan.state.base import RecentBatch, SentContents, StateReader
from octoplan.words import plural

REPEAT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Repeat:
    """Recipients a campaign would send the text another campaign sent them lately."""

    earlier: str  # that campaign's id
    at: datetime | None  # its latest such send; None: it sends it in this very plan
    recipients: list[str]  # keys


@dataclass
class _Planned:
    """A campaign planned earlier in the same plan, and who it sends to."""

    campaign_id: str
    messages: Messages
    to_send: Sequence[int]
    _where: dict[str, int] | None = None

    def where(self) -> dict[str, int]:
        """Its recipients' keys -> their index in its messages (built when first asked)."""
        if self._where is None:
            keys = self.messages.keys
            indexes = self.to_send
            self._where = dict(zip(map(keys.__getitem__, indexes), indexes, strict=True))
        return self._where


class RecentSends:
    """What state sent lately, read once per plan and only if a campaign asks: the batches up
    front, the recipients of a batch the first time a campaign needs them. And what the
    campaigns planned so far send: one apply sends them all, one after the other."""

    def __init__(self, store: StateReader, now: datetime) -> None:
        self._store = store
        self._since = now - REPEAT_WINDOW
        self._batches: list[RecentBatch] | None = None
        self._contents: dict[str, tuple[list[str], list[str], bytes]] = {}
        self.planned: list[_Planned] = []

    def others(self, history: Iterable[str]) -> list[RecentBatch]:
        """Recent batches of campaigns other than these ids."""
        if self._batches is None:
            self._batches = self._store.recent_batches(self._since)
        own = set(history)
        return [batch for batch in self._batches if batch.campaign_id not in own]

    def sends(self, campaign_id: str, messages: Messages, to_send: Sequence[int]) -> None:
        """Campaign `campaign_id` of this plan sends to the recipients at `to_send`."""
        if to_send:
            self.planned.append(_Planned(campaign_id, messages, to_send))

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
    """Which of the recipients at `to_send` would get a text one of `others` sent them, or a
    campaign planned before in this plan sends them."""
    if not (others or sends.planned) or not to_send:
        return []
    keys = messages.keys
    planned = dict(zip(map(keys.__getitem__, to_send), to_send, strict=True))
    texts: dict[int, str] = {}

    def text(index: int) -> str:
        found = texts.get(index)
        if found is None:
            found = texts[index] = messages.text(index)
        return found

    found: dict[str, tuple[datetime, list[str]]] = {}
    for batch, (members, hashes, key) in zip(others, sends.contents(others), strict=True):
        hits = list(compress(range(len(members)), map(planned.__contains__, members)))
        repeated = []
        for position in hits:
            index = planned[members[position]]
            if key == messages.options:
                same = messages.hash(index) == hashes[position]
            else:
                same = ids.content_hash(key, text(index)) == hashes[position]
            if same:
                repeated.append(members[position])
        if repeated:
            at, recipients = found.get(batch.campaign_id, (batch.at, []))
            recipients.extend(repeated)
            found[batch.campaign_id] = (max(at, batch.at), recipients)
    result = [
        Repeat(campaign, at, sorted(set(recipients)))
        for campaign, (at, recipients) in sorted(found.items())
    ]
    for earlier in sends.planned:
        theirs = earlier.where()
        both = compress(planned, map(theirs.__contains__, planned))
        twice = [k for k in both if text(planned[k]) == earlier.messages.text(theirs[k])]
        if twice:
            result.append(Repeat(earlier.campaign_id, None, sorted(twice)))
    return result


def repeat_errors(
    campaign_id: str, where: tuple[str, int | None, int | None], found: Sequence[Repeat]
) -> list[Diagnostic]:
    """One error per earlier campaign, at the campaign's `id` (or its file's first line)."""
    path, line, col = where
    errors = []
    for r in found:
        who = (
            f"campaign {campaign_id} would send {plural(len(r.recipients), 'recipient')} "
            f"(e.g. {mask_recipient(r.recipients[0])}) the very text campaign {r.earlier} "
        )
        if r.at is None:
            message = f"{who}sends them in this same plan"
            hint = (
                f"send it from one of the two campaigns only; to send it twice on purpose, set "
                f"`allow_repeat: true` in {path}"
            )
        else:
            message = f"{who}sent them on {r.at:%Y-%m-%d}"
            hint = (
                f"if {campaign_id} is {r.earlier} renamed, add `renamed_from: [{r.earlier}]` "
                f"to it (or run `octoplan state mv {r.earlier} {campaign_id}`); to send it "
                "again on purpose, set `allow_repeat: true`"
            )
        message += ": a recipient never gets the same text twice within 30 days"
        errors.append(Diagnostic(path, line, col, message, hint))
    return errors
