"""A StatusReport as text (terminals), JSON (scripts) and Markdown (a comment after the merge).

No view names a recipient: status is counts only. The Markdown one has a text bar per campaign
(plain characters: it renders the same on GitHub, GitLab and in a terminal) and a Mermaid pie
of all campaigns together (GitHub and GitLab both draw Mermaid blocks), and stays under
GitHub's comment limit: campaigns past it are summed up in one line.
"""

from __future__ import annotations

from typing import Any

from octoplan.markdown import GITHUB_LIMIT, cell
from octoplan.status import CampaignStatus, StatusReport
from octoplan.words import plural

FORMAT_VERSION = "1"
MARKER = "<!-- octoplan-status -->"  # lets CI find and update its own comment
BAR_WIDTH = 20


def status_json(report: StatusReport) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "state": report.state,
        "campaigns": [
            {
                "id": c.id,
                "channel": c.channel,
                "sent": c.sent,
                "delivered": c.delivered,
                "not_delivered": c.not_delivered,
                "not_delivered_total": c.not_delivered_total,
                "pending": c.pending,
                "pending_by_status": c.interim,
                "stops": c.stops,
                "replies": c.replies,
                "delivered_rate": None if c.delivered_rate is None else round(c.delivered_rate, 4),
            }
            for c in report.campaigns
        ],
        "unmatched": {"total": report.unmatched_total, "by_kind": report.unmatched},
        "opted_out": report.opted_out,
    }


def _rate(c: CampaignStatus) -> str:
    return "-" if c.delivered_rate is None else f"{c.delivered_rate:.0%}"


def status_text(report: StatusReport) -> str:
    if not report.campaigns:
        lines = ["Nothing sent yet: no campaign in state."]
    else:
        header = ("campaign", "sent", "delivered", "not delivered", "pending", "STOP", "replies")
        rows = [
            (
                c.id,
                f"{c.sent:,}",
                f"{c.delivered:,}",
                f"{c.not_delivered_total:,}",
                f"{c.pending:,}",
                f"{c.stops:,}",
                f"{c.replies:,}",
            )
            for c in report.campaigns
        ]
        widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

        def line(row: tuple[str, ...]) -> str:
            first = row[0].ljust(widths[0])
            cells = zip(row[1:], widths[1:], strict=True)
            rest = "  ".join(value.rjust(width) for value, width in cells)
            return f"{first}  {rest}".rstrip()

        lines = [line(header)]
        for c, row in zip(report.campaigns, rows, strict=True):
            lines.append(line(row))
            if c.not_delivered:
                detail = ", ".join(f"{s} {n:,}" for s, n in c.not_delivered.items())
                lines.append(f"    not delivered: {detail}")
            if c.interim:
                detail = ", ".join(f"{s} {n:,}" for s, n in c.interim.items())
                lines.append(f"    pending, reported so far: {detail}")
    lines.append("")
    lines.append(_footer(report))
    return "\n".join(lines)


def _footer(report: StatusReport) -> str:
    text = f"{plural(report.opted_out, 'number')} opted out by STOP reply."
    if report.unmatched_total:
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in report.unmatched.items())
        text += (
            f" {plural(report.unmatched_total, 'callback')} matched no request ({kinds}): "
            "see docs/receive.md."
        )
    return text


def bar(c: CampaignStatus, width: int = BAR_WIDTH) -> str:
    """delivered █, not delivered ▒, pending ░, in proportion to what was sent."""
    if not c.sent:
        return ""
    full = round(width * c.delivered / c.sent)
    failed = min(round(width * c.not_delivered_total / c.sent), width - full)
    return "█" * full + "▒" * failed + "░" * (width - full - failed)


def _pie(report: StatusReport) -> list[str]:
    slices = [
        ("delivered", sum(c.delivered for c in report.campaigns)),
        ("not delivered", sum(c.not_delivered_total for c in report.campaigns)),
        ("pending", sum(c.pending for c in report.campaigns)),
    ]
    if not any(n for _, n in slices):
        return []
    return [
        "```mermaid",
        "pie showData title Messages sent, all campaigns",
        *(f'    "{label}" : {n}' for label, n in slices if n),
        "```",
        "",
    ]


def status_markdown(
    report: StatusReport, limit: int = GITHUB_LIMIT, *, environment: str | None = None
) -> str:
    """`environment`: a line saying where the status was read (markdown.destination_line)."""
    head = [MARKER, "### octoplan: delivery status", ""]
    if environment is not None:
        head += [environment, ""]
    if not report.campaigns:
        return "\n".join([*head, "Nothing sent yet: no campaign in state.", ""])
    table = [
        "| campaign | sent | delivered | not delivered | pending | STOP | replies | |",
        "|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    tail = ["", "`█` delivered `▒` not delivered `░` pending", "", *_pie(report)]
    details = [
        f"- `{cell(c.id)}` not delivered: "
        + ", ".join(f"{s} {n:,}" for s, n in c.not_delivered.items())
        for c in report.campaigns
        if c.not_delivered
    ]
    if details:
        tail.extend([*details, ""])
    tail.extend([_footer(report), ""])
    budget = limit - len("\n".join([*head, *table, *tail])) - 200
    left_out = 0
    for c in report.campaigns:
        row = (
            f"| `{cell(c.id)}` | {c.sent:,} | {c.delivered:,} | {c.not_delivered_total:,} | "
            f"{c.pending:,} | {c.stops:,} | {c.replies:,} | `{bar(c)}` {_rate(c)} |"
        )
        if len(row) + 1 > budget:
            left_out += 1
            continue
        budget -= len(row) + 1
        table.append(row)
    if left_out:
        table.append(f"| {plural(left_out, 'more campaign')} not shown | | | | | | | |")
    return "\n".join([*head, *table, *tail])
