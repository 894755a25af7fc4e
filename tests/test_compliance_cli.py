"""Compliance and spend decided at plan time (SPEC §7, issue 15), through the real CLI.

The clock is set per command (OCTOPLAN_NOW, octoplan/clock.py); what was sent, scheduled or
cancelled is read back from the real sandbox server.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from octoplan.loader import load_project
from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli, write_files
from tests.fixtures.sandbox import SandboxFactory

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
STOP = "STOP au 30101"
PROMO = f'channel: sms\ntext: "Promo -30% {STOP}"\ncontacts: [contacts/customers.csv]\n'
TUESDAY = "2026-11-24T10:00:00+01:00"


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+3361234{i:04d}" for i in range(start, start + count)]


def csv(count: int, start: int = 0) -> str:
    return "phone_number\n" + "".join(f"{n}\n" for n in numbers(count, start))


def at(now: str, **env: str) -> dict[str, str]:
    return {"OCTOPLAN_NOW": now, **env}


def plan(root: Path, now: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return run_cli("plan", *args, cwd=root, env={**at(now), **(env or {})})


def apply(root: Path, server: SandboxServer, now: str, *args: str) -> Any:
    return run_cli("apply", "--auto-approve", *args, cwd=root, env={**server.env(), **at(now)})


def plan_json(root: Path, now: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = plan(root, now, "--format", "json", env=env)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def once(server: SandboxServer) -> dict[str, str]:
    """Recipient -> status of every delivery, each recipient once at most."""
    deliveries = [d for d in server.deliveries() if d.status != "cancelled"]
    assert [k for k, n in Counter(d.recipient for d in deliveries).items() if n > 1] == []
    return {d.recipient: d.status for d in deliveries}


@pytest.fixture
def promo(make_project: MakeProject) -> Path:
    return make_project({"campaigns/promo.yaml": PROMO, "contacts/customers.csv": csv(2)}, CONFIG)


# -- 1. marketing hours, at send_at or at the moment of sending -------------------------------


def test_a_marketing_sms_sent_now_on_a_sunday_night_fails_plan_with_the_next_window(
    promo: Path, sandbox: SandboxServer
) -> None:
    result = plan(promo, "2026-11-29T23:30:00+01:00")
    assert result.returncode == 1
    assert result.stdout.startswith(
        "! promo (sms, campaigns/promo.yaml): blocked by 1 error\n"
        "    campaigns/promo.yaml:1:1: error: campaign promo: marketing messages cannot go out "
        "now (Sun 29 Nov 2026 23:30 Europe/Paris): sun is not a marketing day (mon, tue, wed, "
        "thu, fri, sat)\n"
        "      hint: the next marketing window opens Mon 30 Nov 2026 08:00 Europe/Paris: plan "
        "and apply then, or schedule it with send_at: 2026-11-30T08:00:00+01:00\n"
    )
    # What plan fails on, apply refuses: nothing leaves, not even a balance read.
    refused = apply(promo, sandbox, "2026-11-29T23:30:00+01:00")
    assert refused.returncode == 1
    assert "error: the plan has errors: nothing was sent" in refused.stderr
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    ("now", "code"),
    [
        ("2026-11-24T07:59:00+01:00", 1),
        ("2026-11-24T08:00:00+01:00", 0),  # the window's first minute
        ("2026-11-24T19:59:00+01:00", 0),  # its last minute
        ("2026-11-24T20:00:00+01:00", 1),
        ("2026-12-25T10:00:00+01:00", 1),  # Christmas Day, a Friday
        ("2026-11-24T19:00:00Z", 1),  # 20:00 in Paris, written in UTC
    ],
)
def test_marketing_hours_boundaries_at_the_moment_of_planning(
    promo: Path, now: str, code: int
) -> None:
    assert plan(promo, now).returncode == code


def test_a_public_holiday_names_itself_and_the_next_day(promo: Path) -> None:
    result = plan(promo, "2026-12-25T10:00:00+01:00")
    assert (
        "error: campaign promo: marketing messages cannot go out now (Fri 25 Dec 2026 10:00 "
        "Europe/Paris): 2026-12-25 is a public holiday (Christmas Day)\n"
        "      hint: the next marketing window opens Sat 26 Dec 2026 08:00 Europe/Paris"
    ) in result.stdout


def test_dst_days_are_judged_in_paris_time(make_project: MakeProject) -> None:
    every_day = (
        CONFIG + "policies:\n  marketing_hours: {days: [mon, tue, wed, thu, fri, sat, sun]}\n"
    )
    root = make_project(
        {"campaigns/promo.yaml": PROMO, "contacts/customers.csv": csv(2)}, every_day
    )
    # Sunday 28 March 2027, clocks forward: 06:30Z is 08:30 in Paris, 05:59Z is 07:59.
    assert plan(root, "2027-03-28T06:30:00Z").returncode == 0
    assert plan(root, "2027-03-28T05:59:00Z").returncode == 1
    # Sunday 25 October 2026, clocks back: 18:30Z is 19:30 in Paris, 19:00Z is 20:00.
    assert plan(root, "2026-10-25T18:30:00Z").returncode == 0
    assert plan(root, "2026-10-25T19:00:00Z").returncode == 1
    # Saturday night before: the next window is Sunday 08:00, which is +02:00 already.
    closed = plan(root, "2027-03-27T21:00:00+01:00").stdout
    assert "the next marketing window opens Sun 28 Mar 2027 08:00 Europe/Paris" in closed
    assert "send_at: 2027-03-28T08:00:00+02:00" in closed


def test_a_transactional_campaign_goes_out_at_night(make_project: MakeProject) -> None:
    alert = 'channel: sms\npurpose: alert\ntext: "Code 1234"\ncontacts: [contacts/customers.csv]\n'
    root = make_project({"campaigns/code.yaml": alert, "contacts/customers.csv": csv(2)}, CONFIG)
    assert plan(root, "2026-11-29T23:30:00+01:00").returncode == 0


def test_send_at_outside_marketing_hours_for_overseas_recipients_is_an_error(
    make_project: MakeProject,
) -> None:
    files = {
        "campaigns/promo.yaml": PROMO,
        "contacts/customers.csv": "phone_number\n+33612340000\n+262692123456\n",
    }
    root = make_project(files, CONFIG)
    # 17:30 in Paris is 20:30 in Réunion.
    result = plan(root, "2026-11-24T17:30:00+01:00")
    assert result.returncode == 1
    assert (
        "    campaigns/promo.yaml:1:1: error: campaign promo: marketing messages cannot go out "
        "now for 1 recipient in RE (e.g. +262 6•• •• •• 56) (Tue 24 Nov 2026 20:30 "
        "Indian/Reunion): marketing messages go out between 08:00 and 20:00\n"
        "      hint: the next marketing window opens Wed 25 Nov 2026 08:00 Europe/Paris: plan and "
        "apply then, or schedule it with send_at: 2026-11-25T08:00:00+01:00\n"
    ) in result.stdout
    assert "+262692123456" not in result.stdout
    # A zone set for the region in policies wins.
    write_files(
        root,
        {
            "octoplan.yaml": CONFIG + "policies:\n  marketing_hours:\n"
            "    region_timezones: {RE: Europe/Paris}\n"
        },
    )
    assert plan(root, "2026-11-24T17:30:00+01:00").returncode == 0


def test_apply_that_reaches_the_end_of_the_window_stops_and_the_rest_waits(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    campaign = PROMO + "batch_size: 1\n"
    root = make_project(
        {"campaigns/promo.yaml": campaign, "contacts/customers.csv": csv(30)}, CONFIG
    )
    # Every reading of the clock moves it 1 s on: the apply starts at 19:59 and crosses
    # 20:00 after a few requests, whatever the speed of the machine.
    env = {**sandbox.env(), **at("2026-11-24T19:59:00+01:00", OCTOPLAN_CLOCK_TICK="1")}
    result = run_cli("apply", "--auto-approve", cwd=root, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    sent = once(sandbox)
    assert 0 < len(sent) < 30
    assert re.search(
        rf"^Waiting: marketing hours ended: {30 - len(sent)} requests \({30 - len(sent)} "
        r"messages\) of promo left for the next window, which opens Wed 25 Nov 2026 08:00 "
        r"Europe/Paris; run `octoplan apply` again then\.$",
        result.stdout,
        re.M,
    ), result.stdout
    assert "Apply complete" in result.stdout
    sends = [r for r in sandbox.requests() if r.path == "/v1/public/sms-campaign/send"]
    assert len(sends) == len(sent)  # the rest never left
    # At 20:05 the plan fails; the next morning the rest goes, each recipient once.
    assert plan(root, "2026-11-24T20:05:00+01:00").returncode == 1
    rest = apply(root, sandbox, "2026-11-25T08:00:00+01:00")
    assert rest.returncode == 0, rest.stdout + rest.stderr
    assert sorted(once(sandbox)) == numbers(30)
    assert plan(root, "2026-11-25T08:05:00+01:00", "--detailed-exitcode").returncode == 0


# -- 2. send_at in the past -------------------------------------------------------------------


def test_send_at_in_the_past_is_an_error_with_a_hint(make_project: MakeProject) -> None:
    past = PROMO + "send_at: 2026-11-24T09:54:00+01:00\n"
    root = make_project({"campaigns/promo.yaml": past, "contacts/customers.csv": csv(2)}, CONFIG)
    result = plan(root, TUESDAY)
    assert result.returncode == 1
    assert (
        "    campaigns/promo.yaml:4:10: error: campaign promo: send_at 2026-11-24T09:54:00+01:00 "
        "is in the past (it is now Tue 24 Nov 2026 10:00 Europe/Paris) and recipients are still "
        "to be sent\n"
        "      hint: remove send_at to send now, or set a time to come\n"
    ) in result.stdout
    # Less than 5 minutes ago: the API sends at once, no error.
    write_files(root, {"campaigns/promo.yaml": PROMO + "send_at: 2026-11-24T09:56:00+01:00\n"})
    assert plan(root, TUESDAY).returncode == 0


def test_a_past_send_at_of_a_campaign_already_sent_is_no_error(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    scheduled = PROMO + "send_at: 2026-11-26T10:00:00+01:00\n"
    root = make_project(
        {"campaigns/promo.yaml": scheduled, "contacts/customers.csv": csv(2)}, CONFIG
    )
    assert apply(root, sandbox, TUESDAY).returncode == 0
    later = plan(root, "2026-12-01T10:00:00+01:00", "--detailed-exitcode")
    assert (later.returncode, later.stdout) == (
        0,
        "  promo (sms, campaigns/promo.yaml): no changes (2 already sent)\n\n"
        "No changes. 2 messages already sent.\n",
    )


# -- 3. rescheduling and enabled: false -------------------------------------------------------

SCHEDULED = PROMO + "send_at: 2026-11-26T10:00:00+01:00\n"
MOVED = "2026-11-27T11:00:00+01:00"


@pytest.fixture
def scheduled(make_project: MakeProject, sandbox: SandboxServer) -> Path:
    root = make_project(
        {"campaigns/promo.yaml": SCHEDULED, "contacts/customers.csv": csv(2)}, CONFIG
    )
    result = apply(root, sandbox, TUESDAY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(once(sandbox).values()) == {"scheduled"}
    return root


def move_send_at(root: Path, when: str = MOVED) -> None:
    write_files(root, {"campaigns/promo.yaml": PROMO + f"send_at: {when}\n"})


def test_moving_send_at_replaces_the_scheduled_send_in_every_format(
    scheduled: Path, sandbox: SandboxServer
) -> None:
    (old,) = {d.request_id for d in sandbox.deliveries()}
    (ticket,) = {d.ticket for d in sandbox.deliveries()}
    move_send_at(scheduled)

    text = plan(scheduled, TUESDAY)
    assert text.returncode == 0, text.stdout
    new = re.search(r"\+ request (op-\w+) \(replaces", text.stdout)
    assert new is not None, text.stdout
    assert text.stdout.startswith(
        "~ promo (sms, campaigns/promo.yaml): update: 2 messages in 1 request, 2 SMS parts, "
        f"est. 0.09 EUR; send_at {MOVED}; cancel 1 scheduled request\n"
        f"    note: scheduled request {old} (2 recipients, send_at 2026-11-26T10:00:00+01:00) is "
        f"replaced (send_at moved to {MOVED}): it is cancelled, and its recipients still wanted "
        "are sent under a new request_id\n"
        f"    - cancel scheduled request {old} (ticket {ticket}, send_at "
        "2026-11-26T10:00:00+01:00): replaced\n"
        f"    + request {new[1]} (replaces {old}): 2 recipients, 2 SMS parts, est. 0.09 EUR, "
        f"send_at {MOVED}\n"
    )
    assert "text changed" not in text.stdout

    batches = plan_json(scheduled, TUESDAY)["campaigns"][0]["batches"]
    assert [(b["kind"], b["request_id"], b.get("reason"), b.get("replaces")) for b in batches] == [
        ("cancel", old, "replaced", None),
        ("new", new[1], None, [old]),
    ]
    markdown = plan(scheduled, TUESDAY, "--format", "markdown").stdout
    assert f"- cancel scheduled request {old} (ticket {ticket}" in markdown
    assert f"+ request {new[1]}: 2 recipients (replaces {old}), send_at {MOVED}" in markdown

    result = apply(scheduled, sandbox, TUESDAY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 scheduled request cancelled." in result.stdout
    by_request = {(d.request_id, d.status) for d in sandbox.deliveries()}
    assert by_request == {(old, "cancelled"), (new[1], "scheduled")}
    live = [d for d in sandbox.deliveries() if d.status == "scheduled"]
    assert {d.send_at.isoformat() for d in live if d.send_at} == {"2026-11-27T10:00:00+00:00"}
    assert plan(scheduled, TUESDAY, "--detailed-exitcode").returncode == 0


def test_moving_send_at_earlier_is_said_as_such(scheduled: Path, sandbox: SandboxServer) -> None:
    """Moved a day earlier, not later: still "send_at moved", not "the message changed"."""
    (old,) = {d.request_id for d in sandbox.deliveries()}
    earlier = "2026-11-25T10:00:00+01:00"
    move_send_at(scheduled, earlier)
    [campaign] = plan_json(scheduled, TUESDAY)["campaigns"]
    assert campaign["notes"] == [
        f"scheduled request {old} (2 recipients, send_at 2026-11-26T10:00:00+01:00) is "
        f"replaced (send_at moved to {earlier}): it is cancelled, and its recipients still "
        "wanted are sent under a new request_id"
    ]


def test_a_recipient_removed_too_late_leaves_the_others_counted_scheduled(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    """Four recipients scheduled, one removed from the list five minutes before the send: too
    late to cancel (an error), and the three still wanted are counted scheduled."""
    root = make_project(
        {"campaigns/promo.yaml": SCHEDULED, "contacts/customers.csv": csv(4)}, CONFIG
    )
    assert apply(root, sandbox, TUESDAY).returncode == 0
    (old,) = {d.request_id for d in sandbox.deliveries()}
    write_files(root, {"contacts/customers.csv": csv(3)})
    [campaign] = plan_json(root, "2026-11-26T09:55:00+01:00")["campaigns"]
    assert (campaign["desired"], campaign["scheduled"], campaign["messages_to_send"]) == (3, 3, 0)
    assert [e["message"] for e in campaign["errors"]] == [
        f"campaign promo: 1 recipient removed, but its scheduled request {old} (4 recipients) "
        "goes out at 2026-11-26T10:00:00+01:00, in 10 minutes or less: too late to cancel it"
    ]


def test_changing_the_text_of_a_scheduled_send_replaces_it(
    scheduled: Path, sandbox: SandboxServer
) -> None:
    write_files(scheduled, {"campaigns/promo.yaml": SCHEDULED.replace("-30%", "-40%")})
    assert "is replaced (the message changed for 2 recipients)" in plan(scheduled, TUESDAY).stdout
    assert apply(scheduled, sandbox, TUESDAY).returncode == 0
    live = {d.recipient: d.text for d in sandbox.deliveries() if d.status == "scheduled"}
    assert live == dict.fromkeys(numbers(2), f"Promo -40% {STOP}")


def test_too_late_to_cancel_a_changed_scheduled_send_is_an_error(
    scheduled: Path, sandbox: SandboxServer
) -> None:
    (old,) = {d.request_id for d in sandbox.deliveries()}
    move_send_at(scheduled)
    result = plan(scheduled, "2026-11-26T09:55:00+01:00")
    assert result.returncode == 1
    assert (
        f"    campaigns/promo.yaml:4:10: error: campaign promo: send_at moved to {MOVED}, but its "
        f"scheduled request {old} (2 recipients) goes out at 2026-11-26T10:00:00+01:00, in 10 "
        "minutes or less: too late to cancel it\n"
        "      hint: undo the change: Octopush cancels a scheduled send only more than 10 minutes "
        "before it goes out; once it has gone out (at 2026-11-26T10:00:00+01:00), a new text or "
        "send_at applies only to recipients not sent yet\n"
    ) in result.stdout


def test_the_cancel_margin_is_ten_minutes_to_the_second(
    scheduled: Path, sandbox: SandboxServer
) -> None:
    """10 minutes before the send exactly is too late to cancel; one second earlier is not."""
    (old,) = {d.request_id for d in sandbox.deliveries()}
    (ticket,) = {d.ticket for d in sandbox.deliveries()}
    move_send_at(scheduled)
    late = plan(scheduled, "2026-11-26T09:50:00+01:00")
    assert late.returncode == 1
    assert (
        f"    campaigns/promo.yaml:4:10: error: campaign promo: send_at moved to {MOVED}, but its "
        f"scheduled request {old} (2 recipients) goes out at 2026-11-26T10:00:00+01:00, in 10 "
        "minutes or less: too late to cancel it\n"
    ) in late.stdout
    in_time = plan(scheduled, "2026-11-26T09:49:59+01:00")
    assert in_time.returncode == 0, in_time.stdout
    assert in_time.stdout.splitlines()[-1] == (
        "Plan: 2 messages to send in 1 request, 2 SMS parts, est. 0.09 EUR; 1 scheduled request "
        "to cancel; 0 already sent."
    )
    assert (
        f"    - cancel scheduled request {old} (ticket {ticket}, send_at "
        "2026-11-26T10:00:00+01:00): replaced\n"
    ) in in_time.stdout


def test_the_sandbox_refuses_a_late_cancel_and_apply_sends_nothing_new(
    scheduled: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    move_send_at(scheduled)
    # octoplan plans 11 minutes before the send; the API's clock says 9.
    monkeypatch.setenv("OCTOPLAN_NOW", "2026-11-26T09:51:00+01:00")
    result = apply(scheduled, sandbox, "2026-11-26T09:49:00+01:00")
    assert result.returncode == 1
    assert re.search(
        r"refused: promo request op-\w+ \(2 recipients\): HTTP 400 code 132", result.stdout
    )
    assert [d.status for d in sandbox.deliveries()] == ["scheduled", "scheduled"]


def test_send_at_moved_after_the_send_went_out_plans_nothing_and_says_so(
    scheduled: Path,
) -> None:
    move_send_at(scheduled, "2026-12-03T10:00:00+01:00")
    result = plan(scheduled, "2026-11-30T10:00:00+01:00", "--detailed-exitcode")
    assert (result.returncode, result.stdout) == (
        0,
        "  promo (sms, campaigns/promo.yaml): no changes (2 already sent)\n"
        "    note: send_at moved for 2 recipients who already received the message: they are "
        "not sent again\n\n"
        "No changes. 2 messages already sent.\n",
    )


def test_send_at_moved_for_some_and_the_text_changed_for_another_are_counted_apart(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    """After the send went out, send_at moves and one contact's name changes: two of the three
    recipients got this very text at the old send_at (moved), one got another text."""
    named = (
        'channel: sms\ntext: "Promo {{ contact.first_name }} -30% STOP au 30101"\n'
        "contacts: [contacts/customers.csv]\n"
    )
    people = "phone_number,first_name\n" + "".join(
        f"{n},{name}\n" for n, name in zip(numbers(3), ["Ana", "Bob", "Cy"], strict=True)
    )
    root = make_project(
        {
            "campaigns/promo.yaml": named + "send_at: 2026-11-26T10:00:00+01:00\n",
            "contacts/customers.csv": people,
        },
        CONFIG,
    )
    assert apply(root, sandbox, TUESDAY).returncode == 0
    write_files(
        root,
        {
            "campaigns/promo.yaml": named + "send_at: 2026-12-03T10:00:00+01:00\n",
            "contacts/customers.csv": people.replace(",Cy", ",Cyril"),
        },
    )
    [campaign] = plan_json(root, "2026-11-30T10:00:00+01:00")["campaigns"]
    assert (campaign["already_sent"], campaign["changed_after_send"]) == (3, 1)
    assert campaign["notes"] == [
        "send_at moved for 2 recipients who already received the message: they are not sent again",
        "the text changed for 1 recipient who already received the old one: they are not sent "
        "again; only recipients not yet sent get the new text",
    ]


def test_enabled_false_cancels_what_is_scheduled_and_sends_nothing_new(
    scheduled: Path, sandbox: SandboxServer
) -> None:
    write_files(
        scheduled,
        {"campaigns/promo.yaml": SCHEDULED + "enabled: false\n", "contacts/customers.csv": csv(3)},
    )
    result = plan(scheduled, TUESDAY)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith(
        "- promo (sms, campaigns/promo.yaml): cancel: cancel 1 scheduled request\n"
        "    note: campaign disabled (enabled: false): nothing new is sent\n"
        "    - cancel scheduled request op-"
    )
    assert apply(scheduled, sandbox, TUESDAY).returncode == 0
    assert {d.status for d in sandbox.deliveries()} == {"cancelled"}
    again = plan(scheduled, TUESDAY, "--detailed-exitcode")
    assert again.returncode == 0, again.stdout
    # Too late to cancel: an error, the send goes out anyway.
    write_files(scheduled, {"campaigns/promo.yaml": SCHEDULED})
    assert apply(scheduled, sandbox, TUESDAY).returncode == 0
    write_files(scheduled, {"campaigns/promo.yaml": SCHEDULED + "enabled: false\n"})
    late = plan(scheduled, "2026-11-26T09:55:00+01:00")
    assert late.returncode == 1
    assert "campaigns/promo.yaml:5:10: error: campaign promo: the campaign is disabled, but" in (
        late.stdout
    )


# -- 4. purpose omitted is marketing, everywhere ----------------------------------------------


def test_init_scaffold_has_no_default_purpose_and_an_omitted_one_is_marketing(
    tmp_path: Path,
) -> None:
    assert run_cli("init", cwd=tmp_path).returncode == 0
    assert "purpose" not in load_project(tmp_path).config.defaults
    assert run_cli("validate", cwd=tmp_path).returncode == 0
    write_files(
        tmp_path,
        {
            "campaigns/flash.yaml": 'channel: sms\ntext: "Vente flash -50% ce soir"\n'
            'recipients: [{phone_number: "06 12 34 56 78"}]\n'
        },
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert 'must contain the opt-out mention "STOP au 30101"' in result.stderr


def test_defaults_purpose_alert_is_refused(make_project: MakeProject) -> None:
    files = {"campaigns/promo.yaml": PROMO, "contacts/customers.csv": csv(1)}
    root = make_project(files, "defaults: {sender: ShopX, purpose: alert}\n")
    result = run_cli("validate", cwd=root)
    assert (result.returncode, result.stderr) == (
        1,
        "octoplan.yaml:1:36: error: defaults.purpose cannot be alert: a campaign without purpose "
        "is marketing (wholesale)\n"
        "  hint: remove it, and write purpose: alert in each transactional campaign\n"
        "1 error in 1 file\n",
    )


# -- 5. max_cost and max_cost_per_campaign ----------------------------------------------------


def test_max_cost_fails_plan_at_its_line_and_apply_sends_nothing(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    config = CONFIG + "policies:\n  max_cost: 0.05\n"
    root = make_project({"campaigns/promo.yaml": PROMO, "contacts/customers.csv": csv(2)}, config)
    result = plan(root, TUESDAY)
    assert result.returncode == 1
    assert (
        "octoplan.yaml:4:13: error: estimated cost 0.09 EUR of this plan is above "
        "policies.max_cost (0.05 EUR)\n"
        "  hint: split the campaigns across applies (--campaign ID), or raise policies.max_cost\n"
    ) in result.stdout
    refused = apply(root, sandbox, TUESDAY)
    assert refused.returncode == 1
    assert "octoplan.yaml:4:13: error: estimated cost 0.09 EUR" in refused.stderr
    assert sandbox.requests() == []


def test_max_cost_per_campaign_blocks_that_campaign(make_project: MakeProject) -> None:
    config = CONFIG + "policies:\n  max_cost_per_campaign: 0.05\n"
    small = PROMO.replace("customers", "one")
    files = {
        "campaigns/promo.yaml": PROMO,
        "campaigns/small.yaml": small,
        "contacts/customers.csv": csv(2),
        "contacts/one.csv": csv(1, 10),
    }
    result = plan(make_project(files, config), TUESDAY)
    assert result.returncode == 1
    assert result.stdout.startswith(
        "! promo (sms, campaigns/promo.yaml): blocked by 1 error\n"
        "    campaigns/promo.yaml:1:1: error: campaign promo: estimated cost 0.09 EUR is above "
        "policies.max_cost_per_campaign (0.05 EUR)\n"
        "      hint: split the campaign, or raise policies.max_cost_per_campaign "
        "(octoplan.yaml:4:26)\n"
        "+ small (sms, campaigns/small.yaml): create: 1 message"
    )


# -- 6. the account's credit ------------------------------------------------------------------


def test_credit_below_the_estimate_fails_plan_and_apply_sends_nothing(
    make_project: MakeProject, sandbox_factory: SandboxFactory
) -> None:
    server = sandbox_factory(credit=1.0)
    # The project prices a premium SMS 0.05: the balance's 22 sms_premium are 1.10 EUR.
    config = CONFIG + "pricing: {sms: {FR: 0.05}}\n"
    root = make_project({"campaigns/promo.yaml": PROMO, "contacts/customers.csv": csv(90)}, config)
    result = plan(root, TUESDAY, env=server.env())
    assert result.returncode == 1
    assert result.stdout.endswith(
        "Octopush account: error: estimated cost 4.50 EUR is above the account's credit, "
        "1.10 EUR (22 sms_premium)\n"
        "  hint: top up the account, or send fewer campaigns at once (--campaign ID)\n\n"
        "Credit: error: est. 4.50 EUR of 1.10 EUR (22 sms_premium).\n"
        f"Environment: default, {server.base_url}.\n"
        "Plan: 90 messages to send in 1 request, 90 SMS parts, est. 4.50 EUR; 0 already sent. "
        "1 error: the plan cannot be applied.\n"
    )
    refused = apply(root, server, TUESDAY)
    assert refused.returncode == 1
    assert "estimated cost 4.50 EUR is above the account's credit" in refused.stderr
    assert [r.path for r in server.requests()] == [
        "/v1/public/wallet/check-balance",
        "/v1/public/wallet/check-balance",
    ]
    assert server.deliveries() == []
    server.set_credit(10.0)
    assert apply(root, server, TUESDAY).returncode == 0
    assert len(once(server)) == 90


def test_plan_without_credentials_says_it_could_not_check_the_credit(promo: Path) -> None:
    result = plan(promo, TUESDAY)
    assert (
        "Credit: not checked: no Octopush credentials (OCTOPUSH_API_LOGIN and "
        "OCTOPUSH_API_KEY) to read it with.\n"
    ) in result.stdout
    policies = plan_json(promo, TUESDAY)["policies"]
    assert {
        "rule": "credit",
        "subject": "plan",
        "status": "not checked",
        "detail": "no Octopush credentials (OCTOPUSH_API_LOGIN and OCTOPUSH_API_KEY) to read "
        "it with",
    } in policies


# -- 7. the frequency cap ---------------------------------------------------------------------

CAPPED = CONFIG + "policies:\n  frequency_cap: {max: 1, days: 7}\n"


def test_recipients_over_the_cap_are_skipped_listed_masked_and_never_sent(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    files = {
        "campaigns/a.yaml": PROMO,
        "campaigns/b.yaml": PROMO.replace("customers", "more"),
        "contacts/customers.csv": csv(2),
        "contacts/more.csv": csv(3),
    }
    root = make_project(files, CAPPED)
    result = plan(root, TUESDAY)
    assert result.returncode == 0, result.stdout
    assert (
        "+ b (sms, campaigns/b.yaml): create: 1 message in 1 request, 1 SMS part, est. 0.04 EUR; "
        "sent when applied; 2 skipped (frequency cap)\n"
        "    ! 2 recipients over the frequency cap, skipped: +33 6•• •• •• 00, +33 6•• •• •• 01\n"
    ) in result.stdout
    assert "+33612340000" not in result.stdout
    b = plan_json(root, TUESDAY)["campaigns"][1]
    assert b["capped"] == 2
    assert [x["recipients"] for x in b["batches"] if x["kind"] == "skip"] == [
        ["+33 6•• •• •• 00", "+33 6•• •• •• 01"]
    ]

    assert apply(root, sandbox, TUESDAY).returncode == 0
    sent = Counter(d.recipient for d in sandbox.deliveries())
    assert sent == {numbers(3)[0]: 1, numbers(3)[1]: 1, numbers(3)[2]: 1}
    # Journaled as skipped, costing nothing (no request is made for them).
    shown = run_cli("state", "show", "b", "--format", "json", cwd=root)
    assert json.loads(shown.stdout)["batches"][0] == {
        "request_id": "skip-37e8a825787c136eca21ef8015668807",
        "status": "skipped",
        "channel": "sms",
        "endpoint": "sms-campaign/send",
        "recipients": 2,
        "attempts": 0,
        "created_at": "2026-11-24T09:00:00+00:00",
        "updated_at": "2026-11-24T09:00:00+00:00",
        "first_sent_at": None,
        "send_at": None,
        "estimated_cost": 0.0,
        "ticket": None,
        "cost": None,
        "cost_estimated": False,
        "purpose": "wholesale",
        "error_code": None,
        "error_message": None,
    }
    # Skipped for good: a later plan, after the window, does not send them either.
    later = plan(root, "2026-12-08T10:00:00+01:00", "--detailed-exitcode")
    assert later.returncode == 0, later.stdout
    assert "2 recipients skipped by the frequency cap when this campaign was applied" in (
        later.stdout
    )


def test_the_cap_counts_sends_of_earlier_applies_and_scheduled_ones_at_their_time(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    later = PROMO + "send_at: 2026-12-04T10:00:00+01:00\n"  # 10 days on
    root = make_project({"campaigns/a.yaml": later, "contacts/customers.csv": csv(2)}, CAPPED)
    assert apply(root, sandbox, TUESDAY).returncode == 0
    write_files(root, {"campaigns/b.yaml": PROMO})
    # Now is 10 days before a's send: b is not capped.
    assert "skipped" not in plan(root, TUESDAY).stdout
    # Six days later, a's send is 4 days away: capped.
    capped = plan(root, "2026-11-30T10:00:00+01:00")
    assert "2 skipped (frequency cap)" in capped.stdout, capped.stdout


# -- 8. one price table, costs recorded as answered or estimated ------------------------------


def test_the_sandbox_charges_what_plan_estimates(example_project: Path) -> None:
    estimate = plan(example_project, TUESDAY, "--sandbox")
    assert "est. 1.09 EUR" in estimate.stdout.splitlines()[-1]
    result = run_cli("apply", "--sandbox", "--auto-approve", cwd=example_project, env=at(TUESDAY))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cost 1.09 EUR." in result.stdout


def test_a_lost_answer_confirmed_by_request_id_records_the_estimate_marked(
    promo: Path, sandbox: SandboxServer
) -> None:
    # The send is accepted and its answer lost (the balance read is not a send: the fault
    # waits for the send): the retry gets "request_id already used".
    sandbox.inject("drop")
    result = apply(promo, sandbox, TUESDAY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cost 0.09 EUR (0.09 EUR of it estimated: the API's answer was lost)." in result.stdout
    shown = run_cli("state", "show", "promo", "--format", "json", cwd=promo)
    (batch,) = json.loads(shown.stdout)["batches"]
    assert (batch["cost"], batch["cost_estimated"]) == (0.09, True)


# -- policy results for a reviewer ------------------------------------------------------------


def test_markdown_shows_the_policy_table_first(make_project: MakeProject) -> None:
    config = CAPPED + "  max_cost: 100\n  max_cost_per_campaign: 50\n"
    root = make_project({"campaigns/promo.yaml": PROMO, "contacts/customers.csv": csv(2)}, config)
    text = plan(root, TUESDAY, "--format", "markdown").stdout
    table = text[text.index("#### Policies") :].split("\n\n")[1]
    assert table.splitlines() == [
        "| Policy | Applies to | Result | Detail |",
        "|---|---|---|---|",
        "| marketing hours | `promo` | ✅ ok | now: Tue 24 Nov 2026 10:00 Europe/Paris |",
        "| max_cost_per_campaign | `promo` | ✅ ok | est. 0.09 EUR of 50.00 EUR |",
        "| max_cost | `plan` | ✅ ok | est. 0.09 EUR of 100.00 EUR |",
        "| frequency cap | `plan` | ✅ ok | nobody over 1 per 7 days |",
        "| credit | `plan` | not checked | no Octopush credentials (OCTOPUSH_API_LOGIN and "
        "OCTOPUSH_API_KEY) to read it with |",
    ]
    assert text.index("#### Policies") < text.index("| | Campaign |")
