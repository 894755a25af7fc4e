"""A loaded campaign to the exact messages it wants sent: contacts x template -> final texts.

For each contact: render the Jinja template, then do what the API will do to the text
(`{first_name}`-style personalization on the SMS endpoint, `auto_optimize_text` unless it is
false), count the SMS parts and price the message. The text kept is the one the recipient
will see.

Batching: `sms-campaign/send` personalizes server-side, so one request can carry 500 texts if
they differ only in `{first_name}`/`{paramN}` slots. When a contact has such fields, the template
is rendered a second time with each of them replaced by its slot; if personalizing that text
gives exactly the final text, it becomes the message's `request_text` (shared by every contact
with the same shape), otherwise the final text itself is sent. Either way
`apply_placeholders(request_text, fields)` is the delivered text.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from octoplan import ids, prices, shards
from octoplan.contactfiles import ContactSource, CsvSource, ItemsSource, open_source
from octoplan.contacts import (
    Chunk,
    ContactSet,
    Deduper,
    capped,
    excluded_keys,
    identified,
    kept,
    skipped,
    stream_chunks,
)
from octoplan.errors import Diagnostic, ValidationFailed
from octoplan.gcpause import paused_gc
from octoplan.loader import Project
from octoplan.merge import FieldUse, field_use, make_skeleton, skeleton_fields
from octoplan.messages import (
    FIELD,
    DesiredMessage,
    Messages,
    Packed,
    Recipient,
    gather,
    sent_flags,
)
from octoplan.payload import options_of, shape
from octoplan.placeholders import (
    MAX_VALUE_LENGTH,
    PLACEHOLDER_FIELDS,
    apply_placeholders,
    has_placeholders,
    placeholders_in,
)
from octoplan.policies import MessageChecks, check_send_at, empty_field_possible
from octoplan.render import Origin, Renderer, RenderError, compile_template, make_environment
from octoplan.rules import has_stop_mention
from octoplan.sms import (
    _ASCII_NOT_BASIC,
    GSM7_BASIC,
    GSM7_PART,
    GSM7_SINGLE,
    auto_optimize,
    auto_optimize_all,
    measure,
    optimize_piece,
)
from octoplan.source import CampaignSource

TEMPLATES_DIR = "templates"
_IDENTITY = ("phone_number", "email", "conversation_id")
_SLOTS = {name: "{" + name + "}" for name in PLACEHOLDER_FIELDS}
# Stands for a value's `{` while the template's own slots are found (_template_slots_filled):
# a control character, which contact values never hold (octoplan.contacts refuses them).
_GUARD = "\x1a"


@dataclass
class DesiredCampaign:
    source: CampaignSource
    columns: Messages = field(default_factory=Messages)
    duplicates: int = 0
    excluded: int = 0
    cost: float = 0.0
    warnings: list[Diagnostic] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)
    regions: frozenset[str | None] = frozenset()  # destination regions of the messages

    @property
    def messages(self) -> list[DesiredMessage]:
        """The messages one by one, in the contacts' order (for previews and tests; plans
        read `columns`)."""
        columns = self.columns
        return [
            columns.message(i) for i in sorted(range(len(columns)), key=columns.order.__getitem__)
        ]


def _inline_source(source: CampaignSource) -> ItemsSource:
    items: list[tuple[object, int, Mapping[str, int]]] = []
    for index, recipient in enumerate(source.campaign.recipients):
        fields = recipient.fields()
        line = source.where("recipients", index)[1] or 1
        cols = {name: source.where("recipients", index, name)[2] or 1 for name in fields}
        items.append((fields, line, cols))
    return ItemsSource(source.where("recipients")[0], items)


def _sources(project: Project, source: CampaignSource, names: list[str]) -> list[ContactSource]:
    return [open_source(project.root / name, name) for name in names]


def excluded_by_lists(project: Project, source: CampaignSource) -> set[str]:
    """The identities the campaign's `exclude` lists hold (read again: `send-test` checks its
    addresses against them)."""
    campaign = source.campaign
    contacts = ContactSet([])
    keys = excluded_keys(
        _sources(project, source, campaign.exclude),
        campaign.channel,
        project.config.region,
        contacts,
    )
    if contacts.errors:
        raise ValidationFailed(contacts.errors)
    return keys


def _text_origin(project: Project, source: CampaignSource) -> tuple[Origin, str]:
    """Where the template's line 1 is, and the template's own text (for policy messages)."""
    templates = project.root / TEMPLATES_DIR
    campaign = source.campaign
    if campaign.template is not None:
        path, line, _ = source.where("template")
        # (A file that is not UTF-8 is reported by the template loader, at its position.)
        text = (templates / campaign.template).read_text(encoding="utf-8", errors="replace")
        return Origin(path, line or 1, templates), text
    path, line, col = source.where("text")
    first = line or 1
    if line is not None and col is not None:
        # A block scalar (`text: |`) starts on the line after its indicator.
        written = (project.root / path).read_text(encoding="utf-8").splitlines()
        if line <= len(written) and written[line - 1][col - 1 : col] in ("|", ">"):
            first += 1
    return Origin(path, first, templates), campaign.text or ""


def _context(project: Project, source: CampaignSource) -> tuple[dict[str, Any], dict[str, Any]]:
    campaign = source.campaign
    variables = {**project.config.vars, **campaign.vars}
    info = {
        "id": campaign.id,
        "channel": campaign.channel,
        "send_at": campaign.send_at.isoformat() if campaign.send_at else None,
        "sender": campaign.sender,
        "purpose": campaign.purpose or "wholesale",
    }
    return variables, info


class _RenderErrors:
    """One diagnostic per distinct problem, saying how many recipients it hits."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, int | None, str], Diagnostic] = {}
        self.count: dict[tuple[str, int | None, str], int] = {}

    def add(self, diagnostic: Diagnostic) -> None:
        key = (diagnostic.path, diagnostic.line, diagnostic.message.split(": ", 1)[-1])
        self.first.setdefault(key, diagnostic)
        self.count[key] = self.count.get(key, 0) + 1

    def absorb(self, other: _RenderErrors) -> None:
        """Add what `other` saw after what this one saw."""
        for key, diagnostic in other.first.items():
            self.first.setdefault(key, diagnostic)
            self.count[key] = self.count.get(key, 0) + other.count[key]

    def diagnostics(self) -> list[Diagnostic]:
        out = []
        for key, diagnostic in self.first.items():
            others = self.count[key] - 1
            if others:
                more = f" (and {others:,} other recipient{'s' if others > 1 else ''})"
                diagnostic = Diagnostic(
                    diagnostic.path,
                    diagnostic.line,
                    diagnostic.col,
                    diagnostic.message + more,
                    diagnostic.hint,
                )
            out.append(diagnostic)
        return out


