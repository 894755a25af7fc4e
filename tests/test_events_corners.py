"""Callback payloads of rarer shapes (octoplan/events.py): an SMS-shaped report about an
e-mail address, numbers sent as JSON numbers, a reply from a number that is not one, and an
e-mail report list holding something else than objects."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from octoplan.events import Fact, Kind, interpret

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AT = datetime(2026, 3, 1, 9, 15, tzinfo=UTC)  # 10:15 in Paris


def facts(body: object) -> list[Fact]:
    return interpret("application/json", json.dumps(body).encode(), RECEIVED, "FR")


def test_a_report_about_an_address_is_an_email_report_whatever_its_channel() -> None:
    report = {
        "message_id": "m1",
        "number": " Zoe@Example.fr ",
        "status": "delivered",
        "delivery_date": "2026-03-01 10:15:00",
    }
    assert facts(report) == [
        Fact(
            Kind.DELIVERY,
            channel="email",
            recipient="zoe@example.fr",
            status="DELIVERED",
            message_id="m1",
            occurred_at=AT,
        )
    ]


def test_values_sent_as_json_numbers_or_objects_are_read_as_text() -> None:
    report = {
        "message_id": 17,
        "number": 33612345678,
        "status": {"code": 1},
        "delivery_date": "2026-03-01 10:15:00",
    }
    assert facts(report) == [
        Fact(
            Kind.DELIVERY,
            channel="sms",
            recipient="+33612345678",
            status='{"CODE": 1}',
            message_id="17",
            occurred_at=AT,
        )
    ]


def test_a_reply_from_what_is_not_a_number_says_so_without_echoing_it() -> None:
    reply = {
        "message_id": "r1",
        "number": "12",
        "text": "Merci",
        "reception_date": "2026-03-01 10:15:00",
    }
    assert facts(reply) == [
        Fact(
            Kind.REPLY,
            message_id="r1",
            occurred_at=AT,
            problem="the number (2 characters) is not a valid phone number",
        )
    ]


def test_an_email_report_list_with_a_non_object_and_an_empty_status() -> None:
    found = facts({"deliveries": ["x", {"email": "a@b.fr", "status": ""}]})
    assert found == [
        Fact(Kind.MALFORMED, problem="a `deliveries` entry is not an object"),
        Fact(
            Kind.DELIVERY,
            channel="email",
            recipient="a@b.fr",
            occurred_at=RECEIVED,  # no date given: when it was received
            problem="the delivery report has an empty status",
        ),
    ]
