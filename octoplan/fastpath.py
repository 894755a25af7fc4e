"""The fast path: contacts that share a message skeleton get their texts composed, not
rendered.

Batching: `sms-campaign/send` personalizes server-side, so one request can carry 500 texts if
they differ only in `{first_name}`/`{paramN}` slots. The template is rendered once per group of
contacts (same valued fields, same presence of the others) with sentinels in place of the
values (octoplan/merge.py: the skeleton), and each contact's text is the skeleton with its
values; the group's first contact is also rendered in full (octoplan/fullrender.py) and the
group is used only if both texts agree. When a contact has personal fields, the request text
is the skeleton with the API's slots (`{first_name}`), shared by every contact of the group;
`apply_placeholders(request_text, fields)` is the delivered text.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat

from octoplan import ids
from octoplan.contactfiles import ContactSource
from octoplan.contacts import Chunk
from octoplan.fullrender import IDENTITY, FullRender, explained
from octoplan.merge import FieldUse, make_skeleton, skeleton_fields
from octoplan.messages import (
    COSTS,
    FIELD,
    ORDER,
    SEGMENTS,
    DesiredMessage,
    Messages,
    Recipient,
    Shared,
    gather,
    sent_flags,
)
from octoplan.placeholders import MAX_VALUE_LENGTH, apply_placeholders
from octoplan.policies import MessageChecks, empty_field_possible
from octoplan.render import Renderer, RenderError
from octoplan.rules import has_stop_mention
from octoplan.sms import (
    _ASCII_NOT_BASIC,
    GSM7_PART,
    GSM7_SINGLE,
    NOT_BASIC,
    auto_optimize,
    auto_optimize_all,
    measure,
    optimize_piece,
)


def _basic(text: str) -> bool:
    """Only one-septet GSM-7 characters (no escape, no UCS-2)?"""
    if text.isascii():
        return _ASCII_NOT_BASIC.search(text) is None
    return NOT_BASIC.search(text) is None


# SMS parts of a GSM-7 text of n one-septet characters, for every length the API accepts.
_PARTS = [0, *(1 if n <= GSM7_SINGLE else -(-n // GSM7_PART) for n in range(1, 2000))]


@dataclass
class Group:
    """A skeleton compiled for one source layout: column indexes of its holes and slots.

    With auto_optimize_text on, the delivered text is auto_optimize(skeleton % values); since
    the transliteration works character by character, values never start or end with a space,
    and runs of spaces never cross a hole, it equals `optimized_format % (auto_optimize(value)
    for each value)`, which is what is computed (and checked on the group's first contact).
    """

    text_format: str  # over optimized literals when auto_optimize is on
    raw_format: str  # the skeleton as rendered
    holes: list[int]  # column printed at each hole
    slotted: list[int]  # column of each slot
    inlined: list[int]  # column of each hole without a slot
    request_text: str | None
    request_format: str
    names: tuple[str, ...]  # recipient fields: the identity, then the slots
    basic: bool  # the literals are one-septet GSM-7 characters only
    stop: bool  # the literals hold the marketing opt-out mention


@dataclass
class Layout:
    """A source's columns as the merge reads them."""

    names: list[str]
    index: dict[str, int]
    valued: list[int]  # columns whose values pick the group (-1: absent from this source)
    present: list[int]  # columns whose presence picks the group
    identity: list[tuple[str, int]]  # identity columns of the source
    groups: dict[tuple[object, ...], Group | None] = field(default_factory=dict)


class FastPath(FullRender):
    """Contact chunks -> Messages: the merge where it applies, else a full render per contact
    (`FullRender._full`, the reference every merged text is checked against).

    Messages come out group by group; `Messages.order` keeps each contact's place in the lists.
    """

    def __init__(
        self,
        render: Renderer,
        use: FieldUse | None,
        checks: MessageChecks,
        *,
        personalizes: bool,
        optimize: bool,
        options: bytes,
        keep_texts: bool,
        sent: Mapping[str, str] | None,
    ) -> None:
        super().__init__(
            render,
            use,
            checks,
            personalizes=personalizes,
            optimize=optimize,
            options=options,
            keep_texts=keep_texts,
            sent=sent,
        )
        self.layouts: dict[int, Layout] = {}
        self._keyed_on = sorted(use.valued) if use else []
        self._presence = sorted(use.printed | use.tested) if use else []

    def layout(self, source: ContactSource) -> Layout:
        found = self.layouts.get(id(source))
        if found is None:
            index = {name: i for i, name in enumerate(source.names)}
            found = self.layouts[id(source)] = Layout(
                names=source.names,
                index=index,
                valued=[index.get(n, -1) for n in self._keyed_on],
                present=[index.get(n, -1) for n in self._presence],
                identity=[(n, index[n]) for n in IDENTITY if n in index],
            )
        return found

    def add(self, chunk: Chunk) -> None:
        layout = self.layout(chunk.source)
        if self.use is None or len(layout.identity) != 1:
            # No merge (or several identity columns, which travel per recipient): render all.
            self._full_rows(layout.names, chunk, range(len(chunk.keys)))
        else:
            for group_key, rows in self._buckets(layout, chunk).items():
                self._bucket(layout, chunk, group_key, rows)
        self._offset += len(chunk.keys)

    def _buckets(self, layout: Layout, chunk: Chunk) -> dict[tuple[object, ...], list[int]]:
        """The chunk's rows by group: same valued fields, same presence of the others."""
        size = len(chunk.keys)
        columns = chunk.columns
        empty = [""] * size
        valued = [columns[i] if i >= 0 else empty for i in layout.valued]
        # Columns without an empty cell in this chunk are always present: left out of the key,
        # which then names the columns it covers, so chunks with other gaps never collide.
        gaps = tuple(i for i in layout.present if i < 0 or "" in columns[i])
        present = [columns[i] if i >= 0 else empty for i in gaps]
        if not valued and not present:
            return {(gaps,): list(range(size))}
        if not valued and len(present) == 1:  # one optional field: with it, without it
            (column,) = present
            with_it = list(compress(range(size), column))
            without = list(compress(range(size), map(operator.not_, column)))
            split = [((gaps, (True,)), with_it), ((gaps, (False,)), without)]
            return _by_first_row([(key, rows) for key, rows in split if rows])
        keys = list(zip(*valued, *[map(bool, column) for column in present], strict=True))
        distinct = list(set(keys))
        if len(distinct) <= 16:  # a few groups: one C-speed pass each
            return _by_first_row(
                [
                    ((gaps, key), list(compress(range(size), map(key.__eq__, keys))))
                    for key in distinct
                ]
            )
        buckets: dict[tuple[object, ...], list[int]] = {}
        for index, key in enumerate(keys):
            rows = buckets.get((gaps, key))
            if rows is None:
                buckets[gaps, key] = [index]
            else:
                rows.append(index)
        return buckets

    def _bucket(
        self, layout: Layout, chunk: Chunk, group_key: tuple[object, ...], rows: list[int]
    ) -> None:
        """The messages of `rows`, which are of one group."""
        if group_key not in layout.groups:
            group, full = self._compile(layout, chunk, rows[0])
            layout.groups[group_key] = group
            if group is None:  # the first contact's full render is its message
                if full is not None:
                    order = self._offset + rows[0]
                    cost = self.checks.check(full.key, full.text, measure(full.text), order)
                    self._append(full._replace(cost=cost), order)
                rows = rows[1:]
                if not rows:
                    return
        group = layout.groups[group_key]
        if group is None:
            self._full_rows(layout.names, chunk, rows)
            return
        composed = self._compose(chunk, group, rows)
        if composed is None:  # some texts hold a `{`: those contacts are rendered in full
            for row in rows:
                if self._compose(chunk, group, [row]) is None:
                    self._full_rows(layout.names, chunk, [row])
                else:
                    self._bucket(layout, chunk, group_key, [row])
            return
        names, records, texts, request_texts, basic, printed = composed
        keys = list(gather(rows)(chunk.keys))
        orders = [self._offset + row for row in rows]
        if basic:  # one septet per character: parts from lengths alone
            lengths = list(map(len, texts))
            if max(lengths) < len(_PARTS):
                segments = list(map(_PARTS.__getitem__, lengths))
                counts = None
            else:
                counts = list(map(measure, texts))
        else:
            counts = list(map(measure, texts))
        if counts is not None:
            segments = [c.segments for c in counts]
            encodings: list[str] = [c.encoding for c in counts]
            costs = self.checks.check_many(keys, texts, counts, orders)
        else:
            encodings = ["GSM-7"] * len(rows)
            costs = self.checks.check_basic(
                keys,
                texts,
                segments,
                orders,
                stop_known=group.stop,
                empty_fields=lambda: empty_field_possible(group.text_format, printed),
            )
        self.messages.extend(
            Messages(
                keys=keys,
                names=Shared(names),
                records=records,
                texts=texts if self.keep_texts else [],
                request_texts=request_texts,
                segments=array(SEGMENTS, segments),
                encodings=Shared(encodings),
                costs=array(COSTS, costs),
                order=array(ORDER, orders),
                hashes=ids.content_hashes(self.options, texts) if self.sent is None else [],
                sent=bytearray()
                if self.sent is None
                else sent_flags(keys, self.sent, lambda known: self._hashes(texts, known)),
                options=self.options,
                keep_texts=self.keep_texts,
                personalized=self.personalizes,
                optimized=self.optimize,
            ).in_key_order()
        )

    def _hashes(self, texts: Sequence[str], indexes: list[int]) -> list[str]:
        return ids.content_hashes(self.options, gather(indexes)(texts))

    def _compile(
        self, layout: Layout, chunk: Chunk, row: int
    ) -> tuple[Group | None, DesiredMessage | None]:
        """The group of this contact, checked against a full render of it, and that full
        render (None: a render error); a group of None: render the group's contacts in full."""
        assert self.use is not None
        key = chunk.keys[row]
        fields = {n: c for n, c in zip(layout.names, chunk.cells(row), strict=True) if c}
        at = (chunk.source.path, chunk.lines[row])
        shown = f"{key} ({at[0]}:{at[1]})"
        try:
            full = self._full(key, fields, shown, self._offset + row, at, check=False)
        except RenderError as exc:
            self.errors.add(explained(exc, layout.names, chunk))
            return None, None
        with_sentinels, printed = skeleton_fields(fields, self.use)
        try:
            skeleton = make_skeleton(self.render(with_sentinels, shown), printed)
        except RenderError:
            return None, full
        if skeleton is None:
            return None, full
        column = layout.index.__getitem__
        literals: Sequence[str] = skeleton.literals
        if self.optimize:
            last = len(literals) - 1
            literals = [optimize_piece(p, i == 0, i == last) for i, p in enumerate(literals)]
        group = Group(
            text_format=_format(literals),
            raw_format=skeleton.text_format,
            holes=[column(n) for n in skeleton.printed],
            slotted=[column(n) for n in skeleton.slotted],
            inlined=[column(n) for n in skeleton.inlined],
            request_text=skeleton.request_text,
            request_format=skeleton.request_format,
            names=(layout.identity[0][0], *skeleton.slots),
            basic=all(map(_basic, literals)),
            stop=any(map(has_stop_mention, literals)),
        )
        composed = self._compose(chunk, group, [row])
        if composed is None:
            return None, full
        names, records, texts, request_texts, _, _ = composed
        record = chunk.keys[row] + records[0]
        delivered = apply_placeholders(request_texts[0], Recipient.of(names[0], record))
        if self.optimize:
            delivered = auto_optimize(delivered)
        if texts[0] != full.text or delivered != full.text:
            return None, full
        return group, full

    def _compose(self, chunk: Chunk, group: Group, rows: list[int]) -> _Composed | None:
        """(recipient names, recipient records after their keys (Messages.records), texts,
        request texts, one-septet GSM-7 only?, the values printed at each hole) of `rows` by
        the group's skeleton, or None when a text holds a `{` (a placeholder-like value or
        literal that the API would substitute)."""
        take = gather(rows)
        columns = chunk.columns
        holes = {c: take(columns[c]) for c in dict.fromkeys(group.holes)}
        # A contact value is stripped, so it is the same inside a text as alone: see Group.
        shown = {c: auto_optimize_all(v) for c, v in holes.items()} if self.optimize else holes
        # A text holds what its literals and values hold: asked of those, not of the texts.
        joined = {c: " ".join(v) for c, v in shown.items()}
        if "{" in group.text_format or any("{" in v for v in joined.values()):
            return None
        printed = [shown[c] for c in group.holes]
        if group.holes:
            texts = list(map(group.text_format.__mod__, zip(*printed, strict=True)))
        else:
            texts = [group.text_format % ()] * len(rows)
        basic = group.basic and all(map(_basic, joined.values()))  # a space is one septet
        identity = group.names[:1]
        if not self.personalizes:
            return [identity] * len(rows), [""] * len(rows), texts, texts, basic, printed
        slots = [holes[c] for c in group.slotted]
        records = list(map(FIELD.join, zip(repeat("", len(rows)), *slots, strict=True)))
        names = [group.names] * len(rows)
        if group.request_text is not None:
            request_texts = [group.request_text] * len(rows)
        else:
            inlined = zip(*[holes[c] for c in group.inlined], strict=True)
            request_texts = list(map(group.request_format.__mod__, inlined))
        if any(max(map(len, column)) > MAX_VALUE_LENGTH for column in slots):
            # The API refuses longer values: those contacts get their whole text inline.
            raw = [holes[c] for c in group.holes]
            for i in range(len(rows)):
                if any(len(column[i]) > MAX_VALUE_LENGTH for column in slots):
                    names[i], records[i] = identity, ""
                    request_texts[i] = group.raw_format % tuple(column[i] for column in raw)
        return names, records, texts, request_texts, basic, printed


_Composed = tuple[list[tuple[str, ...]], list[str], list[str], list[str], bool, list[Sequence[str]]]


def _by_first_row(
    groups: list[tuple[tuple[object, ...], list[int]]],
) -> dict[tuple[object, ...], list[int]]:
    """Groups in the order of their first contact, so that what a group reports first (an
    error, an example) is what reading the contacts one by one would report first."""
    return dict(sorted(groups, key=lambda group: group[1][0]))


def _format(literals: Sequence[str]) -> str:
    return "%s".join(literal.replace("%", "%%") for literal in literals)
