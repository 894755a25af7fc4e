"""A number that replied STOP: left out of every later marketing send on its number's channels
(octoplan/optouts.py), beside the exclude lists, and only there."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from octoplan.events import dedup_key
from octoplan.optouts import note, without_opted_out
from octoplan.receive.worker import Interpreter, ingest_all
from octoplan.state.eventlog import RawEvent
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli

STOPPED = "+33612345678"
OTHERS = ["+33612345679", "+33612345680"]
STOP_DATE = "2026-03-01 00:30:00"  # Paris: still 2026-02-28 in UTC


def campaign(channel: str, purpose: str | None, extra: str = "") -> str:
    field = "email" if channel == "email" else "phone_number"
    people = ["ana@example.com", "bob@example.com"] if channel == "email" else [STOPPED, *OTHERS]
    recipients = "".join(f'  - {{{field}: "{p}"}}\n' for p in people)
    line = f"purpose: {purpose}\n" if purpose else ""
    email = "metadata: {email_from: shop@example.com, subject: Hi}\n" if channel == "email" else ""
    return (
        f"channel: {channel}\nsender: ShopX\n{line}{email}"
        # A text of its own per campaign: the 30-day guard refuses one text sent twice.
        f'text: "Promo {channel} {purpose or ""} STOP au 30101"\n{extra}recipients:\n{recipients}'
    )


def stop(root: Path, number: str = "0612345678", date: str = STOP_DATE) -> None:
    """The number replies STOP, as `octoplan receive` would store and read it."""
    body = json.dumps({"number": number, "text": "STOP", "stop_date": date}).encode()
    store = open_state(".octoplan/state.db", root)
    try:
        now = datetime(2026, 3, 1, 12, tzinfo=UTC)
        store.append_raw([RawEvent(dedup_key("application/json", body), now, "", body)])
        ingest_all(Interpreter(store, "FR"))
    finally:
        store.close()


def plan_json(root: Path) -> dict[str, Any]:
    result = run_cli("plan", "--format", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    return {c["id"]: c for c in json.loads(result.stdout)["campaigns"]}


def recipients(found: dict[str, Any]) -> int:
    return sum(b["recipient_count"] for b in found["batches"])


def test_marketing_on_the_numbers_channels_leaves_it_out_and_says_so(
    make_project: MakeProject,
) -> None:
    root = make_project(
        {
            "campaigns/sms.yaml": campaign("sms", None),  # purpose omitted: marketing
            "campaigns/wholesale.yaml": campaign("sms", "wholesale"),
            "campaigns/voice.yaml": campaign("voice_sms", None),
            "campaigns/rcs.yaml": campaign("rcs", None),
            "campaigns/alert.yaml": campaign("sms", "alert"),
            "campaigns/mail.yaml": campaign("email", None),
        }
    )
    before = plan_json(root)
    stop(root)
    after = plan_json(root)
    for marketing in ("sms", "wholesale", "voice", "rcs"):
        assert (recipients(before[marketing]), recipients(after[marketing])) == (3, 2)
        assert after[marketing]["opted_out"] == 1
        assert after[marketing]["opted_out_recipients"] == [
            {"recipient": "+33 6•• •• •• 78", "stopped_on": "2026-03-01"}
        ]
    for untouched in ("alert", "mail"):
        assert recipients(after[untouched]) == recipients(before[untouched])
        assert after[untouched]["opted_out"] == 0
    text = run_cli("plan", cwd=root)
    assert (
        "    note: 1 recipient opted out by STOP reply on 2026-03-01 (+33 6•• •• •• 78): not sent\n"
    ) in text.stdout
    assert STOPPED not in text.stdout


def test_exclude_lists_keep_working_beside_it(make_project: MakeProject) -> None:
    extra = "exclude: [contacts/optout.csv]\n"
    root = make_project(
        {
            "campaigns/sms.yaml": campaign("sms", None, extra),
            "contacts/optout.csv": f"phone_number\n{OTHERS[0]}\n",
        }
    )
    stop(root)
    found = plan_json(root)["sms"]
    assert (recipients(found), found["excluded"], found["opted_out"]) == (1, 1, 1)
    assert "1 recipient removed by exclude lists" in found["notes"]


def test_several_are_listed_masked_a_few_at_most(make_project: MakeProject) -> None:
    numbers = [f"+336123456{n:02d}" for n in range(10)]
    lines = "".join(f'  - {{phone_number: "{n}"}}\n' for n in numbers)
    root = make_project(
        {
            "campaigns/sms.yaml": f'channel: sms\nsender: ShopX\ntext: "Promo STOP au 30101"\n'
            f"recipients:\n{lines}"
        }
    )
    for number in numbers[:7]:
        stop(root, number)
    found = plan_json(root)["sms"]
    assert (recipients(found), found["opted_out"], len(found["opted_out_recipients"])) == (3, 7, 7)
    (note,) = [n for n in found["notes"] if "STOP" in n]
    assert note == (
        "7 recipients opted out by STOP reply: +33 6•• •• •• 00 on 2026-03-01, "
        "+33 6•• •• •• 01 on 2026-03-01, +33 6•• •• •• 02 on 2026-03-01, "
        "+33 6•• •• •• 03 on 2026-03-01, +33 6•• •• •• 04 on 2026-03-01 and 2 more: not sent"
    )


def test_a_saved_plan_is_stale_once_a_stop_arrives(make_project: MakeProject) -> None:
    root = make_project({"campaigns/sms.yaml": campaign("sms", None)})
    saved = run_cli("plan", "-o", "plan.json", cwd=root)
    assert saved.returncode == 0, saved.stderr
    stop(root)
    applied = run_cli("apply", "plan.json", "--sandbox", cwd=root)
    assert applied.returncode == 1


def test_a_scheduled_marketing_send_is_cancelled_and_replanned_without_it(
    make_project: MakeProject,
) -> None:
    root = make_project(
        {"campaigns/sms.yaml": campaign("sms", None, "send_at: 2026-03-10T10:00:00+01:00\n")}
    )
    env = {"OCTOPLAN_NOW": "2026-03-07T10:00:00+00:00"}
    applied = run_cli("apply", "--sandbox", "--auto-approve", cwd=root, env=env)
    assert applied.returncode == 0, applied.stderr
    store = open_state(".octoplan/sandbox-state.db", root)
    try:
        body = json.dumps({"number": STOPPED, "text": "STOP", "stop_date": ""}).encode()
        now = datetime(2026, 3, 7, 11, tzinfo=UTC)
        store.append_raw([RawEvent(dedup_key("application/json", body), now, "", body)])
        ingest_all(Interpreter(store, "FR"))
    finally:
        store.close()
    result = run_cli("plan", "--sandbox", "--format", "json", cwd=root, env=env)
    found = json.loads(result.stdout)["campaigns"][0]
    kinds = sorted((b["kind"], b["recipient_count"]) for b in found["batches"])
    assert kinds == [("cancel", 3), ("new", 2)]
    assert found["opted_out"] == 1


# The filter and the note themselves, at their edges (mutation testing found these unpinned:
# bench/mutation.py optouts).
AT = datetime(2026, 3, 1, 9, tzinfo=UTC)


def test_only_the_recipients_still_to_send_are_filtered_whatever_their_positions() -> None:
    """Recipients 0 and 2 are already sent (or excluded): the opt-out of recipient 1 must not
    be read as the flag of another recipient still to send."""
    keys = ["+33600000000", "+33600000001", "+33600000002", "+33600000003"]
    kept, opted = without_opted_out(keys, [1, 3], {"+33600000001": AT})
    assert (kept, opted) == ([3], [("+33600000001", AT)])
    kept, opted = without_opted_out(keys, [0, 3], {"+33600000001": AT, "+33600000003": AT})
    assert (kept, opted) == ([0], [("+33600000003", AT)])


def test_when_every_recipient_opted_out_nothing_is_sent() -> None:
    keys = ["+33600000000", "+33600000001"]
    stopped = {key: AT for key in keys}
    assert without_opted_out(keys, [0, 1], stopped) == ([], [(key, AT) for key in keys])


def test_nobody_opted_out_among_the_list_leaves_it_whole() -> None:
    keys = ["+33600000000", "+33600000001"]
    assert without_opted_out(keys, [0, 1], {"+33699999999": AT}) == ([0, 1], [])


def test_the_note_names_five_and_counts_the_rest() -> None:
    opted = [(f"+336000000{n:02d}", AT) for n in range(12)]
    names = [f"+33 6•• •• •• {n:02d} on 2026-03-01" for n in range(5)]
    assert note(opted[:2]) == (
        f"2 recipients opted out by STOP reply: {', '.join(names[:2])}: not sent"
    )
    assert note(opted[:5]) == f"5 recipients opted out by STOP reply: {', '.join(names)}: not sent"
    assert note(opted) == (
        f"12 recipients opted out by STOP reply: {', '.join(names)} and 7 more: not sent"
    )
    assert note(opted[1:2]) == (
        "1 recipient opted out by STOP reply on 2026-03-01 (+33 6•• •• •• 01): not sent"
    )
