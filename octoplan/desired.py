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

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from octoplan.contacts import (
    Chunk,
    ContactSet,
    ContactSource,
    ItemsSource,
    identity_field,
    open_source,
    stream_chunks,
)
from octoplan.errors import Diagnostic
from octoplan.loader import Project
from octoplan.merge import FieldUse, field_use, make_skeleton, skeleton_fields
from octoplan.messages import DesiredMessage, Messages, Recipient
from octoplan.payload import shape
from octoplan.placeholders import MAX_VALUE_LENGTH, PLACEHOLDER_FIELDS, apply_placeholders
from octoplan.policies import MessageChecks, check_send_at
from octoplan.render import Origin, Renderer, RenderError, compile_template, make_environment
from octoplan.sms import (
    _ASCII_NOT_BASIC,
    GSM7_PART,
    GSM7_SINGLE,
    SmsCount,
    auto_optimize,
    measure,
    optimize_piece,
)
from octoplan.source import CampaignSource

TEMPLATES_DIR = "templates"
_IDENTITY = ("phone_number", "email", "conversation_id")
_SLOTS = {name: "{" + name + "}" for name in PLACEHOLDER_FIELDS}


@dataclass
class DesiredCampaign:
    source: CampaignSource
    columns: Messages = field(default_factory=Messages)
    duplicates: int = 0
    excluded: int = 0
    cost: float = 0.0
    warnings: list[Diagnostic] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)

    @property
    def messages(self) -> list[DesiredMessage]:
        """The messages one by one (for previews and tests; plans read `columns`)."""
        return list(self.columns)


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


def _text_origin(project: Project, source: CampaignSource) -> tuple[Origin, str]:
    """Where the template's line 1 is, and the template's own text (for policy messages)."""
    templates = project.root / TEMPLATES_DIR
    campaign = source.campaign
    if campaign.template is not None:
        path, line, _ = source.where("template")
        text = (templates / campaign.template).read_text(encoding="utf-8")
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


_environments: dict[Path, Any] = {}
_ALL_PRESENT = ()


def _take(indexes: Sequence[int]) -> Callable[[Sequence[str]], Sequence[str]]:
    """column -> its values at `indexes`, in that order (a gather at C speed)."""
    if len(indexes) == 1:
        (only,) = indexes
        return lambda column: (column[only],)
    return itemgetter(*indexes)


def _scatter(into: list[Any], indexes: Sequence[int], values: Iterable[Any]) -> None:
    deque(map(into.__setitem__, indexes, values), maxlen=0)


def _optimized_column(values: Sequence[str], cache: dict[str, str]) -> Sequence[str]:
    """`auto_optimize` of each value (a contact value is stripped, so it is the same inside
    a text as alone: see _Group)."""
    joined = "".join(values)
    if joined.isascii() and "  " not in joined:
        return values
    out = []
    for value in values:
        optimized = cache.get(value)
        if optimized is None:
            optimized = cache[value] = auto_optimize(value)
        out.append(optimized)
    return out


