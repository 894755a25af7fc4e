"""Planned requests: new batches cut from the recipients to send, each with its request body,
and the batches a plan carries over from state (resumed) or journals without a request
(skipped by the frequency cap)."""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from itertools import compress

from octoplan import channels, ids
from octoplan.encode import encode_body
from octoplan.messages import FIELD, ORDER, gather
from octoplan.plan import BatchKind, CampaignSpec, PlannedBatch
from octoplan.state.base import BatchRecord


def fixed(payload: str, hashes: tuple[str, ...]) -> Callable[[], tuple[str, tuple[str, ...]]]:
    return lambda: (payload, hashes)


def resume_batch(
    record: BatchRecord, payload: str, hashes: Sequence[tuple[str, str]]
) -> PlannedBatch:
    body = json.loads(payload)
    return PlannedBatch(
        kind=BatchKind.RESUME,
        request_id=record.request_id,
        endpoint=record.endpoint,
        recipients=tuple(k for k, _ in hashes),
        # Resent as journaled, to the byte.
        contents=fixed(payload, tuple(h for _, h in hashes)),
        text=str(body.get("text", "")),
        send_at=record.send_at,
        segments=0,
        parts=0,
        estimated_cost=record.estimated_cost,
        first_sent_at=record.first_sent_at,
    )


def skip_batch(spec: CampaignSpec, capped: list[int]) -> PlannedBatch:
    """Recipients over the frequency cap: journaled as skipped by apply (no request), so no
    later plan sends them this campaign."""
    messages = spec.messages
    chunk = sorted(capped, key=messages.keys.__getitem__)
    chunk_keys = tuple(gather(chunk)(messages.keys))
    digest = hashlib.sha256("\n".join([spec.id, *chunk_keys]).encode()).hexdigest()[:32]
    return PlannedBatch(
        kind=BatchKind.SKIP,
        request_id=f"skip-{digest}",
        endpoint=spec.endpoint,
        recipients=chunk_keys,
        # Their content hashes are computed only if apply journals them.
        contents=lambda: ("{}", tuple(map(messages.hash, chunk))),
        text="",
        segments=0,
        parts=0,
        estimated_cost=0.0,
        send_at=spec.send_at.isoformat() if spec.send_at else None,
    )


def new_batches(
    spec: CampaignSpec,
    to_send: Sequence[int],
    earlier_by_key: Mapping[str, str],
    replaced: frozenset[str] = frozenset(),
) -> list[PlannedBatch]:
    """One request carries one text: group by request text, in recipient order, then chunk."""
    messages = spec.messages
    keys, request_texts = messages.keys, messages.request_texts
    # Row numbers as C arrays (4 bytes each), here and in each batch's `_contents`: as lists
    # they would hold an int object per recipient (some 40 bytes) until the plan is shown.
    order = array(ORDER, sorted(to_send, key=keys.__getitem__))
    texts_in_order = list(map(request_texts.__getitem__, order))
    distinct = list(dict.fromkeys(texts_in_order))  # in order of first use
    groups: dict[str, Sequence[int]] = {}
    if len(distinct) <= 16:  # a few texts: one C-speed pass each
        for text in distinct:
            groups[text] = array(ORDER, compress(order, map(text.__eq__, texts_in_order)))
    else:
        lists: dict[str, list[int]] = {}
        for index, text in zip(order, texts_in_order, strict=True):
            listed = lists.get(text)
            if listed is None:
                lists[text] = [index]
            else:
                listed.append(index)
        groups.update(lists)
    del texts_in_order
    allowed = frozenset(spec.recipient_fields)
    sms = channels.get(spec.channel).bills_per_part
    batches: list[PlannedBatch] = []
    for request_text, members in groups.items():
        for start in range(0, len(members), spec.batch_size):
            chunk = array(ORDER, members[start : start + spec.batch_size])
            take = gather(chunk)
            names = messages.names.gathered(take)
            recipients = _recipients(names, messages.records_at(take), allowed)
            chunk_keys = take(keys)
            earlier = (
                sorted({earlier_by_key[k] for k in chunk_keys if k in earlier_by_key})
                if earlier_by_key
                else []
            )
            base = spec.make_body(request_text, [])
            rid = ids.batch_request_id(spec.id, spec.endpoint, base, recipients, earlier)
            segments = take(messages.segments)
            batches.append(
                PlannedBatch(
                    kind=BatchKind.NEW,
                    request_id=rid,
                    endpoint=spec.endpoint,
                    recipients=tuple(chunk_keys),
                    contents=partial(_contents, spec, request_text, chunk, allowed, rid),
                    text=request_text,
                    segments=max(segments),
                    # Only SMS are billed by the part; other channels' segments mean nothing.
                    parts=sum(segments) if sms else 0,
                    estimated_cost=round(sum(take(messages.costs)), 6),
                    send_at=base.get("send_at"),
                    replaces=tuple(e for e in earlier if e in replaced),
                    options=messages.options.hex(),
                )
            )
    return batches


def _recipients(
    names: Sequence[tuple[str, ...]], records: Sequence[str], allowed: frozenset[str]
) -> ids.Recipients:
    """The recipients of a batch as the API gets them: the field names, which names each one
    uses, and each one's record (fields the endpoint does not take are left out)."""
    first = names[0]
    # Usually one shared tuple: counting compares identities, without hashing 500 tuples.
    if names.count(first) == len(names) and allowed.issuperset(first):
        return [first], [0] * len(records), list(records)
    layouts: dict[tuple[str, ...], int] = {}
    kept_names: list[tuple[str, ...]] = []
    which: list[int] = []
    kept_records: list[str] = []
    for row_names, record in zip(names, records, strict=True):
        kept = [i for i, name in enumerate(row_names) if name in allowed]
        shown = tuple(row_names[i] for i in kept)
        if shown not in layouts:
            layouts[shown] = len(kept_names)
            kept_names.append(shown)
        which.append(layouts[shown])
        values = record.split(FIELD)
        kept_records.append(FIELD.join(values[i] for i in kept))
    return kept_names, which, kept_records


def _contents(
    spec: CampaignSpec,
    request_text: str,
    chunk: Sequence[int],
    allowed: frozenset[str],
    request_id: str,
) -> tuple[str, tuple[str, ...]]:
    # The recipients again, not kept from the plan: a plan of a million recipients would
    # hold a million records (Messages.records holds them without their keys).
    take, messages = gather(chunk), spec.messages
    recipients = _recipients(messages.names.gathered(take), messages.records_at(take), allowed)
    body = spec.make_body(request_text, [])
    if spec.request_id_in_metadata:
        body["metadata"] = {**body.get("metadata", {}), "request_id": request_id}
    else:
        body["request_id"] = request_id
    return encode_body(body, recipients), tuple(map(spec.messages.hash, chunk))
