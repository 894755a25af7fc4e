"""A request body as canonical JSON (`ids.canonical_json`), its recipients encoded a batch at a
time.

Encoding 500 recipient dicts costs about a millisecond per request, built and sorted one by one;
apply's budget for everything it does per request is two. When every recipient of a batch has
the same fields (the usual case), all their values are escaped by one C call and laid into one
format string, which gives the very same text without a dict per recipient. Anything unusual
(several field layouts, a backslash in a value) takes the plain route.
"""

from __future__ import annotations

from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any

from octoplan.ids import Recipients, canonical_json
from octoplan.messages import FIELD

# Stands in for the recipients while the rest of the body is encoded. NUL never reaches a body
# (contacts, templates and YAML refuse control characters); should it appear, `count` below
# sees two and the plain route is taken.
_STAND_IN = "\x00"
_MARK = '"recipients":"\\u0000"'
_ESCAPED_FIELD = "\\u001f"


def encode_body(body: Mapping[str, Any], recipients: Recipients) -> str:
    """canonical_json of `body` with `recipients` (as ids.Recipients) under "recipients"."""
    encoded = _encode_recipients(recipients)
    if encoded is not None:
        head = canonical_json({**body, "recipients": _STAND_IN})
        if head.count(_MARK) == 1:
            return head.replace(_MARK, '"recipients":' + encoded)
    return canonical_json({**body, "recipients": recipient_dicts(recipients)})


def recipient_dicts(recipients: Recipients) -> list[dict[str, str]]:
    names, which, records = recipients
    return [
        dict(zip(names[n], record.split(FIELD), strict=True))
        for n, record in zip(which, records, strict=True)
    ]


def _encode_recipients(recipients: Recipients) -> str | None:
    """The recipients as canonical JSON, or None when the fast route does not apply."""
    names, _, records = recipients
    if len(names) != 1 or not records:
        return None
    layout = names[0]
    width = len(layout)
    joined = FIELD.join(records)
    # Escaped, a backslash doubles, and `\u001f` typed in a value would look like a separator.
    if not width or "\\" in joined:
        return None
    values: list[str] = encode_basestring(joined)[1:-1].split(_ESCAPED_FIELD)
    if len(values) != width * len(records):
        return None
    order = sorted(range(width), key=layout.__getitem__)  # canonical: keys sorted
    if order != list(range(width)):
        columns = [values[j::width] for j in order]
        for position, column in enumerate(columns):
            values[position::width] = column
    one = (
        "{"
        + ",".join(encode_basestring(layout[j]).replace("%", "%%") + ':"%s"' for j in order)
        + "}"
    )
    return ("[" + ",".join([one] * len(records)) + "]") % tuple(values)
