"""Reading Octopush callbacks: types by their fields, dates in Europe/Paris, identity for dedup."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from octoplan.events import (
    Fact,
    Kind,
    dedup_key,
    interpret,
    is_stop,
    normalize_number,
    parse_callback_date,
)

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def facts(body: object, content_type: str = JSON) -> list[Fact]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return interpret(content_type, raw, RECEIVED, "FR")


def test_a_delivery_report_in_json() -> None:
    found = facts(
        {
            "channel": "sms",
            "message_id": "sms_5fa1",
            "number": "+33612345678",
            "status": "delivered",
            "delivery_date": "2026-03-01 10:15:00",
            "meta_data": {},
        }
    )
    # 10:15 in Paris in winter is 09:15 UTC.
    assert found == [
        Fact(
            Kind.DELIVERY,
            channel="sms",
            recipient="+33612345678",
            status="DELIVERED",
            message_id="sms_5fa1",
            occurred_at=datetime(2026, 3, 1, 9, 15, tzinfo=UTC),
        )
    ]
    assert found[0].final


def test_a_delivery_report_in_form_fields_with_a_number_without_plus() -> None:
    body = b"message_id=voice_9&number=33612345678&status=ACK&delivery_date=2026-07-01+10%3A00%3A00"
    (fact,) = facts(body, FORM)
    assert (fact.kind, fact.channel, fact.recipient, fact.status, fact.final) == (
        Kind.DELIVERY,
        "voice_sms",  # told by the message id
        "+33612345678",
        "ACK",
        False,
    )
    assert fact.occurred_at == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # summer time: UTC+2


def test_a_stop_and_a_reply_saying_stop_are_opt_outs_a_reply_is_a_reply() -> None:
    stop = facts({"number": "0612345678", "text": "Stop", "stop_date": "2026-03-01 11:00:00"})
    said_stop = facts({"number": "+33612345678", "text": "stop svp", "reception_date": ""})
    reply = facts({"number": "+33612345678", "text": "Merci !", "reception_date": ""})
    assert [f.kind for f in stop + said_stop + reply] == [Kind.STOP, Kind.STOP, Kind.REPLY]
    assert stop[0].recipient == "+33612345678"
    assert stop[0].occurred_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert said_stop[0].occurred_at == RECEIVED  # no date: when it was received


def test_email_deliveries_list_one_fact_each() -> None:
    found = facts(
        {
            "deliveries": [
                {
                    "email": "Ana@Example.com",
                    "status_history": [
                        {"status": "DELIVERED", "date": "2026-03-01 10:00:00"},
                        {"status": "OPENED", "date": "2026-03-01 10:05:00"},
                    ],
                },
                {"email": "not-an-address", "status": "BOUNCED"},
            ]
        }
    )
    assert [(f.recipient, f.status, f.problem) for f in found] == [
        ("ana@example.com", "OPENED", None),
        (None, "BOUNCED", "the recipient (14 characters) is not a valid e-mail address"),
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "kind", "problem"),
    [
        (b"\xff\xfe", JSON, Kind.MALFORMED, "the body is neither JSON nor form data"),
        (b"{not json", JSON, Kind.MALFORMED, "the body is neither JSON nor form data"),
        (b"[1, 2]", JSON, Kind.MALFORMED, "the body is not a JSON object"),
        (b'{"hello": "world"}', JSON, Kind.UNKNOWN, "no known callback type has these fields"),
        (b"", FORM, Kind.MALFORMED, "the body is neither JSON nor form data"),
        (
            b'{"number": "12", "status": "DELIVERED"}',
            JSON,
            Kind.DELIVERY,
            "the recipient (2 characters) is not a valid number or e-mail",
        ),
        (
            b'{"number": "+33612345678", "status": ""}',
            JSON,
            Kind.DELIVERY,
            "the delivery report has an empty status",
        ),
        (b'{"deliveries": []}', JSON, Kind.MALFORMED, "`deliveries` is not a non-empty list"),
    ],
    ids=[
        "binary",
        "broken-json",
        "array",
        "unknown",
        "empty",
        "bad-number",
        "no-status",
        "empty-list",
    ],
)
def test_what_cannot_be_used_says_why_and_never_raises(
    body: bytes, content_type: str, kind: Kind, problem: str
) -> None:
    (fact,) = interpret(content_type, body, RECEIVED, "FR")
    assert (fact.kind, fact.problem) == (kind, problem)


def test_a_repeated_callback_has_one_key_whatever_its_form() -> None:
    report = {
        "channel": "sms",
        "message_id": "sms_1",
        "number": "+33612345678",
        "status": "DELIVERED",
        "delivery_date": "2026-03-01 10:00:00",
    }
    again = dict(reversed(list(report.items())), unit_price=0.045)  # reordered, a field more
    form = "message_id=sms_1&number=%2B33612345678&status=DELIVERED"
    assert dedup_key(JSON, json.dumps(report).encode()) == dedup_key(
        JSON, json.dumps(again).encode()
    )
    assert dedup_key(JSON, json.dumps(report).encode()) == dedup_key(FORM, form.encode())
    # The same message reported ACK then DELIVERED: two events.
    ack = {**report, "status": "ACK"}
    assert dedup_key(JSON, json.dumps(ack).encode()) != dedup_key(JSON, json.dumps(report).encode())
    # Two different unreadable bodies are two events; the same one twice is one.
    assert dedup_key(JSON, b"x") == dedup_key(JSON, b"x") != dedup_key(JSON, b"y")
    # The number is not in the key in clear.
    assert "33612345678" not in dedup_key(JSON, json.dumps(report).encode())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01 10:00:00", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
        ("2026-08-01T10:00:00", datetime(2026, 8, 1, 8, 0, tzinfo=UTC)),
        ("2026-03-01T10:00:00+00:00", datetime(2026, 3, 1, 10, 0, tzinfo=UTC)),
        # 02:30 on the last Sunday of October happens twice: the first one (still UTC+2).
        ("2026-10-25 02:30:00", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("yesterday", None),
        ("2026-03-01", None),
        ("", None),
    ],
)
def test_callback_dates(text: str, expected: datetime | None) -> None:
    assert parse_callback_date(text) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+33612345678", "+33612345678"),
        ("33612345678", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("06 12 34 56 78", "+33612345678"),
        ("06 12 34 56 7", None),
        ("", None),
        ("hello", None),
    ],
)
def test_numbers_in_any_format(raw: str, expected: str | None) -> None:
    assert normalize_number(raw, "FR") == expected


def test_stop_is_the_first_word() -> None:
    assert [is_stop(t) for t in ("STOP", " stop.", "Stop merci", "non stop", "stopper")] == [
        True,
        True,
        True,
        False,
        False,
    ]
