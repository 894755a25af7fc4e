"""Every count and time limit at its boundary, through the real CLI (and the real sandbox and
state where the limit is about what is sent): batch_size 1/500/501, personalization values of
50/51 characters, 160/161 GSM-7 and 70/71 UCS-2 characters, 1224/1225 characters, and the
marketing window's first and last minute in Paris, on both DST change days and around public
holidays (issue 22). The unit-level twins are in tests/test_sms.py, tests/test_checks.py and
tests/test_hours.py; these pin the same limits where a user meets them.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from octoplan.sandbox import SandboxServer
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
NOW = "2026-11-24T10:00:00+01:00"  # a Tuesday, inside marketing hours


def numbers(count: int) -> list[str]:
    return [f"+336129{i:05d}" for i in range(count)]


def csv(names: list[str]) -> str:
    rows = [f"{n},{name}" for n, name in zip(numbers(len(names)), names, strict=True)]
    return "phone_number,first_name\n" + "\n".join(rows) + "\n"


def alert(text: str, *extra: str) -> str:
    lines = ["id: promo", "channel: sms", "purpose: alert", f'text: "{text}"', *extra]
    return "\n".join([*lines, "contacts: [contacts/c.csv]"]) + "\n"


def plan_json(root: Path, now: str = NOW) -> dict[str, Any]:
    result = run_cli("plan", "--format", "json", cwd=root, env={"OCTOPLAN_NOW": now})
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def apply(root: Path, server: SandboxServer) -> Any:
    done = run_cli("apply", "--auto-approve", cwd=root, env={**server.env(), "OCTOPLAN_NOW": NOW})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def delivered(server: SandboxServer) -> dict[str, str]:
    deliveries = server.deliveries()
    assert [k for k, n in Counter(d.recipient for d in deliveries).items() if n > 1] == []
    return {d.recipient: d.text for d in deliveries}


# -- batch_size 1 / 500 / 501 ---------------------------------------------------------------


def test_batch_size_1_sends_one_request_per_recipient(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    names = ["Ana", "Bob", "Cyd"]
    root = make_project(
        {"campaigns/promo.yaml": alert("Code 12", "batch_size: 1"), "contacts/c.csv": csv(names)},
        CONFIG,
    )
    apply(root, sandbox)
    sent = Counter(d.request_id for d in sandbox.deliveries())
    assert sorted(sent.values()) == [1, 1, 1]
    assert delivered(sandbox) == dict.fromkeys(numbers(3), "Code 12")


def test_batch_size_500_is_the_most_a_request_carries(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    # 501 recipients, batch_size left at its default (500): 500 in one request, 1 in another.
    names = [f"N{i}" for i in range(501)]
    root = make_project(
        {"campaigns/promo.yaml": alert("Code 12"), "contacts/c.csv": csv(names)}, CONFIG
    )
    planned = plan_json(root)["campaigns"][0]["batches"]
    assert sorted(b["recipient_count"] for b in planned) == [1, 500]
    apply(root, sandbox)
    assert sorted(Counter(d.request_id for d in sandbox.deliveries()).values()) == [1, 500]
    assert len(delivered(sandbox)) == 501


@pytest.mark.parametrize(
    ("size", "error"),
    [
        ("1", None),
        ("500", None),
        ("501", "campaigns/promo.yaml:5:13: error: batch_size must be at most 500 (got 501)\n"),
        ("0", "campaigns/promo.yaml:5:13: error: batch_size must be at least 1 (got 0)\n"),
    ],
)
def test_batch_size_limits_in_validate(
    make_project: MakeProject, size: str, error: str | None
) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": alert("Code 12", f"batch_size: {size}"),
            "contacts/c.csv": csv(["A"]),
        },
        CONFIG,
    )
    result = run_cli("validate", cwd=root)
    if error is None:
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        assert result.returncode == 1
        assert result.stderr.startswith(error), result.stderr


# -- personalization values of 50 / 51 characters ---------------------------------------------


def test_a_value_of_50_characters_goes_as_a_field_and_51_inline(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    fifty, fifty_one = "x" * 50, "y" * 51
    root = make_project(
        {
            "campaigns/promo.yaml": alert("Bonjour {{ contact.first_name }}"),
            "contacts/c.csv": csv([fifty, fifty_one]),
        },
        CONFIG,
    )
    apply(root, sandbox)
    short, long = numbers(2)
    # The sandbox refuses a field over 50 characters (as the API does): both went out.
    assert delivered(sandbox) == {short: f"Bonjour {fifty}", long: f"Bonjour {fifty_one}"}
    store = open_state(".octoplan/state.db", root)
    try:
        bodies = [json.loads(store.payload(b.request_id)) for b in store.batches("promo")]
    finally:
        store.close()
    sent = {body["recipients"][0]["phone_number"]: body for body in bodies}
    assert sent[short]["text"] == "Bonjour {first_name}"
    assert sent[short]["recipients"] == [{"phone_number": short, "first_name": fifty}]
    assert sent[long]["text"] == f"Bonjour {fifty_one}"
    assert sent[long]["recipients"] == [{"phone_number": long}]


# -- 160 / 161 GSM-7, 70 / 71 UCS-2, 1224 / 1225 characters ------------------------------------


@pytest.mark.parametrize(
    ("letter", "single", "unicode"),
    [("a", 160, False), ("Ж", 70, True)],
)
def test_one_sms_part_up_to_the_limit_and_two_past_it(
    make_project: MakeProject, sandbox: SandboxServer, letter: str, single: int, unicode: bool
) -> None:
    # Rendered texts of exactly the limit and one more: parts counted per message.
    names = [letter * (single - 1), letter * single]
    root = make_project(
        {
            "campaigns/promo.yaml": alert(letter + "{{ contact.first_name }}"),
            "contacts/c.csv": csv(names),
        },
        CONFIG,
    )
    data = plan_json(root)
    assert data["summary"]["sms_parts"] == 1 + 2
    assert data["summary"]["warnings"] == (1 if unicode else 0)  # the UCS-2 warning
    apply(root, sandbox)
    at_limit, past = numbers(2)
    assert delivered(sandbox) == {at_limit: letter * single, past: letter * (single + 1)}


def test_a_rendered_text_of_1224_characters_goes_and_1225_is_an_error(
    make_project: MakeProject,
) -> None:
    files = {"campaigns/promo.yaml": alert("{{ contact.first_name }}")}
    fits = make_project({**files, "contacts/c.csv": csv(["a" * 1224])}, CONFIG)
    over = make_project({**files, "contacts/c.csv": csv(["a" * 1224, "a" * 1225])}, CONFIG)

    assert plan_json(fits)["summary"]["sms_parts"] == 8
    refused = run_cli("plan", cwd=over, env={"OCTOPLAN_NOW": NOW})

    assert refused.returncode == 1
    assert (
        "campaigns/promo.yaml:4:7: error: campaign promo: 1 of 2 messages exceed the API's 1224 "
        "characters (e.g. +33 6•• •• •• 01: 1,225 characters)\n"
    ) in refused.stdout


def test_a_campaign_text_of_1224_characters_is_valid_and_1225_is_not(
    make_project: MakeProject,
) -> None:
    fits = make_project(
        {"campaigns/promo.yaml": alert("a" * 1224), "contacts/c.csv": csv(["A"])}, CONFIG
    )
    over = make_project(
        {"campaigns/promo.yaml": alert("a" * 1225), "contacts/c.csv": csv(["A"])}, CONFIG
    )
    assert run_cli("validate", cwd=fits).returncode == 0
    refused = run_cli("validate", cwd=over)
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "campaigns/promo.yaml:4:7: error: text is 1225 characters; the API accepts at most 1224\n"
        "  hint: shorten it: 1224 characters is already 8 SMS parts\n"
    ), refused.stderr


# -- the marketing window's first and last minute -----------------------------------------------

STOP = "STOP au 30101"
EVERY_DAY = CONFIG + "policies:\n  marketing_hours: {days: [mon, tue, wed, thu, fri, sat, sun]}\n"
MARKETING = f'id: promo\nchannel: sms\ntext: "Promo -30% {STOP}"\ncontacts: [contacts/c.csv]\n'
OPEN, CLOSED = 0, 1


@pytest.mark.parametrize(
    ("now", "code"),
    [
        # An ordinary Tuesday in Paris (CET, +01:00).
        ("2026-11-24T07:59:00+01:00", CLOSED),
        ("2026-11-24T08:00:00+01:00", OPEN),  # the first minute
        ("2026-11-24T19:59:00+01:00", OPEN),  # the last minute
        ("2026-11-24T20:00:00+01:00", CLOSED),
        # Spring forward, Sunday 28 March 2027: 08:00 and 19:59 are CEST (+02:00).
        ("2027-03-28T05:59:00Z", CLOSED),
        ("2027-03-28T06:00:00Z", OPEN),
        ("2027-03-28T17:59:00Z", OPEN),
        ("2027-03-28T18:00:00Z", CLOSED),
        # Fall back, Sunday 25 October 2026: 08:00 and 19:59 are CET (+01:00).
        ("2026-10-25T06:59:00Z", CLOSED),
        ("2026-10-25T07:00:00Z", OPEN),
        ("2026-10-25T18:59:00Z", OPEN),
        ("2026-10-25T19:00:00Z", CLOSED),
        # Around Christmas Day (Friday 25 December 2026, a public holiday).
        ("2026-12-24T19:59:00+01:00", OPEN),
        ("2026-12-25T08:00:00+01:00", CLOSED),
        ("2026-12-25T19:59:00+01:00", CLOSED),
        ("2026-12-26T07:59:00+01:00", CLOSED),
        ("2026-12-26T08:00:00+01:00", OPEN),
    ],
)
def test_marketing_window_first_and_last_minute_through_plan(
    make_project: MakeProject, now: str, code: int
) -> None:
    root = make_project(
        {"campaigns/promo.yaml": MARKETING, "contacts/c.csv": csv(["A"])}, EVERY_DAY
    )
    result = run_cli("plan", cwd=root, env={"OCTOPLAN_NOW": now})
    assert result.returncode == code, result.stdout + result.stderr
    closed = "error: campaign promo: marketing messages cannot go out now"
    assert (closed in result.stdout) is (code == CLOSED)


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        # One minute before the window: it opens that same minute's end, at 08:00 sharp.
        ("2026-11-24T07:59:00+01:00", "Tue 24 Nov 2026 08:00"),
        ("2027-03-28T05:59:00Z", "Sun 28 Mar 2027 08:00"),  # CEST already
        ("2026-10-25T06:59:00Z", "Sun 25 Oct 2026 08:00"),  # CET already
        # Christmas Day's first minute: the next window is the day after's first minute.
        ("2026-12-25T08:00:00+01:00", "Sat 26 Dec 2026 08:00"),
    ],
)
def test_the_next_window_named_is_its_first_minute(
    make_project: MakeProject, now: str, opens: str
) -> None:
    root = make_project(
        {"campaigns/promo.yaml": MARKETING, "contacts/c.csv": csv(["A"])}, EVERY_DAY
    )
    result = run_cli("plan", cwd=root, env={"OCTOPLAN_NOW": now})
    assert result.returncode == CLOSED, result.stdout + result.stderr
    assert f"hint: the next marketing window opens {opens} Europe/Paris" in result.stdout
