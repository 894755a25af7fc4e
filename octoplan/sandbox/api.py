"""The sandbox's endpoints: request in (method, path, headers, bytes), `Reply` out. No HTTP here.

Prices: the price table octoplan estimates with (octoplan/prices.py, or the project's
`pricing` for the sandbox `apply --sandbox` starts), by destination region of each number: an
SMS is charged per part (`sms`, or `sms_low_cost` for that type), a voice SMS, RCS message,
e-mail or live-chat message per recipient. `wallet/check-balance` answers
`{"amount": <premium SMS parts to the home region the credit pays for>, "unit": "sms_premium",
"credit", "currency"}` (the last two are the sandbox's own additions).

Personalization (`{first_name}`, `{param1}`...) happens on `sms-campaign/send` and voice list
campaigns, as FACTS.md says; `multi-channel/send` delivers its text as written. SMS text is
optimized (transliterated to GSM-7, spaces trimmed) unless `auto_optimize_text` is false, as at
the API, so a client that forgets to turn it off sees its texts changed.

Unauthenticated helpers for tests and demos: `GET /_sandbox/deliveries[?request_id=&ticket=]`,
`GET /_sandbox/requests` (every request received, faults included), `GET|POST /_sandbox/credit`,
`POST /_sandbox/reply {"number", "text"}` (a recipient replies: STOP or anything else; the
callback goes out like the delivery reports, see callbacks.py).

A voice campaign on a list is `under_computation` until its status was polled `voice_polls`
times, then `ready_to_be_sent` (or `failed` when the credit cannot pay for it); its request_id
is taken at creation, its cost charged when it is sent.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from octoplan import prices
from octoplan.clock import now as clock_now
from octoplan.model import Pricing
from octoplan.phones import country_of, country_of_code
from octoplan.sandbox import rules
from octoplan.sandbox.rules import Refusal
from octoplan.sandbox.store import (
    DuplicateRequestId,
    NotEnoughCredit,
    SendRow,
    Store,
    Ticket,
)
from octoplan.sms import count

API_PREFIX = "/v1/public/"
SANDBOX_PREFIX = "/_sandbox/"
REQUEST_ID_WINDOW = timedelta(hours=24)
CANCEL_MARGIN = timedelta(minutes=10)
TICKET_PREFIX = {"sms": "sms", "voice_sms": "voice", "rcs": "rcs", "email": "email"}
JsonBody = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any  # JSON-serializable
    outcome: str = "accepted"  # accepted, refused, read
    code: int | None = None
    request_id: str | None = None
    ticket: str | None = None


def _refused(refusal: Refusal, request_id: str | None) -> Reply:
    return Reply(refusal.status, refusal.body, "refused", refusal.reported_code, request_id)


def request_id_in_body(body: Mapping[str, Any]) -> str | None:
    """The request_id of a send whatever its endpoint: top level, else `metadata`'s."""
    if body.get("request_id") is not None:
        return _request_id_of("", body)
    return _request_id_of("multi-channel/send", body)


def _request_id_of(path: str, body: Mapping[str, Any]) -> str | None:
    if path == "multi-channel/send":
        metadata = body.get("metadata")
        value = metadata.get("request_id") if isinstance(metadata, dict) else None
    else:
        value = body.get("request_id")
    return None if value is None or value == "" else str(value)


def _ticket_number(body: Mapping[str, Any]) -> str:
    value = body.get("ticket_number")
    if not isinstance(value, str) or not value:
        raise Refusal(131, rules.MSG_NOT_FOUND)
    return value


