"""Checks on a campaign's rendered messages: API rules, house policies, cost.

`MessageChecks` sees every message once (it runs a million times on a big list, so it only
counts and keeps one example per problem) and then reports one diagnostic per problem, with how
many messages it touches: "’ (U+2019) at line 3 makes 12,400 messages UCS-2".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Literal

from octoplan import channels, rules
from octoplan.errors import Diagnostic
from octoplan.hours import Hours, local_time
from octoplan.model import MarketingHours, Pricing
from octoplan.phones import country_of, country_of_code
from octoplan.sms import GSM7_REPLACEMENTS, SmsCount
from octoplan.sms import count as count_sms
from octoplan.words import plural

Where = tuple[str, int | None, int | None]
Severity = Literal["error", "warning"]

_EMPTY_FIELD = re.compile(r" [,.]| {2}|^[ ,]|\( \)")
# What _EMPTY_FIELD matches anywhere in a text, as plain substrings (its `^[ ,]` aside).
_EMPTY_FIELD_PIECES = (" ,", " .", "  ", "( )")


def _any_empty_field(texts: Sequence[str]) -> bool:
    """Does any text match _EMPTY_FIELD? Substring searches over the joined texts (a regex
    over megabytes is ten times slower); False only when none can."""
    joined = "\x00".join(texts)
    if joined.count("\x00") != len(texts) - 1:
        return True  # a NUL in a text: look at each one
    return any(
        pattern in joined for pattern in (*_EMPTY_FIELD_PIECES, "\x00 ", "\x00,")
    ) or joined.startswith((" ", ","))


# A value that could take part in an _EMPTY_FIELD match with what is around it: one starting
# with ',', '.', ')' or a space, or ending with '(' or a space (joined by NUL: see below).
_VALUE_EDGES = ("\x00,", "\x00.", "\x00)", "\x00 ", " \x00", "(\x00")


def empty_field_possible(text_format: str, holes: Sequence[Sequence[str]]) -> bool:
    """Could any text `text_format % row` match _EMPTY_FIELD, `holes` being the values printed
    at each hole, a column each? False only when none can, found from the literals and the
    values alone (a few short strings instead of a million texts): a match (three characters
    at most) lies within the literals as they meet around empty values, within a value, or
    across a value's edge, which takes a value with one of the _VALUE_EDGES. Any other case
    (a column with both empty and other values) is answered True: search the texts."""
    probe: list[str] = []
    for column in holes:
        if not any(column):
            probe.append("")
            continue
        joined = "\x00" + "\x00".join(column) + "\x00"
        if joined.count("\x00") != len(column) + 1 or "\x00\x00" in joined:
            return True  # an empty value among others, or a NUL in one
        # Most columns hold none of the characters a match takes: one memchr each says so.
        if (" " in joined or any(char in joined for char in ",.()")) and any(
            pattern in joined for pattern in (*_EMPTY_FIELD_PIECES, *_VALUE_EDGES)
        ):
            return True
        probe.append("\x01")  # matches nothing and parts the literals around it
    return _EMPTY_FIELD.search(text_format % tuple(probe)) is not None


_CODE = itemgetter(slice(0, 4))  # "+33" and the next digit: enough for any calling code


def _char_name(char: str) -> str:
    return (
        f"{char} (U+{ord(char):04X})"
        if char.isprintable() and char != " "
        else f"U+{ord(char):04X}"
    )


@dataclass
class _Example:
    """How many messages have a problem, and the first of them in the contact lists' order
    (messages are checked group by group: `order` is a message's place in the lists)."""

    count: int = 0
    recipient: str = ""
    detail: str = ""
    order: int = 0

    def add(self, recipient: str, detail: str = "", order: int = 0) -> None:
        if not self.count or order < self.order:
            self.recipient, self.detail, self.order = recipient, detail, order
        self.count += 1


@dataclass
class MessageChecks:
    """Per-message checks of one campaign; `report()` turns what they saw into diagnostics."""

    campaign_id: str
    channel: str
    marketing: bool
    text_where: Where  # the inline text or the `template:` value, for messages about the text
    template_source: str  # the template's text, to find where a character was written
    template_first_line: int
    template_path: str
    max_segments: int
    pricing: Pricing
    product: str = ""  # the price table (prices.product); empty: the channel's
    messages: int = 0
    cost: float = 0.0
    _no_stop: _Example = field(default_factory=_Example)
    _too_long: _Example = field(default_factory=_Example)
    _empty: _Example = field(default_factory=_Example)
    _empty_field: _Example = field(default_factory=_Example)
    _many_parts: _Example = field(default_factory=_Example)
    _ucs2: Counter[str] = field(default_factory=Counter)
    _ucs2_messages: int = 0
    _extra_parts: int = 0
    _unpriced: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        # A pattern the template writes itself is not a sign of an empty field.
        self._empty_field_written = _EMPTY_FIELD.search(self.template_source) is not None
        self._prices: dict[str | None, float | None] = {}
        self.product = self.product or self.channel
        # What the channel table says of this channel, read once (checks run per message).
        kind = channels.get(self.channel)
        self._phone = kind.phone  # texts limited to rules.TEXT_MAX
        self._per_part = kind.bills_per_part  # parts counted, priced and limited
        self._stop_rule = kind.stop_mention and self.marketing
        # The destination regions seen (None: not a phone number), for the marketing hours of
        # each recipient's time zone (octoplan/hours.py).
        self.regions: set[str | None] = set()

    def check_many(
        self,
        recipients: Sequence[str],
        texts: Sequence[str],
        counts: Sequence[SmsCount],
        orders: Sequence[int],
    ) -> list[float]:
        """`check` of each message; the costs, in order."""
        return list(map(self.check, recipients, texts, counts, orders))

    def check_basic(
        self,
        recipients: Sequence[str],
        texts: Sequence[str],
        segments: list[int],
        orders: Sequence[int],
        *,
        stop_known: bool = False,
        empty_fields: Callable[[], bool] | None = None,
    ) -> list[float]:
        """`check` of messages of one-septet GSM-7 characters only (`segments` parts each),
        column by column: each check asks the whole column first (one `all`, `max` or regex
        over the joined texts, at C speed) and looks at single messages only when something is
        found. `stop_known`: every text is known to hold the opt-out mention; `empty_fields`:
        whether a text may look like a field printed empty, told from what the texts are
        made of (`empty_field_possible`; None: the texts are searched)."""
        if not texts:
            return []
        unusual = not all(map(str.strip, texts))
        if self._phone:
            unusual = unusual or max(map(len, texts)) > rules.TEXT_MAX
            if self._per_part:
                unusual = unusual or max(segments) > self.max_segments
                if self._stop_rule and not stop_known:
                    unusual = unusual or not all(map(rules.has_stop_mention, texts))
        if not unusual and not self._empty_field_written:
            unusual = (empty_fields is None or empty_fields()) and _any_empty_field(texts)
        if unusual:
            counts = [
                SmsCount("GSM-7", len(t), n, len(t)) for t, n in zip(texts, segments, strict=True)
            ]
            return self.check_many(recipients, texts, counts, orders)
        self.messages += len(texts)
        return self._prices_of(recipients, segments if self._per_part else None)

    def _prices_of(self, recipients: Sequence[str], segments: list[int] | None) -> list[float]:
        """Costs of messages of `segments` parts (None: one each), priced by destination."""
        if not recipients[0].startswith("+"):
            regions: list[str | None] = [None] * len(recipients)
        else:
            # Most numbers' calling code names their country: one lookup per code, not per
            # number; the others (shared codes like +1) are looked up one by one. A list of
            # one country's numbers shares its first four characters: told by one count over
            # the joined keys (no key holds a line break), without a slice of each.
            code = _CODE(recipients[0])
            joined = "\n" + "\n".join(recipients)
            if joined.count("\n" + code) == len(recipients) == joined.count("\n"):
                codes = [code] * len(recipients)
                by_code = {code: country_of_code(code)}
            else:
                codes = list(map(_CODE, recipients))
                by_code = {code: country_of_code(code) for code in set(codes)}
            if len(by_code) == 1 and None not in by_code.values():
                regions = [next(iter(by_code.values()))] * len(recipients)
            else:
                regions = [
                    by_code[code] or country_of(key)
                    for code, key in zip(codes, recipients, strict=True)
                ]
        prices = self._prices
        distinct = set(regions)
        self.regions |= distinct
        for region in distinct:
            if region not in prices:
                prices[region] = self.pricing.price(self.product, region)
        if len(distinct) == 1 and prices[regions[0]] is not None:
            price = prices[regions[0]]
            assert price is not None
            if segments:
                # One float per number of parts, shared (a million floats would take 24 MB).
                by_parts = {n: price * n for n in set(segments)}
                costs = list(map(by_parts.__getitem__, segments))
            else:
                costs = [price] * len(regions)
        else:
            costs = []
            for index, region in enumerate(regions):
                price = prices[region]
                if price is None:
                    self._unpriced[region or "default"] += 1
                    costs.append(0.0)
                else:
                    costs.append(price * (segments[index] if segments is not None else 1))
        self.cost += sum(costs)
        return costs

    def absorb(self, other: MessageChecks, offset: int) -> None:
        """Add what `other` (the same checks, on the messages after the first `offset`) saw."""
        self.messages += other.messages
        self.cost += other.cost
        for name in ("_no_stop", "_too_long", "_empty", "_empty_field", "_many_parts"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs.count:
                order = theirs.order + offset
                if not mine.count or order < mine.order:
                    mine.recipient, mine.detail, mine.order = theirs.recipient, theirs.detail, order
                mine.count += theirs.count
        self._ucs2.update(other._ucs2)
        self._ucs2_messages += other._ucs2_messages
        self._extra_parts += other._extra_parts
        self._unpriced.update(other._unpriced)
        self.regions |= other.regions

    def check(self, recipient: str, text: str, sms: SmsCount, order: int = 0) -> float:
        """Record one final message (the `order`-th of the lists); return its estimated cost."""
        self.messages += 1
        if not text.strip():
            self._empty.add(recipient, "", order)
        if self._phone:
            if self._stop_rule and not rules.has_stop_mention(text):
                self._no_stop.add(recipient, "", order)
            if sms.characters > rules.TEXT_MAX:
                self._too_long.add(recipient, f"{sms.characters:,} characters", order)
            if self._per_part:
                if sms.segments > self.max_segments:
                    self._many_parts.add(recipient, f"{sms.segments} parts", order)
                if sms.non_gsm:
                    self._note_ucs2(text, sms)
        if not self._empty_field_written and _EMPTY_FIELD.search(text):
            self._empty_field.add(recipient, text, order)
        return self._price(recipient, sms.segments if self._per_part else 1)

    def _note_ucs2(self, text: str, sms: SmsCount) -> None:
        self._ucs2_messages += 1
        self._ucs2.update({char for _, char in sms.non_gsm})
        fixed = "".join(GSM7_REPLACEMENTS.get(c, c) for c in text)
        self._extra_parts += sms.segments - count_sms(fixed).segments

    def _price(self, recipient: str, parts: int) -> float:
        region = country_of(recipient) if recipient.startswith("+") else None
        self.regions.add(region)
        price = self.pricing.price(self.product, region)
        if price is None:
            self._unpriced[region or "default"] += 1
            return 0.0
        cost = price * parts
        self.cost += cost
        return cost

    def _top_ucs2(self) -> list[str]:
        """The five characters that make the most messages UCS-2 (ties by code point, so the
        order does not depend on which message was checked first)."""
        ranked = sorted(self._ucs2.items(), key=lambda item: (-item[1], item[0]))
        return [char for char, _ in ranked[:5]]

    def _where_written(self, char: str) -> str:
        index = self.template_source.find(char)
        if index < 0:
            return "in contact data"
        line = self.template_source.count("\n", 0, index)
        col = index - (self.template_source.rfind("\n", 0, index) + 1) + 1
        return f"at {self.template_path}:{line + self.template_first_line}:{col}"

    def report(self) -> list[Diagnostic]:
        path, line, col = self.text_where
        out: list[Diagnostic] = []
        of = f"of {plural(self.messages, 'message')}"

        def add(message: str, hint: str | None = None, severity: Severity = "error") -> None:
            out.append(Diagnostic(path, line, col, message, hint, severity))

        who = f"campaign {self.campaign_id}"
        if self._empty.count:
            add(f"{who}: {self._empty.count:,} {of} are empty (e.g. {self._empty.recipient})")
        if self._no_stop.count:
            add(
                f"{who}: marketing SMS must contain '{rules.STOP_MENTION}': missing in "
                f"{self._no_stop.count:,} {of} (e.g. {self._no_stop.recipient})",
                f"add '{rules.STOP_MENTION}' to the text, or set purpose: alert if these "
                "messages are transactional",
            )
        if self._too_long.count:
            add(
                f"{who}: {self._too_long.count:,} {of} exceed the API's {rules.TEXT_MAX} "
                f"characters (e.g. {self._too_long.recipient}: {self._too_long.detail})"
            )
        if self._many_parts.count:
            add(
                f"{who}: {self._many_parts.count:,} {of} need more than {self.max_segments} "
                f"SMS parts (e.g. {self._many_parts.recipient}: {self._many_parts.detail})",
                "shorten the text or raise policies.max_segments",
                "warning",
            )
        if self._ucs2_messages:
            chars = ", ".join(f"{_char_name(c)} {self._where_written(c)}" for c in self._top_ucs2())
            extra = (
                f": {plural(self._extra_parts, 'extra SMS part')} in total"
                if self._extra_parts
                else ""
            )
            replacements = ", ".join(
                f"{c} -> {GSM7_REPLACEMENTS[c]!r}"
                for c in self._top_ucs2()
                if c in GSM7_REPLACEMENTS
            )
            add(
                f"{who}: {chars} make{'s' if len(self._ucs2) == 1 else ''} "
                f"{plural(self._ucs2_messages, 'message')} UCS-2 (70 characters per SMS "
                f"instead of 160){extra}",
                f"replace them to stay in GSM-7: {replacements}" if replacements else None,
                "warning",
            )
        if self._empty_field.count:
            add(
                f"{who}: {self._empty_field.count:,} {of} look like a field printed empty "
                f"(e.g. {self._empty_field.recipient}: {self._empty_field.detail!r})",
                "give the field a default: {{ contact.first_name | default('') }} and adjust "
                "the punctuation, or test it with {% if %}",
                "warning",
            )
        for region, n in sorted(self._unpriced.items()):
            add(
                f"{who}: no price for {self.channel} to {region}: "
                f"{plural(n, 'message')} not counted in the cost estimate",
                f"add pricing.{self.product}.{region} or pricing.{self.product}.default "
                "to octoplan.yaml",
                "warning",
            )
        return out


def check_send_at(
    send_at: datetime, hours: MarketingHours, where: Where, campaign_id: str
) -> Diagnostic | None:
    """An error when a marketing send time falls outside the configured marketing hours (in
    the project's own zone; other regions' zones are checked by the plan, which knows who is
    still to be sent: octoplan/compliance.py)."""
    policy = Hours(hours)
    problem = policy.closed(send_at, policy.home)
    if problem is None:
        return None
    path, line, col = where
    return Diagnostic(
        path,
        line,
        col,
        f"campaign {campaign_id}: send_at {local_time(send_at, hours.timezone)} is outside "
        f"marketing hours: {problem}",
        "move send_at, or change policies.marketing_hours in octoplan.yaml",
    )
