"""encode_body gives, to the character, ids.canonical_json of the body with its recipients."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from octoplan.encode import _encode_recipients, encode_body, recipient_dicts
from octoplan.ids import Recipients, canonical_json
from octoplan.messages import FIELD
from tests.fuzzing import FUZZ

BODY = {
    "sender": "ShopX",
    "text": "Bonjour {first_name}",
    "type": "sms_premium",
    "request_id": "op-1",
}

# Values that trip an encoder: escapes, quotes, a typed `\u001f` (what the separator becomes
# once escaped), format characters, accents, emoji, braces, placeholders, empty values.
TRICKY = st.sampled_from(
    [
        "",
        "Émilie",
        'say "hi"',
        "back\\slash",
        "\\u001f",
        "a\\\\u001fb",
        "100%",
        "%s %(name)s %%",
        "{param1}",
        "{{ contact.x }}",
        "😀 emoji",
        "€uro",
        "\u2028line separator",
        "tab\tin",
        "new\nline",
        "/slash",
        "\ud83d",
    ]
)
VALUE = st.one_of(TRICKY, st.text(st.characters(exclude_characters=FIELD + "\x1e"), max_size=60))
NAMES = ["phone_number", "first_name", "last_name", "param1", "param2", "param3", "%name"]


def expected(body: dict[str, Any], recipients: Recipients) -> str:
    return canonical_json({**body, "recipients": recipient_dicts(recipients)})


@st.composite
def batches(draw: st.DrawFn) -> Recipients:
    layouts = draw(
        st.lists(
            st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True).map(tuple),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    size = draw(st.integers(min_value=1, max_value=40))
    which = draw(st.lists(st.integers(0, len(layouts) - 1), min_size=size, max_size=size))
    records = [
        FIELD.join(draw(st.lists(VALUE, min_size=len(layouts[n]), max_size=len(layouts[n]))))
        for n in which
    ]
    return layouts, which, records


@FUZZ
@given(recipients=batches())
def test_any_batch_encodes_as_canonical_json(recipients: Recipients) -> None:
    assert encode_body(BODY, recipients) == expected(BODY, recipients)


@FUZZ
@given(
    layout=st.permutations(NAMES[:5]).map(tuple),
    rows=st.lists(st.lists(VALUE, min_size=5, max_size=5), min_size=1, max_size=60),
)
def test_one_layout_in_any_key_order_encodes_as_canonical_json(
    layout: tuple[str, ...], rows: list[list[str]]
) -> None:
    recipients: Recipients = ([layout], [0] * len(rows), [FIELD.join(row) for row in rows])
    assert encode_body(BODY, recipients) == expected(BODY, recipients)


def test_a_typical_batch_reads_back_as_the_recipients_it_was_given() -> None:
    layout = ("phone_number", "first_name", "param1", "param2")
    rows = [[f"+3360000{n:04d}", "Gaëlle", 'Saint-"Malo"', f"C{n}%"] for n in range(500)]
    recipients: Recipients = ([layout], [0] * 500, [FIELD.join(row) for row in rows])
    assert _encode_recipients(recipients) is not None  # the fast route, not the plain one
    text = encode_body({**BODY, "metadata": {"request_id": "op-2"}}, recipients)
    assert text == expected({**BODY, "metadata": {"request_id": "op-2"}}, recipients)
    assert json.loads(text)["recipients"] == [dict(zip(layout, row, strict=True)) for row in rows]


def test_a_stand_in_look_alike_in_the_body_takes_the_plain_route() -> None:
    body = {**BODY, "metadata": {"recipients": "\x00"}}
    recipients: Recipients = ([("phone_number",)], [0], ["+33600000001"])
    assert encode_body(body, recipients) == expected(body, recipients)
