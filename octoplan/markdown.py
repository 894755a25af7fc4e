"""A Plan as a pull-request comment (GitHub / GitLab flavoured Markdown).

Layout, in the order a reviewer needs it: errors and warnings, a summary table, then one
collapsible section per campaign with its changes and a few masked sample messages. The
comment stays under GitHub's 65,535-character limit: sections that do not fit are replaced by
one line saying how many were left out; a table is never cut in the middle.
"""

from __future__ import annotations

import re

from octoplan.errors import count_of
from octoplan.mask import mask_recipient
from octoplan.plan import SYMBOLS, Action, BatchKind, CampaignPlan, Plan
from octoplan.planview import cancel_line, capped_line, done, money, shard_line, when
from octoplan.sentdiff import diff_lines
from octoplan.target import Destination
from octoplan.words import plural

GITHUB_LIMIT = 65_535
MARKER = "<!-- octoplan-plan -->"  # lets CI find and update its own comment
SAMPLES = 3
TEXT_PREVIEW = 300


def cell(text: str) -> str:
    """Make text safe inside a table cell: one line, no column breaks, no HTML."""
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("`", "\\`").replace("\r\n", "\n").replace("\n", "<br>")
    if len(text) > TEXT_PREVIEW:
        text = text[:TEXT_PREVIEW] + "…"
    return text


def _counts(plan: Plan) -> str:
    by_action: dict[Action, int] = {}
    for c in plan.campaigns:
        by_action[c.action] = by_action.get(c.action, 0) + 1
    parts = [
        f"{by_action.get(a, 0)} to {a.value}"
        for a in (Action.CREATE, Action.UPDATE, Action.CANCEL)
        if by_action.get(a)
    ]
    if by_action.get(Action.BLOCKED):
        parts.append(f"{by_action[Action.BLOCKED]} blocked")
    return ", ".join(parts) or "no changes"


_VERDICT = {"ok": "✅ ok", "error": "❌ error", "skipped": "⚠️ skipped", "warning": "⚠️"}


def _policies(plan: Plan, budget: int) -> list[str]:
    """The policies' verdicts (hours, cost vs budget, credit, caps): what a reviewer reads
    first. Errors lead; a row that does not fit is left out, and a line says how many."""
    if not plan.policies:
        return []
    ranked = sorted(plan.policies, key=lambda r: r.status != "error")
    head = ["#### Policies", "", "| Policy | Applies to | Result | Detail |", "|---|---|---|---|"]
    used = sum(len(x) + 1 for x in head) + 100
    rows: list[str] = []
    for r in ranked:
        row = (
            f"| {cell(r.rule)} | `{cell(r.subject)}` | {_VERDICT.get(r.status, cell(r.status))} "
            f"| {cell(r.detail)} |"
        )
        if used + len(row) + 1 > budget:
            rows.append(f"| … {len(ranked) - len(rows):,} more | | | |")
            break
        rows.append(row)
        used += len(row) + 1
    return [*head, *rows, ""]


def _summary_rows(plan: Plan) -> list[str]:
    rows = []
    for c in plan.campaigns:
        sends = c.sends
        parts = sum(b.parts for b in sends)
        rows.append(
            f"| `{SYMBOLS[c.action].strip() or '·'}` | `{cell(c.id)}` | {c.channel} | "
            f"{c.action.value} | {c.messages_to_send:,} | {len(sends):,} | "
            f"{parts:,} | {money(c.estimated_cost, plan.currency)} |"
        )
    return rows


def _table(plan: Plan, budget: int) -> list[str]:
    s = plan.summary
    head = [
        "| | Campaign | Channel | Action | Messages | Requests | SMS parts | Est. cost |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    total = (
        f"| | **Total** | | | **{s.messages_to_send:,}** | **{s.requests:,}** | "
        f"**{s.sms_parts:,}** | **{money(s.estimated_cost, plan.currency)}** |"
    )
    rows = _summary_rows(plan)
    used = sum(len(r) + 1 for r in head) + len(total) + 200
    kept: list[str] = []
    for row in rows:
        if used + len(row) + 1 > budget:
            break
        kept.append(row)
        used += len(row) + 1
    if len(kept) < len(rows):
        kept.append(f"| | … {len(rows) - len(kept):,} more campaigns | | | | | | |")
    return [*head, *kept, total]


def _problems(plan: Plan) -> list[str]:
    lines = []
    for d in (*plan.errors, *plan.warnings):
        icon = "❌" if d.severity == "error" else "⚠️"
        hint = f" _({cell(d.hint)})_" if d.hint else ""
        lines.append(f"- {icon} `{cell(d.location())}` {cell(d.message)}{hint}")
    for c in plan.campaigns:
        for d in (*c.errors, *c.warnings):
            icon = "❌" if d.severity == "error" else "⚠️"
            hint = f" _({cell(d.hint)})_" if d.hint else ""
            lines.append(f"- {icon} `{cell(d.location())}` {cell(d.message)}{hint}")
        for doubt in c.in_doubt:
            lines.append(
                f"- ⚠️ `{c.id}`: request `{doubt.request_id}` "
                f"({plural(doubt.recipients, 'recipient')}) "
                f"is in doubt: check Octopush, then `octoplan state resolve {doubt.request_id} "
                "--sent` or `--not-sent`"
            )
    return lines