def _counts(texts: Sequence[str]) -> list[SmsCount]:
    """`measure` of each text, ASCII GSM-7 texts counted together."""
    ascii_texts = list(map(str.isascii, texts))
    if all(ascii_texts) and not _ASCII_NOT_BASIC.search("".join(texts)):
        return [
            SmsCount("GSM-7", n, 0 if n == 0 else 1 if n <= GSM7_SINGLE else -(-n // GSM7_PART), n)
            for n in map(len, texts)
        ]
    return list(map(measure, texts))


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
    (`_full`, the reference every merged text is checked against)."""

    def __init__(
        self,
        render: Renderer,
        use: FieldUse | None,
        checks: MessageChecks,
        *,
        personalizes: bool,
        optimize: bool,
        identity: str,
    ) -> None:
        self.render = render
        self.use = use
        self.checks = checks
        self.personalizes = personalizes
        self.optimize = optimize
        self.identity = identity
        self.messages = Messages()
        self.errors = _RenderErrors()
        self.layouts: dict[int, _Layout] = {}
        self._keyed_on = sorted(use.valued) if use else []
        self._presence = sorted(use.printed | use.tested) if use else []
        self._optimized: dict[str, str] = {}

    # --- one contact, in full ------------------------------------------------------------

    def _full(self, key: str, fields: dict[str, str], shown: str) -> DesiredMessage:
        """Render one contact in full (raises RenderError)."""
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
            text = apply_placeholders(rendered, personal)
            if personal:
                request_text = _slotted(self.render, fields, personal, text, shown) or text
            elif text != rendered:
                request_text = text
        if self.optimize:
            text = auto_optimize(text)
        sms = measure(text)
        cost = self.checks.check(key, text, sms)
        return DesiredMessage(key, api_fields, text, request_text, sms.segments, sms.encoding, cost)

    def _full_row(self, layout: _Layout, chunk: Chunk, index: int) -> DesiredMessage | None:
        key = chunk.keys[index]
        cells = chunk.cells(index)
        fields = {name: cell for name, cell in zip(layout.names, cells, strict=True) if cell}
        try:
            return self._full(key, fields, f"{key} ({chunk.source.path}:{chunk.lines[index]})")
        except RenderError as exc:
            self.errors.add(exc.diagnostic)
            return None

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
        size = len(chunk.keys)
        if self.use is None or len(layout.identity) != 1:
            # No merge (or several identity columns, which travel per recipient): render all.
            for index in range(size):
                message = self._full_row(layout, chunk, index)
                if message is not None:
                    self.messages.append(message)
            return
        buckets = self._buckets(layout, chunk)
        if len(buckets) == 1:
            ((group_key, rows),) = buckets.items()
            self.messages.extend(_present(self._bucket(layout, chunk, group_key, rows)))
            return
        # Several groups: compute each, then put the messages back in the contacts' order.
        ordered = _blank(size)
        for group_key, rows in buckets.items():
            _scatter_messages(ordered, rows, self._bucket(layout, chunk, group_key, rows))
        self.messages.extend(_present(ordered))

    def _buckets(self, layout: _Layout, chunk: Chunk) -> dict[tuple[object, ...], list[int]]:
        size = len(chunk.keys)
        columns = chunk.columns
        empty = [""] * size
        valued = [columns[i] if i >= 0 else empty for i in layout.valued]
        present = [columns[i] if i >= 0 else empty for i in layout.present]
        everyone = not any("" in column for column in present)
        if not valued and everyone:
            return {((), _ALL_PRESENT): list(range(size))}
        values = list(zip(*valued, strict=True)) if valued else [()] * size
        if everyone:
            keys: list[tuple[object, ...]] = [(v, _ALL_PRESENT) for v in values]
        else:
            presence = zip(*[[cell != "" for cell in column] for column in present], strict=True)
            keys = list(zip(values, presence, strict=True))
        buckets: dict[tuple[object, ...], list[int]] = {}
        for index, key in enumerate(keys):
            rows = buckets.get(key)
            if rows is None:
                buckets[key] = [index]
            else:
                rows.append(index)
        return buckets

    def _bucket(
        self, layout: _Layout, chunk: Chunk, group_key: tuple[object, ...], rows: list[int]
    ) -> Messages:
        """Messages of `rows` (one group), aligned with them; a key of None: no message."""
        out = _blank(len(rows))
        start = 0
        if group_key not in layout.groups:
            group, first = self._compile(layout, chunk, rows[0])
            layout.groups[group_key] = group
            if first is not None:
                _set_message(out, 0, first)
            start = 1
        group = layout.groups[group_key]
        rest = rows[start:]
        if not rest:
            return out
        if group is None:
            done = _blank(len(rest))
            for position, row in enumerate(rest):
                message = self._full_row(layout, chunk, row)
                if message is not None:
                    _set_message(done, position, message)
        else:
            done = self._merged(layout, chunk, group, rest)
        if start == 0:
            return done
        _scatter_messages(out, range(start, len(rows)), done)
        return out

    def _compile(
        self, layout: _Layout, chunk: Chunk, row: int
    ) -> tuple[_Group | None, DesiredMessage | None]:
        """The group of this contact, checked against a full render of it (whose message is
        the contact's own); a group of None: render the group's contacts in full."""
        assert self.use is not None
        key = chunk.keys[row]
        fields = {n: c for n, c in zip(layout.names, chunk.cells(row), strict=True) if c}
        shown = f"{key} ({chunk.source.path}:{chunk.lines[row]})"
        try:
            full = self._full(key, fields, shown)
        except RenderError as exc:
            self.errors.add(exc.diagnostic)
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
        )
        composed = self._compose(chunk, group, [row])
        if composed is None:
            return None, full
        names, values, texts, request_texts = composed
        delivered = apply_placeholders(request_texts[0], Recipient(names[0], values[0]))
        if self.optimize:
            delivered = auto_optimize(delivered)
        if texts[0] != full.text or delivered != full.text:
            return None, full
        return group, full

    def _compose(
        self, chunk: Chunk, group: _Group, rows: list[int]
    ) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]], list[str], list[str]] | None:
        """(recipient names, recipient values, texts, request texts) of `rows` by the group's
        skeleton, or None when a text holds a `{` (a placeholder-like value or literal that
        the API would substitute: those contacts are rendered in full)."""
        take = _take(rows)
        columns = chunk.columns
        keys = take(chunk.keys)
        holes = {c: take(columns[c]) for c in dict.fromkeys(group.holes)}
        if self.optimize:
            shown = {c: _optimized_column(v, self._optimized) for c, v in holes.items()}
        else:
            shown = holes
        if group.holes:
            texts = list(
                map(group.text_format.__mod__, zip(*[shown[c] for c in group.holes], strict=True))
            )
        else:
            texts = [group.text_format % ()] * len(rows)
        if "{" in "".join(texts):
            return None
        identity = group.names[:1]
        if not self.personalizes:
            return [identity] * len(rows), list(zip(keys)), texts, texts
        slots = [holes[c] for c in group.slotted]
        values = list(zip(keys, *slots, strict=True))
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
                    names[i], values[i] = identity, (keys[i],)
                    request_texts[i] = group.raw_format % tuple(column[i] for column in raw)
        return names, values, texts, request_texts

    def _merged(self, layout: _Layout, chunk: Chunk, group: _Group, rows: list[int]) -> Messages:
        composed = self._compose(chunk, group, rows)
        if composed is None:
            return self._merged_except_braces(layout, chunk, group, rows)
        names, values, texts, request_texts = composed
        keys = list(_take(rows)(chunk.keys))
        counts = _counts(texts)
        costs = self.checks.check_many(keys, texts, counts)
        return Messages(
            keys=keys,
            names=names,
            values=values,
            texts=texts,
            request_texts=request_texts,
            segments=[c.segments for c in counts],
            encodings=[c.encoding for c in counts],
            costs=costs,
        )

    def _merged_except_braces(
        self, layout: _Layout, chunk: Chunk, group: _Group, rows: list[int]
    ) -> Messages:
        """Rows whose text holds a `{` are rendered in full, the others merged."""
        composed_one = [self._compose(chunk, group, [row]) for row in rows]
        good = [i for i, c in enumerate(composed_one) if c is not None]
        out = _blank(len(rows))
        if good:
            _scatter_messages(
                out, good, self._merged(layout, chunk, group, [rows[i] for i in good])
            )
        for i, composed in enumerate(composed_one):
            if composed is None:
                message = self._full_row(layout, chunk, rows[i])
                if message is not None:
                    _set_message(out, i, message)
        return out


_COLUMNS = ("keys", "names", "values", "texts", "request_texts", "segments", "encodings", "costs")


def _blank(size: int) -> Messages:
    """Messages of `size` rows still to fill (a key of None: no message)."""
    columns: list[list[Any]] = [[None] * size for _ in _COLUMNS]
    return Messages(*columns)


def _set_message(into: Messages, index: int, message: DesiredMessage) -> None:
    one = Messages()
    one.append(message)
    for name in _COLUMNS:
        getattr(into, name)[index] = getattr(one, name)[0]


def _scatter_messages(into: Messages, positions: Sequence[int], messages: Messages) -> None:
    for name in _COLUMNS:
        _scatter(getattr(into, name), positions, getattr(messages, name))


def _present(messages: Messages) -> Messages:
    """Without the rows that got no message (a render error)."""
    if None not in messages.keys:
        return messages
    keep = [i for i, key in enumerate(messages.keys) if key is not None]
    take = _take(keep) if keep else (lambda column: ())
    columns: list[list[Any]] = [list(take(getattr(messages, name))) for name in _COLUMNS]
    return Messages(*columns)


def _format(literals: Sequence[str]) -> str:
    return "%s".join(literal.replace("%", "%%") for literal in literals)


def build_campaign(project: Project, source: CampaignSource) -> DesiredCampaign:
    campaign = source.campaign
    config = project.config
    result = DesiredCampaign(source)
    contacts = ContactSet([])
    chunks = stream_chunks(
        [_inline_source(source), *_sources(project, source, campaign.contacts)],
        _sources(project, source, campaign.exclude),
        campaign.channel,
        config.region,
        contacts,
    )

    templates = project.root / TEMPLATES_DIR
    env = _environments.get(templates)
    if env is None:
        env = _environments[templates] = make_environment(templates)
    origin, template_text = _text_origin(project, source)
    try:
        template = compile_template(env, origin, text=campaign.text, name=campaign.template)
    except RenderError as exc:
        for _ in chunks:  # still read every contact, to report the lists' own errors
            pass
        result.duplicates, result.excluded = contacts.duplicates, contacts.excluded
        result.errors.extend([*contacts.errors, exc.diagnostic])
        return result
    variables, info = _context(project, source)
    render = Renderer(template, origin, campaign.id, variables, info)

    request = shape(campaign)
    text_where = source.where("template" if campaign.template is not None else "text")
    checks = MessageChecks(
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
    )
    builder = _Builder(
        render,
        field_use(env, template_text),
        checks,
        personalizes=request.personalizes,
        optimize=campaign.channel == "sms" and campaign.auto_optimize_text is not False,
        identity=identity_field(campaign.channel),
    )
    for chunk in chunks:
        builder.add(chunk)
    messages = result.columns = builder.messages
    result.duplicates, result.excluded = contacts.duplicates, contacts.excluded
    result.errors.extend(contacts.errors)
    result.errors.extend(builder.errors.diagnostics())
    result.cost = checks.cost
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
    return [build_campaign(project, source) for source in project.campaigns]
