"""octoplan/jsonstream.py writes exactly what `json.dumps(value, indent=2, ensure_ascii=False)`
writes, in pieces: on any JSON value (hypothesis), on a real plan through the CLI (stdout and
the saved plan file), and with a batch's recipients masked only as they are written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octoplan import jsonstream
from octoplan.jsonstream import Masked
from octoplan.mask import mask_recipient
from tests.fixtures.project import MakeProject, run_cli

TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # accents, controls, emoji, quotes
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(TEXT, max_size=6)  # the one-call path: a list of strings only
        | st.dictionaries(TEXT, inner, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_any_value_is_written_as_json_dumps_writes_it(value: Any) -> None:
    assert jsonstream.dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_masked_recipients_are_written_and_compared_as_their_masked_list() -> None:
    keys = ["+33612345678", "+33698765432", "chloé@example.fr"]
    masked = Masked(keys, mask_recipient)
    listed = [mask_recipient(k) for k in keys]
    assert masked == listed and masked == Masked(keys, mask_recipient) and masked != keys
    assert (len(masked), masked[1], masked[1:]) == (3, listed[1], listed[1:])
    value = {"batches": [{"recipients": masked, "recipient_count": 3}, {"recipients": []}]}
    expected = {"batches": [{"recipients": listed, "recipient_count": 3}, {"recipients": []}]}
    assert jsonstream.dumps(value) == json.dumps(expected, indent=2, ensure_ascii=False)
    assert "+33612345678" not in jsonstream.dumps(value)


def test_keys_that_are_not_strings_are_refused() -> None:
    with pytest.raises(TypeError) as caught:
        jsonstream.dumps({1: "a"})
    assert str(caught.value) == "JSON object keys must be strings here, not int"


def test_a_plan_s_json_and_plan_file_are_exactly_json_dumps_of_themselves(
    make_project: MakeProject,
) -> None:
    numbers = [f"+3361234{i:04d}" for i in range(1203)]  # three batches of 500, 500 and 203
    root = make_project(
        {
            "campaigns/promo.yaml": (
                'channel: sms\ntext: "Bonjour {{ contact.name }} ! STOP au 30101"\n'
                "contacts: [contacts/customers.csv]\n"
            ),
            "contacts/customers.csv": "phone_number,name\n"
            + "".join(f'{n},Zoé "{i}"\n' for i, n in enumerate(numbers)),
        },
        "region: FR\ndefaults: {sender: ShopX}\n",
    )
    shown = run_cli("plan", "--format", "json", "--out", "plan.json", cwd=root)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    saved = (root / "plan.json").read_text(encoding="utf-8")
    for text in (shown.stdout, saved):
        document = json.loads(text)
        assert text == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        batches = document["campaigns"][0]["batches"]
        assert [b["recipient_count"] for b in batches] == [500, 500, 203]
        assert sorted(r for b in batches for r in b["recipients"]) == sorted(
            map(mask_recipient, numbers)
        )
    assert not any(n in shown.stdout or n in saved for n in numbers)