_ALL_PRESENT = ()


def _basic(text: str) -> bool:
    """Only one-septet GSM-7 characters (no escape, no UCS-2)?"""
    if text.isascii():
        return _ASCII_NOT_BASIC.search(text) is None
    return set(text) <= GSM7_BASIC


# SMS parts of a GSM-7 text of n one-septet characters, for every length the API accepts.
_PARTS = [0, *(1 if n <= GSM7_SINGLE else -(-n // GSM7_PART) for n in range(1, 2000))]


@dataclass
class _Group:
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
class _Layout:
    """A source's columns as the merge reads them."""

    names: list[str]
    index: dict[str, int]
    valued: list[int]  # columns whose values pick the group (-1: absent from this source)
    present: list[int]  # columns whose presence picks the group
    identity: list[tuple[str, int]]  # identity columns of the source
    groups: dict[tuple[object, ...], _Group | None] = field(default_factory=dict)


class _Builder:
    """Contact chunks -> Messages: the merge where it applies, else a full render per contact
    (`_full`, the reference every merged text is checked against).

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
        self.render = render
        self.options = options
        self.keep_texts = keep_texts
        # The recipients state has sent (key -> content hash): each message's standing is
        # found here, a chunk at a time, on every core (Messages.sent). None: the state is not
        # known yet, and every text's content hash is kept for the planner to compare.
        self.sent = sent
        self.use = use
        self.checks = checks
        self.personalizes = personalizes
        self.optimize = optimize
        self.messages = self._new_messages()
        self.errors = _RenderErrors()
        self.layouts: dict[int, _Layout] = {}
        self._keyed_on = sorted(use.valued) if use else []
        self._presence = sorted(use.printed | use.tested) if use else []
        self._offset = 0  # order of the current chunk's first contact

    def _new_messages(self) -> Messages:
        return Messages(
            keep_texts=self.keep_texts,
            personalized=self.personalizes,
            optimized=self.optimize,
            options=self.options,
        )

    def _append(self, message: DesiredMessage, order: int) -> None:
        if self.sent is None:
            content_hash = ids.content_hash(self.options, message.text)
            self.messages.append(message, order, content_hash, None)
            return
        # Hashed only if state has sent this recipient (sent_flags asks only then).
        flags = sent_flags(
            [message.key], self.sent, lambda _: [ids.content_hash(self.options, message.text)]
        )
        self.messages.append(message, order, None, flags[0])

    def take(self) -> Packed:
        """The messages built so far, packed to go to another process (see octoplan/shards.py),
        and forgotten here."""
        packed = self.messages.pack()
        self.messages = self._new_messages()
        return packed

    def open(self, packed: Packed) -> Messages:
        return Messages.unpack(packed)

    def result(self) -> tuple[MessageChecks, _RenderErrors, int]:
        """What a shard saw besides its messages, for `absorb`."""
        return self.checks, self.errors, self._offset

    def absorb(
        self, parts: list[Messages], result: tuple[MessageChecks, _RenderErrors, int]
    ) -> None:
        """Append what another builder built from the contacts after this one's."""
        checks, errors, rows = result
        offset = self._offset
        for messages in parts:
            messages.order = [offset + order for order in messages.order]
            self.messages.extend(messages)
        self.checks.absorb(checks, offset)
        self.errors.absorb(errors)
        self._offset += rows

    # --- one contact, in full ------------------------------------------------------------

    def _full(
        self,
        key: str,
        fields: dict[str, str],
        shown: str,
        order: int,
        at: tuple[str, int],
        *,
        check: bool = True,
    ) -> DesiredMessage:
        """Render one contact in full (raises RenderError); `at`: the contact's file and line;
        `check`: count it in the policy checks (not when it only serves to check a merge)."""
        rendered = self.render(fields, shown)
        api_fields = {k: fields[k] for k in _IDENTITY if k in fields}
        request_text = text = rendered
        if self.personalizes:
            personal = {
                k: fields[k]
                for k in PLACEHOLDER_FIELDS
                if k in fields and len(fields[k]) <= MAX_VALUE_LENGTH
            }
            api_fields.update(personal)
            if has_placeholders(rendered) and any("{" in value for value in fields.values()):
                text = self._template_slots_filled(fields, personal, rendered, shown, at)
            else:
                text = apply_placeholders(rendered, personal)
            if personal:
                request_text = _slotted(self.render, fields, personal, text, shown) or text
            elif text != rendered:
                request_text = text
            if apply_placeholders(request_text, api_fields) != text:
                # The text itself holds `{param1}`-like strings (from the data): the API would
                # substitute them again. Each is sent as its own value, delivered as written.
                request_text = text
                api_fields = {k: fields[k] for k in _IDENTITY if k in fields}
                api_fields.update((name, "{" + name + "}") for name in placeholders_in(text))
        if self.optimize:
            text = auto_optimize(text)
        sms = measure(text)
        cost = self.checks.check(key, text, sms, order) if check else 0.0
        return DesiredMessage(key, api_fields, text, request_text, sms.segments, sms.encoding, cost)

    def _template_slots_filled(
        self,
        fields: dict[str, str],
        personal: dict[str, str],
        rendered: str,
        shown: str,
        at: tuple[str, int],
    ) -> str:
        """The text delivered when contact values hold braces: the slots the template itself
        writes (`Bonjour {first_name}`) are the API's to fill, while a `{param1}` that comes
        from a value is data, delivered as written, and never pulls another field (a one-time
        code...) into the text.

        The template is rendered again with each `{` of the values turned into a character no
        value or template holds; what is left a slot is the template's. Should a filter or a
        test treat that character otherwise than a brace (the two renders differ once it is
        put back), the contact is refused at its line rather than guessed.
        """
        guarded = {name: value.replace("{", _GUARD) for name, value in fields.items()}
        marked = self.render(guarded, shown)
        if marked.replace(_GUARD, "{") != rendered:
            braced = [f"contact.{name}" for name, value in fields.items() if "{" in value]
            raise RenderError(
                Diagnostic(
                    at[0],
                    at[1],
                    None,
                    f"campaign {self.checks.campaign_id}, recipient {shown}: "
                    f"{' and '.join(braced)} {'holds' if len(braced) == 1 else 'hold'} a "
                    "'{', which the API reads as the start of a placeholder, and the template "
                    "changes it before printing it: octoplan cannot deliver it as written",
                    "print the field as it is ({{ contact.first_name }}), "
                    "or remove the braces from the contact value",
                )
            )
        return apply_placeholders(marked, personal).replace(_GUARD, "{")

    def _full_rows(self, layout: _Layout, chunk: Chunk, rows: Iterable[int]) -> None:
        for index in rows:
            key = chunk.keys[index]
            cells = chunk.cells(index)
            fields = {name: cell for name, cell in zip(layout.names, cells, strict=True) if cell}
            try:
                at = (chunk.source.path, chunk.lines[index])
                shown = f"{key} ({at[0]}:{at[1]})"
                message = self._full(key, fields, shown, self._offset + index, at)
            except RenderError as exc:
                self.errors.add(_explained(exc, layout, chunk))
                continue
            self._append(message, self._offset + index)

    # --- chunks --------------------------------------------------------------------------

    def layout(self, source: ContactSource) -> _Layout:
        found = self.layouts.get(id(source))
        if found is None:
            index = {name: i for i, name in enumerate(source.names)}
            found = self.layouts[id(source)] = _Layout(
                names=source.names,
                index=index,
                valued=[index.get(n, -1) for n in self._keyed_on],
                present=[index.get(n, -1) for n in self._presence],
                identity=[(n, index[n]) for n in _IDENTITY if n in index],
            )
        return found

    def add(self, chunk: Chunk) -> None:
        layout = self.layout(chunk.source)
        if self.use is None or len(layout.identity) != 1:
            # No merge (or several identity columns, which travel per recipient): render all.
            self._full_rows(layout, chunk, range(len(chunk.keys)))
        else:
            for group_key, rows in self._buckets(layout, chunk).items():
                self._bucket(layout, chunk, group_key, rows)
        self._offset += len(chunk.keys)

    def _buckets(self, layout: _Layout, chunk: Chunk) -> dict[tuple[object, ...], list[int]]:
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
        self, layout: _Layout, chunk: Chunk, group_key: tuple[object, ...], rows: list[int]
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
            self._full_rows(layout, chunk, rows)
            return
        composed = self._compose(chunk, group, rows)
        if composed is None:  # some texts hold a `{`: those contacts are rendered in full
            for row in rows:
                if self._compose(chunk, group, [row]) is None:
                    self._full_rows(layout, chunk, [row])
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
                names=names,
                records=records,
                texts=texts if self.keep_texts else [],
                request_texts=request_texts,
                segments=segments,
                encodings=encodings,
                costs=costs,
                order=orders,
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
        self, layout: _Layout, chunk: Chunk, row: int
    ) -> tuple[_Group | None, DesiredMessage | None]:
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
            self.errors.add(_explained(exc, layout, chunk))
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
        group = _Group(
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
        delivered = apply_placeholders(request_texts[0], Recipient.of(names[0], records[0]))
        if self.optimize:
            delivered = auto_optimize(delivered)
        if texts[0] != full.text or delivered != full.text:
            return None, full
        return group, full

    def _compose(self, chunk: Chunk, group: _Group, rows: list[int]) -> _Composed | None:
        """(recipient names, recipient records, texts, request texts, one-septet GSM-7 only?,
        the values printed at each hole) of `rows` by the group's skeleton, or None when a text
        holds a `{` (a placeholder-like value or literal that the API would substitute)."""
        take = gather(rows)
        columns = chunk.columns
        keys = take(chunk.keys)
        holes = {c: take(columns[c]) for c in dict.fromkeys(group.holes)}
        # A contact value is stripped, so it is the same inside a text as alone: see _Group.
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
            return [identity] * len(rows), list(keys), texts, texts, basic, printed
        slots = [holes[c] for c in group.slotted]
        records = list(map(FIELD.join, zip(keys, *slots, strict=True)))
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
                    names[i], records[i] = identity, keys[i]
                    request_texts[i] = group.raw_format % tuple(column[i] for column in raw)
        return names, records, texts, request_texts, basic, printed


def _explained(exc: RenderError, layout: _Layout, chunk: Chunk) -> Diagnostic:
    """An undefined contact field said with the columns of the contact's list in hand."""
    from octoplan.undefined import explain  # render errors only

    return explain(exc, layout.names, chunk.source.path, isinstance(chunk.source, CsvSource))


_Composed = tuple[list[tuple[str, ...]], list[str], list[str], list[str], bool, list[Sequence[str]]]


def _by_first_row(
    groups: list[tuple[tuple[object, ...], list[int]]],
) -> dict[tuple[object, ...], list[int]]:
    """Groups in the order of their first contact, so that what a group reports first (an
    error, an example) is what reading the contacts one by one would report first."""
    return dict(sorted(groups, key=lambda group: group[1][0]))


def _format(literals: Sequence[str]) -> str:
    return "%s".join(literal.replace("%", "%%") for literal in literals)


def build_campaign(
    project: Project,
    source: CampaignSource,
    *,
    keep_texts: bool = True,
    sent: Mapping[str, str] | None = None,
    seed: str | None = None,
) -> DesiredCampaign:
    """The campaign's messages; a plan asks for no texts (see Messages.text) and gives the
    recipients state has sent (key -> content hash), to be compared while building
    (Messages.sent); without them, every text's content hash is kept (Messages.hashes).
    `seed`: the contact file of a rollout's seed stage, whose messages are built instead of
    the audience's."""
    campaign = source.campaign
    config = project.config
    result = DesiredCampaign(source)
    contacts = ContactSet([])
    if seed is not None:
        sources = _sources(project, source, [seed])
    else:
        sources = [_inline_source(source), *_sources(project, source, campaign.contacts)]
    exclude = _sources(project, source, campaign.exclude)

    templates = project.root / TEMPLATES_DIR
    env = project.template_environments.get(templates)
    if env is None:
        env = project.template_environments[templates] = make_environment(templates)
    origin, template_text = _text_origin(project, source)
    try:
        template = compile_template(env, origin, text=campaign.text, name=campaign.template)
    except RenderError as exc:
        for _ in stream_chunks(sources, exclude, campaign.channel, config.region, contacts):
            pass  # still read every contact, to report the lists' own errors
        result.duplicates, result.excluded = contacts.duplicates, contacts.excluded
        result.errors.extend([*contacts.errors, exc.diagnostic])
        return result
    variables, info = _context(project, source)
    render = Renderer(template, origin, campaign.id, variables, info)

    request = shape(campaign)
    text_where = source.where("template" if campaign.template is not None else "text")

    def new_checks() -> MessageChecks:
        return MessageChecks(
            campaign_id=campaign.id,
            channel=campaign.channel,
            marketing=campaign.marketing,
            text_where=text_where,
            template_source=template_text,
            template_first_line=origin.first_line if campaign.template is None else 1,
            template_path=origin.path
            if campaign.template is None
            else f"templates/{campaign.template}",
            max_segments=config.policies.max_segments,
            pricing=config.pricing,
            product=prices.product(campaign.channel, campaign.option("type")),
        )

    def make_builder() -> _Builder:
        return _Builder(
            render,
            use,
            new_checks(),
            personalizes=request.personalizes,
            optimize=campaign.channel == "sms" and campaign.auto_optimize_text is not False,
            options=ids.options_digest(options_of(request)),
            keep_texts=keep_texts,
            sent=sent,
        )

    use = field_use(env, template_text)
    builder = make_builder()
    checks = builder.checks
    deduper = Deduper(excluded_keys(exclude, campaign.channel, config.region, contacts), contacts)
    with paused_gc():
        _build_all(
            sources,
            deduper,
            builder,
            make_builder,
            campaign.channel,
            config.region,
            contacts,
            skip=f"campaign {campaign.id}" if campaign.on_invalid == "skip" else None,
        )
    messages = result.columns = builder.messages
    result.duplicates, result.excluded = contacts.duplicates, contacts.excluded
    result.errors.extend(contacts.errors)
    result.warnings.extend(contacts.warnings)
    result.errors.extend(builder.errors.diagnostics())
    result.cost = checks.cost
    result.regions = frozenset(checks.regions)
    diagnostics = checks.report() if messages else []
    marketing_send = campaign.marketing and campaign.channel in ("sms", "voice_sms", "rcs")
    if marketing_send and campaign.send_at is not None:
        late = check_send_at(
            campaign.send_at, config.policies.marketing_hours, source.where("send_at"), campaign.id
        )
        if late is not None:
            diagnostics.append(late)
    result.errors.extend(d for d in diagnostics if d.severity == "error")
    result.warnings.extend(d for d in diagnostics if d.severity == "warning")
    return result


def _build_all(
    sources: list[ContactSource],
    deduper: Deduper,
    builder: _Builder,
    make_builder: Callable[[], _Builder],
    channel: str,
    region: str,
    contacts: ContactSet,
    *,
    skip: str | None = None,  # `on_invalid: skip`: who skips (the campaign), for the warning
) -> None:
    for contact_source in sources:
        parts = shards.split(contact_source)
        if parts is not None and isinstance(contact_source, CsvSource):
            shards.build(contact_source, parts, deduper, builder, make_builder, channel, region)
        else:
            for keys, columns, lines in identified(contact_source, channel, region):
                chunk = kept(contact_source, keys, columns, lines, deduper.keep(keys))
                if chunk is not None:
                    builder.add(chunk)
        errors = contact_source.errors
        if skip is not None:
            errors, warning = skipped(errors, skip)
            if warning is not None:
                contacts.warnings.append(warning)
        contacts.errors.extend(capped(errors))


def _slotted(
    render: Renderer, fields: Mapping[str, str], personal: dict[str, str], text: str, shown: str
) -> str | None:
    """The template rendered with personal fields as API slots, if the API would then deliver
    exactly `text`; None otherwise."""
    slotted = {**fields, **{k: _SLOTS[k] for k in personal}}
    try:
        candidate = render(slotted, shown)
    except RenderError:
        return None
    return candidate if apply_placeholders(candidate, personal) == text else None


__all__ = ["DesiredCampaign", "DesiredMessage", "build_all", "build_campaign"]


def build_all(project: Project) -> list[DesiredCampaign]:
    """Every campaign's messages, and those of its rollout's seed list (validate renders them
    all)."""
    built = []
    for source in project.campaigns:
        built.append(build_campaign(project, source))
        seed = next((s.seed for s in source.campaign.rollout or () if s.seed is not None), None)
        if seed is not None:
            built.append(build_campaign(project, source, seed=seed))
    return built
