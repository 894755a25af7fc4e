"""The Octopush API's success answers, read into typed results (octoplan/client.py sends).

A 2xx answer that is not the success shape of its endpoint raises `Malformed`: the client
treats it as no answer at all (it may have been sent), never as a success.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SendResult:
    """A confirmed send. `ticket` is None for live chat (the API answers null)."""

    ticket: str | None
    number_of_contacts: int
    total_cost: float
    number_of_sms_needed: int | None
    residual_credit: float | None
    raw: Mapping[str, Any] = field(repr=False)
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Balance:
    amount: float
    unit: str
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class ListCampaignStatus:
    """`status` is under_computation, ready_to_be_sent or failed."""

    status: str
    number_of_contacts: int | None
    cost: float | None
    raw: Mapping[str, Any] = field(repr=False)


class Malformed(Exception):
    """A 2xx answer that is not the success shape of its endpoint."""


def _number(value: Any, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Malformed(f"expected a number, got {value!r:.40}")
    return float(value)


def _count(value: Any, *, optional: bool = False) -> int | None:
    number = _number(value, optional=optional)
    if number is None:
        return None
    if number < 0 or number != int(number):
        raise Malformed(f"expected a count, got {value!r:.40}")
    return int(number)


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise Malformed("the answer is not a JSON object")
    return payload


def parse_send(payload: Any) -> SendResult:
    body = _object(payload)
    if "sms_ticket" in body:
        ticket = body["sms_ticket"]
    elif "ticket_number" in body:
        ticket = body["ticket_number"]
    else:
        raise Malformed("the answer has no sms_ticket or ticket_number")
    if ticket is not None and (not isinstance(ticket, str) or not ticket):
        raise Malformed("the ticket is not a string")
    contacts = _count(body.get("number_of_contacts"))
    assert contacts is not None
    cost = _number(body.get("total_cost"))
    assert cost is not None
    return SendResult(
        ticket=ticket,
        number_of_contacts=contacts,
        total_cost=cost,
        number_of_sms_needed=_count(body.get("number_of_sms_needed"), optional=True),
        residual_credit=_number(body.get("residual_credit"), optional=True),
        raw=body,
    )


def parse_ticket(payload: Any) -> str:
    ticket = _object(payload).get("ticket_number")
    if not isinstance(ticket, str) or not ticket:
        raise Malformed("the answer has no ticket_number")
    return ticket


def parse_status(payload: Any) -> ListCampaignStatus:
    body = _object(payload)
    status = body.get("status")
    if not isinstance(status, str) or not status:
        raise Malformed("the answer has no status")
    return ListCampaignStatus(
        status=status,
        number_of_contacts=_count(body.get("number_of_contacts"), optional=True),
        cost=_number(body.get("cost"), optional=True),
        raw=body,
    )


def parse_balance(payload: Any) -> Balance:
    body = _object(payload)
    amount = _number(body.get("amount"))
    assert amount is not None
    return Balance(amount=amount, unit=str(body.get("unit", "")), raw=body)


def parse_any(payload: Any) -> dict[str, Any]:
    # Cancels and confirmations: any 2xx is success; keep what came back.
    return payload if isinstance(payload, dict) else {}
