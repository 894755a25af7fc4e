"""`octoplan count [TEXT|-]`: encoding, characters and SMS parts of a text."""

from __future__ import annotations

import json
import sys

from octoplan.commands.context import AppContext
from octoplan.sms import GSM7_REPLACEMENTS, SmsCount, count


def describe(result: SmsCount) -> list[str]:
    unit = "septets" if result.encoding == "GSM-7" else "UTF-16 units"
    lines = [
        f"encoding: {result.encoding}",
        f"characters: {result.characters}",
        f"segments: {result.segments}",
        f"units: {result.units} {unit}",
    ]
    for index, char in result.non_gsm[:10]:
        advice = GSM7_REPLACEMENTS.get(char)
        fix = f": replace with {advice!r}" if advice is not None else ""
        lines.append(f"not GSM-7: {char!r} (U+{ord(char):04X}) at character {index + 1}{fix}")
    if len(result.non_gsm) > 10:
        lines.append(f"... and {len(result.non_gsm) - 10} more characters outside GSM-7")
    return lines


def run(app: AppContext, text: str | None, fmt: str) -> int:
    if text is None or text == "-":
        # A shell pipe adds a final newline nobody means to send.
        text = sys.stdin.read().removesuffix("\n")
    result = count(text)
    if fmt == "json":
        app.echo(json.dumps(result.to_json()))
    else:
        for line in describe(result):
            app.echo(line)
    return 0
