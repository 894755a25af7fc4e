"""`octoplan status` (octoplan/status.py, statusview.py) and `octoplan explain` (explain.py):
counts and verdicts from a real state, and the views."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from octoplan.events import dedup_key
from octoplan.receive.worker import Interpreter, ingest_all
from octoplan.state.base import BatchIntent, BatchStatus, StateStore
from octoplan.state.eventlog import RawEvent
from octoplan.state.open import open_state
from octoplan.status import CampaignStatus, StatusReport, build_status
from octoplan.statusview import bar, status_json, status_markdown, status_text
from tests.fixtures.project import MakeProject, run_cli

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
A, B, C, D = "+33612345601", "+33612345602", "+33612345603", "+33612345604"


def journal(
    store: StateStore,
    request_id: str,
    campaign: str,
    keys: list[str],
    status: BatchStatus,
    at: datetime = T0,
) -> None:
    store.record_intent(
        BatchIntent(
            request_id,
            campaign,
            "sms",
            "sms-campaign/send",
            "{}",
            keys,
            ["h"] * len(keys),
            None,
            0.0,
        ),
        at,
        attempt=True,
    )
    if status is not BatchStatus.INTENT:
        store.record_outcome(request_id, status, at, ticket=f"t-{request_id}")


def callback(store: StateStore, **fields: str) -> None:
    body = json.dumps(fields).encode()
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    store.append_raw([RawEvent(dedup_key("application/json", body), at, "application/json", body)])


def report(store: StateStore, number: str, status: str, when: str = "2026-03-01 10:01:00") -> None:
    callback(
        store,
        channel="sms",
        message_id=f"sms_{number}_{status}",
        number=number,
        status=status,
        delivery_date=when,
    )


@pytest.fixture
def filled(state_url: str, tmp_path: Path) -> StateStore:
    store = open_state(state_url, tmp_path)
    journal(store, "r1", "spring", [A, B, C, D], BatchStatus.ACCEPTED)
    journal(store, "r2", "autumn", [A], BatchStatus.REFUSED)
    report(store, A, "DELIVERED")
    report(store, B, "NOT_DELIVERED")
    report(store, C, "BLACKLISTED_NUMBER")
    report(store, D, "ACK")
    report(store, A, "ACK", "2026-03-01 10:00:30")  # late, and earlier: changes nothing
    callback(store, number=A, text="STOP", stop_date="2026-03-01 11:00:00")
    callback(store, number=B, text="Merci", reception_date="2026-03-01 11:00:00")
    callback(store, number="+33699999999", status="DELIVERED", channel="sms")  # nobody's
    callback(store, hello="world")
    ingest_all(Interpreter(store, "FR"))
    return store


def test_counts_per_campaign(filled: StateStore) -> None:
    report_ = build_status(filled)
    filled.close()
    spring, autumn = report_.campaigns[1], report_.campaigns[0]
    assert spring == CampaignStatus(
        id="spring",
        channel="sms",
        sent=4,
        delivered=1,
        not_delivered={"BLACKLISTED_NUMBER": 1, "NOT_DELIVERED": 1},
        pending=1,
        interim={"ACK": 1},
        stops=1,
        replies=1,
    )
    assert (autumn.id, autumn.sent, autumn.pending) == ("autumn", 0, 0)
    assert report_.unmatched == {"delivery": 1, "unknown": 1}
    assert report_.opted_out == 1


def test_a_campaign_not_in_state_is_an_error(filled: StateStore) -> None:
    from octoplan.errors import UsageError

    with pytest.raises(UsageError) as caught:
        build_status(filled, ["spring", "nope"])
    filled.close()
    assert str(caught.value) == "no campaign 'nope' in state; known: autumn, spring"


SAMPLE = StatusReport(
    state="x",
    campaigns=(
        CampaignStatus("big|one", "sms", 10, 6, {"NOT_DELIVERED": 2}, 2, {}, 1, 3),
        CampaignStatus("quiet", "email", 0, 0, {}, 0, {}, 0, 0),
    ),
    unmatched={"malformed": 2},
    opted_out=4,
)


def test_text_and_json() -> None:
    assert status_text(SAMPLE) == (
        "campaign  sent  delivered  not delivered  pending  STOP  replies\n"
        "big|one     10          6              2        2     1        3\n"
        "    not delivered: NOT_DELIVERED 2\n"
        "quiet        0          0              0        0     0        0\n"
        "\n"
        "4 numbers opted out by STOP reply. 2 callbacks matched no request (malformed 2): "
        "see docs/receive.md."
    )
    found = status_json(SAMPLE)
    assert found["format_version"] == "1"
    assert found["campaigns"][0] == {
        "id": "big|one",
        "channel": "sms",
        "sent": 10,
        "delivered": 6,
        "not_delivered": {"NOT_DELIVERED": 2},
        "not_delivered_total": 2,
        "pending": 2,
        "pending_by_status": {},
        "stops": 1,
        "replies": 3,
        "delivered_rate": 0.75,
    }
    assert found["unmatched"] == {"total": 2, "by_kind": {"malformed": 2}}


def test_markdown_renders_a_table_a_bar_and_a_pie() -> None:
    text = status_markdown(SAMPLE)
    assert bar(SAMPLE.campaigns[0], 10) == "██████▒▒░░"
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert html.count("<tr>") == 3  # header and two campaigns: the | in an id is escaped
    assert "<code>big|one</code>" in html
    assert (
        '```mermaid\npie showData title Messages sent, all campaigns\n    "delivered" : 6\n' in text
    )
    assert '    "not delivered" : 2\n    "pending" : 2\n```' in text


def test_markdown_stays_under_the_limit() -> None:
    many = StatusReport(
        "x",
        tuple(CampaignStatus(f"c{i:05d}", "sms", 5, 5, {}, 0, {}, 0, 0) for i in range(5000)),
        {},
        0,
    )
    text = status_markdown(many)
    assert len(text) <= 65_535
    assert "more campaigns not shown |" in text


def test_status_cli_with_no_state_creates_nothing(make_project: MakeProject) -> None:
    root = make_project()
    result = run_cli("status", cwd=root)
    assert (result.returncode, result.stdout) == (
        0,
        "Nothing sent yet: no campaign in state.\n\n0 numbers opted out by STOP reply.\n",
    )
    missing = run_cli("status", "spring", cwd=root)
    assert (missing.returncode, missing.stderr) == (
        1,
        "error: no campaign 'spring' in state; known: none (nothing was sent yet)\n",
    )
    assert not (root / ".octoplan").exists()


CAMPAIGN = 'channel: sms\nsender: ShopX\ntext: "Promo STOP au 30101"\n'


def test_explain_says_why_for_each_campaign(make_project: MakeProject) -> None:
    recipients = f'recipients: [{{phone_number: "{A}"}}, {{phone_number: "{B}"}}]\n'
    root = make_project(
        {
            "campaigns/spring.yaml": CAMPAIGN + recipients,
            "campaigns/excluded.yaml": CAMPAIGN + recipients + "exclude: [contacts/no.csv]\n",
            "campaigns/later.yaml": CAMPAIGN + recipients,
            "campaigns/others.yaml": CAMPAIGN + f'recipients: [{{phone_number: "{C}"}}]\n',
            "contacts/no.csv": f"phone_number\n{A}\n",
        }
    )
    store = open_state(".octoplan/state.db", root)
    journal(store, "r1", "spring", [A, B], BatchStatus.ACCEPTED)
    # Left after the report's date: the report cannot be about it (see receive/matcher.py).
    journal(store, "r0", "gone", [A], BatchStatus.INTENT, datetime(2026, 3, 2, tzinfo=UTC))
    report(store, A, "DELIVERED")
    ingest_all(Interpreter(store, "FR"))
    store.close()
    result = run_cli("explain", "06 12 34 56 01", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"{A}\n"
        "\n"
        "excluded (sms, marketing; campaigns/excluded.yaml): excluded\n"
        "    in an exclude list (contacts/no.csv)\n"
        "\n"
        "later (sms, marketing; campaigns/later.yaml): to send\n"
        "    in the audience: the next apply sends it\n"
        "\n"
        "others (sms, marketing; campaigns/others.yaml): not a recipient\n"
        "    not in the campaign's recipients or contacts\n"
        "\n"
        "spring (sms, marketing; campaigns/spring.yaml): sent\n"
        "    sent 2026-03-01 09:00:00 UTC in request r1 (ticket t-r1)\n"
        "    delivery report: DELIVERED (final) on 2026-03-01 09:01:00 UTC\n"
        "\n"
        "gone (sms; file removed): unconfirmed\n"
        "    campaign file removed\n"
        "    request r0 left 2026-03-02 00:00:00 UTC and is not confirmed yet: the next "
        "apply resends it under the same request_id\n"
    )
    as_json = json.loads(run_cli("explain", A, "--format", "json", cwd=root).stdout)
    assert as_json["recipient"] == A and as_json["opted_out"] is None
    assert [c["verdict"] for c in as_json["campaigns"]] == [
        "excluded",
        "to send",
        "not a recipient",
        "sent",
        "unconfirmed",
    ]
    bad = run_cli("explain", "hello", cwd=root)
    assert (bad.returncode, bad.stderr) == (
        1,
        "error: 'hello' is not a phone number (region FR), an e-mail address or a live-chat "
        "conversation id\n",
    )


def test_status_markdown_with_no_state_says_nothing_was_sent(make_project: MakeProject) -> None:
    root = make_project()
    result = run_cli("status", "--format", "markdown", cwd=root)
    assert (result.returncode, result.stdout) == (
        0,
        "<!-- octoplan-status -->\n### octoplan: delivery status\n\n"
        "Environment **default**: https://api.octopush.com/v1/public (real messages)\n\n"
        "Nothing sent yet: no campaign in state.\n\n",
    )
    assert not (root / ".octoplan").exists()
