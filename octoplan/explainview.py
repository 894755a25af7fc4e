"""An Explanation as text or JSON. The recipient appears in clear: see octoplan/explain.py."""

from __future__ import annotations

from typing import Any

from octoplan.explain import FORMAT_VERSION, CampaignExplanation, Explanation
from octoplan.optouts import stop_day


def _purpose(c: CampaignExplanation) -> str:
    if c.marketing is None:
        return c.channel
    return f"{c.channel}, {'marketing' if c.marketing else 'transactional'}"


def explain_text(explanation: Explanation) -> str:
    lines = [explanation.recipient]
    if explanation.opted_out_at is not None:
        lines.append(
            f"Opted out by STOP reply on {stop_day(explanation.opted_out_at)}: no marketing "
            "send on sms, voice_sms or rcs since."
        )
    if not explanation.campaigns:
        lines.append("No campaign in the project or in state.")
    for c in explanation.campaigns:
        where = c.file or "file removed"
        lines.append("")
        lines.append(f"{c.id} ({_purpose(c)}; {where}): {c.verdict}")
        lines.extend(f"    {reason}" for reason in c.reasons)
    return "\n".join(lines)


def explain_json(explanation: Explanation) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "recipient": explanation.recipient,
        "opted_out": None
        if explanation.opted_out_at is None
        else {"stopped_on": stop_day(explanation.opted_out_at)},
        "campaigns": [
            {
                "id": c.id,
                "channel": c.channel,
                "file": c.file,
                "marketing": c.marketing,
                "verdict": c.verdict,
                "reasons": list(c.reasons),
                "requests": [
                    {
                        "request_id": r.request_id,
                        "status": r.status.value,
                        "sent_at": r.first_sent_at.isoformat() if r.first_sent_at else None,
                        "send_at": r.send_at,
                        "ticket": r.ticket,
                    }
                    for r in c.requests
                ],
                "delivery": None
                if c.delivery is None
                else {
                    "status": c.delivery.status,
                    "final": c.delivery.final,
                    "at": c.delivery.occurred_at.isoformat(),
                    "request_id": c.delivery.request_id,
                },
                "stops": [stop_day(at) for at in c.stops],
                "replies": c.replies,
            }
            for c in explanation.campaigns
        ],
    }
