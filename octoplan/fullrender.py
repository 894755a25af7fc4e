"""The reference render: one contact at a time, the template rendered in full.

For each contact: render the Jinja template, then do what the API will do to the text
(`{first_name}`-style personalization on the SMS endpoint, `auto_optimize_text` unless it is
false), count the SMS parts and price the message. The text kept is the one the recipient
will see. Every text the fast path (octoplan/fastpath.py) composes is checked against this
render of the group's first contact; contacts the fast path cannot compose are rendered here.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping

from octoplan import channels, ids
from octoplan.contactfiles import CsvSource
from octoplan.contacts import Chunk
from octoplan.errors import Diagnostic
from octoplan.merge import FieldUse
from octoplan.messages import ORDER, DesiredMessage, Messages, Packed, sent_flags
from octoplan.placeholders import (
    MAX_VALUE_LENGTH,
    PLACEHOLDER_FIELDS,
    apply_placeholders,
    has_placeholders,
    placeholders_in,
)
from octoplan.policies import MessageChecks
from octoplan.render import Renderer, RenderError
from octoplan.sms import auto_optimize, measure

IDENTITY = channels.IDENTITY_FIELDS

_SLOTS = {name: "{" + name + "}" for name in PLACEHOLDER_FIELDS}

# Stands for a value's `{` while the template's own slots are found (_template_slots_filled):
# a control character, which contact values never hold (octoplan.contacts refuses them).
_GUARD = "\x1a"


class RenderErrors:
    """One diagnostic per distinct problem, saying how many recipients it hits."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, int | None, str], Diagnostic] = {}
        self.count: dict[tuple[str, int | None, str], int] = {}

    def add(self, diagnostic: Diagnostic) -> None:
        key = (diagnostic.path, diagnostic.line, diagnostic.message.split(": ", 1)[-1])
        self.first.setdefault(key, diagnostic)
        self.count[key] = self.count.get(key, 0) + 1

    def absorb(self, other: RenderErrors) -> None:
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


class FullRender:
    """Contact chunks -> Messages, each contact rendered in full (`_full`); the state shared
    with the fast path that builds on it: the messages, the policy checks, the errors, and
    the order of the current chunk's first contact.
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
        self.errors = RenderErrors()
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
        and forgotten here. Without their keys: the receiver has them (`open`)."""
        packed = self.messages.pack(keys=False)
        self.messages = self._new_messages()
        return packed

    def open(self, packed: Packed, keys: list[str]) -> Messages:
        """Messages another builder `take`s; `keys`: the keys of the contacts it was given,
        in their order (the receiver's own key objects, which its deduper holds already)."""
        return Messages.unpack(packed, keys)

    def result(self) -> tuple[MessageChecks, RenderErrors, int]:
        """What a shard saw besides its messages, for `absorb`."""
        return self.checks, self.errors, self._offset

    def absorb(
        self, parts: list[Messages], result: tuple[MessageChecks, RenderErrors, int]
    ) -> None:
        """Append what another builder built from the contacts after this one's (`parts` is
        emptied: each part is let go once appended, not all of them at the end)."""
        checks, errors, rows = result
        offset = self._offset
        parts.reverse()
        while parts:
            messages = parts.pop()
            messages.order = array(ORDER, map(offset.__add__, messages.order))
            self.messages.extend(messages)
            del messages
        self.checks.absorb(checks, offset)
        self.errors.absorb(errors)
        self._offset += rows

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
        api_fields = {k: fields[k] for k in IDENTITY if k in fields}
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
                api_fields = {k: fields[k] for k in IDENTITY if k in fields}
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

    def _full_rows(self, names: list[str], chunk: Chunk, rows: Iterable[int]) -> None:
        for index in rows:
            key = chunk.keys[index]
            cells = chunk.cells(index)
            fields = {name: cell for name, cell in zip(names, cells, strict=True) if cell}
            try:
                at = (chunk.source.path, chunk.lines[index])
                shown = f"{key} ({at[0]}:{at[1]})"
                message = self._full(key, fields, shown, self._offset + index, at)
            except RenderError as exc:
                self.errors.add(explained(exc, names, chunk))
                continue
            self._append(message, self._offset + index)


def explained(exc: RenderError, names: list[str], chunk: Chunk) -> Diagnostic:
    """An undefined contact field said with the columns of the contact's list in hand."""
    from octoplan.undefined import explain  # render errors only

    return explain(exc, names, chunk.source.path, isinstance(chunk.source, CsvSource))


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