class SandboxApi:
    """The Octopush endpoints over a Store; safe to call from many threads."""

    def __init__(
        self,
        store: Store,
        *,
        api_login: str | None = None,
        api_key: str | None = None,
        voice_polls: int = 1,
        pricing: Pricing | None = None,
        home_region: str = "FR",
    ) -> None:
        self.store = store
        self.pricing = pricing if pricing is not None else Pricing()
        self.home_region = home_region
        self._login = api_login
        self._key = api_key
        self._voice_polls = voice_polls
        self._routes: dict[tuple[str, str], Callable[[JsonBody, datetime], Reply]] = {
            ("POST", "sms-campaign/send"): self._sms_campaign_send,
            ("DELETE", "sms-campaign/cancel"): self._sms_campaign_cancel,
            ("POST", "multi-channel/send"): self._multichannel_send,
            ("DELETE", "multi-channel/cancel"): self._multichannel_cancel,
            ("POST", "voice-campaign-on-list/create"): self._voice_list_create,
            ("GET", "voice-campaign-on-list/status"): self._voice_list_status,
            ("POST", "voice-campaign-on-list/send"): self._voice_list_send,
            ("DELETE", "voice-campaign-on-list/cancel"): self._voice_list_cancel,
            ("GET", "wallet/check-balance"): self._check_balance,
        }

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> Reply:
        """`headers` keys are lower-case; `target` is the path with its query string."""
        path, _, query = target.partition("?")
        if path.startswith(SANDBOX_PREFIX):
            return self._sandbox(method, path[len(SANDBOX_PREFIX) :], query, raw)
        if not path.startswith(API_PREFIX):
            return Reply(404, {"code": 404, "message": "Not found."}, "refused", 404)
        route = path[len(API_PREFIX) :].strip("/")
        handler = self._routes.get((method, route))
        if handler is None:
            known = any(r == route for _, r in self._routes)
            status = 405 if known else 404
            message = "Method not allowed." if known else "Not found."
            return Reply(status, {"code": status, "message": message}, "refused", status)
        if not self._authenticated(headers):
            return Reply(401, {"code": 101, "message": rules.MSG_AUTH}, "refused", 101)
        body: JsonBody
        if method == "GET":
            body = {k: v[-1] for k, v in parse_qs(query).items()}
        else:
            try:
                parsed = json.loads(raw) if raw.strip() else {}
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                return Reply(
                    400, {"code": 400, "message": "Malformed JSON payload."}, "refused", 400
                )
            body = parsed
        request_id = _request_id_of(route, body)
        try:
            reply = handler(body, clock_now())
        except Refusal as refusal:
            return _refused(refusal, request_id)
        except DuplicateRequestId:
            return _refused(Refusal(120, rules.MSG_REQUEST_ID_USED), request_id)
        except NotEnoughCredit:
            return _refused(Refusal(104, rules.MSG_CREDIT), request_id)
        return reply

    def set_credentials(self, api_login: str | None, api_key: str | None) -> None:
        self._login, self._key = api_login, api_key

    def _authenticated(self, headers: Mapping[str, str]) -> bool:
        login = headers.get("api-login", "")
        key = headers.get("api-key", "")
        if not login or not key:
            return False
        if self._login is not None and not secrets.compare_digest(login, self._login):
            return False
        return self._key is None or secrets.compare_digest(key, self._key)

    def _sandbox(self, method: str, path: str, query: str, raw: bytes) -> Reply:
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        if method == "GET" and path == "deliveries":
            found = self.store.deliveries(
                clock_now().timestamp(),
                request_id=params.get("request_id"),
                ticket=params.get("ticket"),
            )
            return Reply(200, {"deliveries": [d.to_json() for d in found]}, "read")
        if method == "GET" and path == "requests":
            logged = self.store.requests()
            return Reply(200, {"requests": [r.to_json() for r in logged]}, "read")
        if method == "POST" and path == "reply":
            return self._reply(raw)
        if method == "GET" and path == "credit":
            return Reply(200, {"credit": self.store.credit()}, "read")
        if method == "POST" and path == "credit":
            try:
                value = float(json.loads(raw)["credit"])
            except (ValueError, KeyError, TypeError):
                return Reply(400, {"code": 400, "message": 'Send {"credit": N}.'}, "refused", 400)
            self.store.set_credit(value)
            return Reply(200, {"credit": value}, "read")
        return Reply(404, {"code": 404, "message": "Not found."}, "refused", 404)

    def _reply(self, raw: bytes) -> Reply:
        """A recipient answers (`{"number", "text"}`): an inbound reply, or an opt-out if its
        first word is STOP; posted to the callback URL like the delivery reports."""
        try:
            body = json.loads(raw)
            number, text = body["number"], body["text"]
        except (ValueError, KeyError, TypeError):
            body = None
        if not isinstance(body, dict) or not isinstance(number, str) or not isinstance(text, str):
            message = 'Send {"number": "+33612345678", "text": "STOP"}.'
            return Reply(400, {"code": 400, "message": message}, "refused", 400)
        self.store.add_reply(number.strip(), text, clock_now().timestamp())
        return Reply(201, {"number": number.strip(), "text": text}, "read")

    # -- acceptance -------------------------------------------------------------------------

    def _accept(
        self,
        *,
        endpoint: str,
        channel: str,
        body: JsonBody,
        request_id: str | None,
        messages: list[tuple[str, str]],
        sender: str | None,
        purpose: str,
        send_at: datetime | None,
        cost: float,
        now: datetime,
    ) -> tuple[str | None, float]:
        """Record a send (or only price it in simulation mode): (ticket, residual credit)."""
        prefix = TICKET_PREFIX.get(channel)
        ticket = f"{prefix}_{secrets.token_hex(7)[:13]}" if prefix else None
        if rules.truthy(body.get("simulation_mode", False)):
            return ticket, self.store.credit()
        at = now.timestamp()
        due = send_at.timestamp() if send_at else None
        send: SendRow = (
            ticket,
            channel,
            sender,
            request_id,
            purpose,
            due,
            at,
            json.dumps(messages),
        )
        record = None
        if ticket is not None:
            status = "scheduled" if due is not None and due > at else "sent"
            record = Ticket(
                ticket, channel, endpoint, status, at, due, len(messages), cost, request_id, 0, None
            )
        residual = self.store.accept(
            ticket=record,
            request_id=request_id,
            window_start=(now - REQUEST_ID_WINDOW).timestamp(),
            now=at,
            cost=cost,
            send=send,
        )
        return ticket, residual

    def _cost(self, product: str, units: list[tuple[str, int]]) -> float:
        """What (address, parts or 1) messages cost, each priced by its destination region,
        as octoplan estimates them (an address that is not a number: the `default` price)."""
        table: dict[str, float] = getattr(self.pricing, product, {})
        by_code: dict[str, float | None] = {}
        total = 0.0
        for address, units_ in units:
            code = address[:4] if address.startswith("+") else ""
            if code not in by_code:
                by_code[code] = (
                    prices.price_in(table, country_of_code(code))
                    if code and country_of_code(code) is not None
                    else None
                )
            price = by_code[code]
            if price is None:  # a calling code of several regions, or not a number
                region = country_of(address) if code else None
                price = prices.price_in(table, region)
            total += (price or 0.0) * units_
        return round(total, 6)

    # -- SMS --------------------------------------------------------------------------------

    def _sms_messages(
        self, body: JsonBody, text: str, *, personalize: bool
    ) -> tuple[list[tuple[str, str]], list[int]]:
        """(number, delivered text) per recipient, and each text's SMS parts."""
        recipients = rules.check_recipients(body)
        optimize = rules.truthy(body.get("auto_optimize_text", True))
        messages = rules.phone_messages(recipients, text, personalize=personalize)
        if optimize:
            messages = [(number, rules.optimize_text(message)) for number, message in messages]
        return messages, [count(message).segments for _, message in messages]

    def _sms_campaign_send(self, body: JsonBody, now: datetime) -> Reply:
        return self._send_sms(body, now, endpoint="sms-campaign/send", sms_type=body.get("type"))

    def _send_sms(self, body: JsonBody, now: datetime, *, endpoint: str, sms_type: Any) -> Reply:
        text = rules.check_text(body)
        multichannel = endpoint == "multi-channel/send"
        messages, parts = self._sms_messages(body, text, personalize=not multichannel)
        sender = rules.check_sender(body, channel="sms")
        purpose = rules.check_purpose(body)
        rules.check_stop(text, purpose)
        send_at = rules.check_send_at(body)
        cost = self._cost(
            prices.product("sms", sms_type if isinstance(sms_type, str) else None),
            [(number, n) for (number, _), n in zip(messages, parts, strict=True)],
        )
        request_id = _request_id_of(endpoint, body)
        ticket, residual = self._accept(
            endpoint=endpoint,
            channel="sms",
            body=body,
            request_id=request_id,
            messages=messages,
            sender=sender,
            purpose=purpose,
            send_at=send_at,
            cost=cost,
            now=now,
        )
        answer = {
            "sms_ticket": ticket,
            "number_of_contacts": len(messages),
            "total_cost": cost,
            "number_of_sms_needed": sum(parts),
            "residual_credit": residual,
        }
        return Reply(201, answer, request_id=request_id, ticket=ticket)

    def _cancel(self, body: JsonBody, now: datetime, *, channel: str) -> Reply:
        number = _ticket_number(body)
        ticket = self.store.ticket(number)
        if ticket is None or ticket.channel != channel or ticket.endpoint.startswith("voice"):
            raise Refusal(131, rules.MSG_NOT_FOUND)
        margin = (now + CANCEL_MARGIN).timestamp()
        if ticket.status != "scheduled" or ticket.send_at is None or ticket.send_at <= margin:
            raise Refusal(132, rules.MSG_TOO_LATE)
        self.store.cancel_scheduled(number, ticket.cost)
        return Reply(200, {"ticket_number": number, "status": "cancelled"}, ticket=number)

    def _sms_campaign_cancel(self, body: JsonBody, now: datetime) -> Reply:
        return self._cancel(body, now, channel="sms")

    # -- multi-channel ----------------------------------------------------------------------

    def _multichannel_send(self, body: JsonBody, now: datetime) -> Reply:
        channel = body.get("channel")
        if channel not in rules.CHANNELS:
            raise rules.field_error(
                "channel", 400, "[channel] field should be one of: " + ", ".join(rules.CHANNELS)
            )
        metadata = body.get("metadata")
        meta: JsonBody = metadata if isinstance(metadata, dict) else {}
        if channel == "sms":
            return self._send_sms(
                body, now, endpoint="multi-channel/send", sms_type=meta.get("type")
            )
        if channel == "email":
            text = rules.check_text(body, limit=rules.MAX_EMAIL_TEXT)
        else:
            text = rules.check_text(body)
        recipients = rules.check_recipients(body)
        if channel == "email":
            keys = [rules.email_of(r) for r in recipients]
            rules.check_email_address(meta.get("email_from"), "email_from")
            subject = meta.get("subject")
            if subject is not None and len(str(subject)) > rules.MAX_SUBJECT:
                raise rules.field_error(
                    "subject",
                    400,
                    f"[subject] field must not exceed {rules.MAX_SUBJECT} characters.",
                )
        elif channel == "live_chat":
            keys = [rules.live_chat_key_of(r) for r in recipients]
        else:
            keys = [rules.phone_of(r, i) for i, r in enumerate(recipients)]
        sender = rules.check_sender(body, channel=channel)
        if channel == "voice_sms":
            rules.check_voice_language(meta.get("voice_language"))
        purpose = rules.check_purpose(body)
        send_at = rules.check_send_at(body)
        cost = self._cost(channel, [(key, 1) for key in keys])
        request_id = _request_id_of("multi-channel/send", body)
        ticket, residual = self._accept(
            endpoint="multi-channel/send",
            channel=channel,
            body=body,
            request_id=request_id,
            messages=[(key, text) for key in keys],
            sender=sender,
            purpose=purpose,
            send_at=send_at,
            cost=cost,
            now=now,
        )
        answer: JsonBody = {
            "ticket_number": ticket,
            "number_of_contacts": len(keys),
            "total_cost": cost,
            "residual_credit": residual,
        }
        if channel == "voice_sms":
            answer["estimated_duration"] = _voice_duration(text)
        return Reply(201, answer, request_id=request_id, ticket=ticket)

    def _multichannel_cancel(self, body: JsonBody, now: datetime) -> Reply:
        channel = body.get("channel")
        if channel not in rules.CHANNELS:
            raise Refusal(131, rules.MSG_NOT_FOUND)
        return self._cancel(body, now, channel=str(channel))

    # -- voice campaign on a list -----------------------------------------------------------

    def _voice_list_create(self, body: JsonBody, now: datetime) -> Reply:
        text = rules.check_text(body)
        recipients = rules.check_recipients(body)
        messages = rules.phone_messages(recipients, text, personalize=True)
        sender = rules.check_sender(body, channel="voice_sms")
        rules.check_voice_language(body.get("voice_language"))
        purpose = rules.check_purpose(body)
        send_at = rules.check_send_at(body)
        request_id = _request_id_of("voice-campaign-on-list/create", body)
        number = f"voice_{secrets.token_hex(7)[:13]}"
        if rules.truthy(body.get("simulation_mode", False)):
            return Reply(201, {"ticket_number": number}, request_id=request_id, ticket=number)
        pending = json.dumps({"messages": messages, "sender": sender, "purpose": purpose})
        at = now.timestamp()
        record = Ticket(
            number,
            "voice_sms",
            "voice-campaign-on-list",
            "under_computation",
            at,
            send_at.timestamp() if send_at else None,
            len(messages),
            self._cost("voice_sms", [(number, 1) for number, _ in messages]),
            request_id,
            0,
            pending,
        )
        self.store.accept(
            ticket=record,
            request_id=request_id,
            window_start=(now - REQUEST_ID_WINDOW).timestamp(),
            now=at,
            cost=0.0,
            send=None,
        )
        return Reply(201, {"ticket_number": number}, request_id=request_id, ticket=number)

    def _list_ticket(self, body: JsonBody) -> Ticket:
        ticket = self.store.ticket(_ticket_number(body))
        if ticket is None or ticket.endpoint != "voice-campaign-on-list":
            raise Refusal(131, rules.MSG_NOT_FOUND)
        return ticket

    def _voice_list_status(self, body: JsonBody, now: datetime) -> Reply:
        ticket = self._list_ticket(body)
        status = ticket.status
        if status == "under_computation":
            polls = self.store.count_poll(ticket.ticket)
            if polls >= self._voice_polls:
                status = "failed" if ticket.cost > self.store.credit() else "ready_to_be_sent"
                self.store.set_ticket_status(ticket.ticket, status, expect="under_computation")
        answer = {
            "number_of_contacts": ticket.number_of_contacts,
            "cost": ticket.cost,
            "status": status,
        }
        return Reply(200, answer, "read", ticket=ticket.ticket)

    def _voice_list_send(self, body: JsonBody, now: datetime) -> Reply:
        ticket = self._list_ticket(body)
        messages: list[list[str]] = []
        sender: str | None = None
        purpose = "wholesale"
        if ticket.pending:
            pending = json.loads(ticket.pending)
            messages, sender, purpose = pending["messages"], pending["sender"], pending["purpose"]
        send: SendRow = (
            ticket.ticket,
            "voice_sms",
            sender,
            ticket.request_id,
            purpose,
            ticket.send_at,
            now.timestamp(),
            json.dumps(messages),
        )
        residual = None
        if ticket.status == "ready_to_be_sent":
            residual = self.store.confirm_list_campaign(ticket.ticket, send=send, cost=ticket.cost)
        if residual is None:
            current = self.store.ticket(ticket.ticket)
            state = current.status if current else "cancelled"
            message = {
                "sent": "Campaign was already sent.",
                "cancelled": "Campaign was cancelled.",
            }.get(state, rules.MSG_NOT_READY)
            raise Refusal(133, message)
        answer = {
            "ticket_number": ticket.ticket,
            "number_of_contacts": ticket.number_of_contacts,
            "total_cost": ticket.cost,
            "residual_credit": residual,
        }
        return Reply(200, answer, ticket=ticket.ticket, request_id=ticket.request_id)

    def _voice_list_cancel(self, body: JsonBody, now: datetime) -> Reply:
        ticket = self._list_ticket(body)
        for state in ("under_computation", "ready_to_be_sent", "failed"):
            if self.store.set_ticket_status(ticket.ticket, "cancelled", expect=state):
                return Reply(
                    200,
                    {"ticket_number": ticket.ticket, "status": "cancelled"},
                    ticket=ticket.ticket,
                )
        raise Refusal(132, rules.MSG_TOO_LATE)

    # -- wallet -----------------------------------------------------------------------------

    def _check_balance(self, body: JsonBody, now: datetime) -> Reply:
        credit = self.store.credit()
        unit = self.pricing.price("sms", self.home_region) or 0.0
        answer = {
            "amount": math.floor(credit / unit + 1e-9) if unit else 0,
            "unit": "sms_premium",
            "credit": credit,
            "currency": "EUR",
        }
        return Reply(200, answer, "read")


def _voice_duration(text: str) -> int:
    """Seconds, in 30-second steps like the page's example (about 2.5 words a second)."""
    seconds = len(text.split()) / 2.5
    return 30 * max(1, math.ceil(seconds / 30))
