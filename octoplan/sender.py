"""What apply and send-test send through: the Octopush client driven per endpoint, with the
voice list's create -> wait -> send flow as one journaled request."""

from __future__ import annotations

import json
import time
from typing import Any

from octoplan.client import OctopushClient, SendResult
from octoplan.client_errors import RefusedError, RequestIdAlreadyUsed
from octoplan.errors import UsageError
from octoplan.payload import MULTI_SEND, SMS_SEND, VOICE_LIST_CREATE

VOICE_LIST_WAIT = 300.0  # seconds a list campaign may stay under_computation
VOICE_LIST_POLL = 1.0


class ClientSender:
    """Adapts OctopushClient to what apply needs: send and cancel by endpoint."""

    def __init__(self, client: OctopushClient) -> None:
        self.client = client

    def send(self, endpoint: str, payload: str, request_id: str) -> SendResult:
        if endpoint in (SMS_SEND, MULTI_SEND):
            return self.client.send_encoded(endpoint, payload, request_id)
        if endpoint == VOICE_LIST_CREATE:
            return self._voice_on_list(json.loads(payload))
        raise UsageError(f"octoplan cannot send through {endpoint} yet")

    def _voice_on_list(self, body: dict[str, Any]) -> SendResult:
        """create -> wait until ready_to_be_sent -> send, as one journaled request."""
        try:
            ticket = self.client.voice_list_create(body)
        except RequestIdAlreadyUsed as used:
            # Created by an earlier, interrupted apply whose ticket we never learnt: we cannot
            # confirm it without the ticket, and must not create it twice. It stays
            # unconfirmed, then in doubt, for `state resolve` after a look at the dashboard.
            # A refusal that may have arrived: the report quotes this advice (an unconfirmed
            # request without a refusal is only told to try again, which cannot help here).
            raise RefusedError(
                "this voice list campaign was created by an earlier apply that did not record "
                "its ticket; check the Octopush dashboard, then `octoplan state resolve`",
                status=used.status,
                code=used.code,
                endpoint=VOICE_LIST_CREATE,
                request_id=str(body.get("request_id")),
                attempts=used.attempts,
                may_have_arrived=True,
            ) from None
        deadline = time.monotonic() + VOICE_LIST_WAIT
        while True:
            status = self.client.voice_list_status(ticket)
            if status.status == "ready_to_be_sent":
                break
            if status.status == "failed" or time.monotonic() > deadline:
                raise RefusedError(
                    f"voice list campaign {ticket} is {status.status}, not ready_to_be_sent",
                    endpoint=VOICE_LIST_CREATE,
                    request_id=str(body.get("request_id")),
                )
            time.sleep(VOICE_LIST_POLL)
        answer = self.client.voice_list_send(ticket)
        return SendResult(
            ticket=ticket,
            number_of_contacts=status.number_of_contacts or len(body.get("recipients", [])),
            total_cost=status.cost or 0.0,
            number_of_sms_needed=None,
            residual_credit=_float(answer.get("residual_credit")),
            raw=answer,
        )

    def cancel(self, endpoint: str, body: dict[str, Any]) -> None:
        ticket = str(body["ticket_number"])
        if endpoint == VOICE_LIST_CREATE:
            self.client.voice_list_cancel(ticket)
        elif endpoint == SMS_SEND:
            self.client.cancel_sms_campaign(ticket)
        else:
            self.client.cancel_multichannel(str(body["channel"]), ticket)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