def _campaign_section(c: CampaignPlan, currency: str) -> str:
    sends = c.sends
    where = f"`{c.file}`" if c.file else "file removed"
    lines = [
        "<details>",
        f"<summary><code>{SYMBOLS[c.action].strip() or '·'}</code> <b>{cell(c.id)}</b> "
        f"({c.channel}, {c.action.value}): {plural(c.messages_to_send, 'message')}, "
        f"{money(c.estimated_cost, currency)}</summary>",
        "",
        f"File: {where} · {when(c)}",
        "",
        "```diff",
    ]
    if c.action is Action.BLOCKED:
        lines.append(f"! blocked by {plural(count_of(c.errors), 'error')}: nothing will be sent")
    for b in c.batches:
        if b.kind is BatchKind.CANCEL:
            lines.append(f"- {cancel_line(b)}")
    for b in sends:
        verb = "+" if b.kind is BatchKind.NEW else "~"
        extra = " (resend, same request_id)" if b.kind is BatchKind.RESUME else ""
        if b.replaces:
            extra += f" (replaces {', '.join(b.replaces)})"
        if b.send_at:
            extra += f", send_at {b.send_at}"
        lines.append(
            f"{verb} request {b.request_id}: {plural(len(b.recipients), 'recipient')}{extra}"
        )
    if c.capped:
        lines.append(f"! {capped_line(c.capped)}")
    if c.already_sent:
        lines.append(f"  {done(c.already_sent, c.scheduled)}: not sent again")
    lines.append("```")
    for note in c.notes:
        lines.append(f"- {cell(note)}")
    if c.rollout is not None:
        lines.extend(f"- Rollout: {cell(line)}" for line in c.rollout.lines())
    if c.text_change is not None:
        change = c.text_change
        rows = diff_lines(change.old, change.new)
        fence = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", "\n".join(rows)))])
        lines += [
            "",
            f"Sent before / now, e.g. to {mask_recipient(change.recipient)}:",
            "",
            f"{fence}diff",
            *rows,
            fence,
        ]
    if c.samples and c.action in (Action.CREATE, Action.UPDATE):
        lines += ["", "| Recipient | Message |", "|---|---|"]
        for key, text in c.samples[:SAMPLES]:
            lines.append(f"| {mask_recipient(key)} | {cell(text)} |")
    lines += ["", "</details>"]
    return "\n".join(lines)


def _bold(n: int, word: str) -> str:
    """**n** word, in the plural unless n is 1."""
    return f"**{n:,}** {word if n == 1 else word + 's'}"


def _destination(plan: Plan) -> str:
    line = destination_line(plan.destination)
    if plan.shard is None:
        return line
    return f"{line} · **{shard_line(plan.shard)}**"


def destination_line(d: Destination) -> str:
    """`Environment **name**: URL (real messages)`: where a plan sends, or a status was read."""
    where = "the embedded local sandbox" if d.api_url is None else cell(d.api_url)
    real = "" if d.local else " (real messages)"
    return f"Environment **{d.environment}**: {where}{real}"


def plan_markdown(plan: Plan, limit: int = GITHUB_LIMIT) -> str:
    s = plan.summary
    head = [
        MARKER,
        f"### octoplan plan: {_counts(plan)}",
        "",
        f"{_bold(s.messages_to_send, 'message')} in {_bold(s.requests, 'request')}, "
        f"{_bold(s.sms_parts, 'SMS part')}, estimated **{money(s.estimated_cost, plan.currency)}**"
        f"; {done(s.already_sent, s.scheduled)}.",
        "",
        _destination(plan),
        "",
    ]
    footer = [
        "",
        f"<sub>state {cell(plan.state.url)} serial {plan.state.serial} · digest "
        f"`{plan.digest[:12]}` · recipients masked</sub>",
    ]
    budget = limit - sum(len(x) + 1 for x in head + footer) - 400
    # Errors and warnings first (a quarter of the budget at most), where a reviewer cannot miss
    # them, then the summary table (half), then the campaigns' sections (the rest).
    body: list[str] = _policies(plan, budget // 8)
    problems = _problems(plan)
    if problems:
        start = len(body)
        body += ["#### Errors and warnings", ""]
        used = sum(len(x) + 1 for x in body[start:])
        for i, line in enumerate(problems):
            if used + len(line) + 1 > budget // 4:
                body.append(f"- … {len(problems) - i:,} more")
                break
            body.append(line)
            used += len(line) + 1
        body.append("")
    body += [*_table(plan, budget // 2), ""]
    used = sum(len(x) + 1 for x in body)
    changed = [c for c in plan.campaigns if c.action is not Action.NOOP]
    for i, c in enumerate(changed):
        section = _campaign_section(c, plan.currency)
        if used + len(section) + 1 > budget:
            body.append(
                f"_… {plural(len(changed) - i, 'more campaign')} not shown (comment size limit); "
                "run `octoplan plan` for the full plan._"
            )
            break
        body.append(section)
        used += len(section) + 1
    # Every part above was admitted against `budget`, which leaves room for head and footer.
    return "\n".join(head + body + footer)
