"""Octopush's own personalization, applied locally so the text we show is the text delivered.

`sms-campaign/send` (and the voice list campaigns) replace `{first_name}`, `{last_name}` and
`{param1}`..`{param5}` in the text with the recipient's fields. Assumptions where FACTS.md is
silent, shared with the sandbox: names are case-sensitive, a missing field becomes the empty
string, and the replacement is one pass (a value holding `{param2}` is delivered as written).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from octoplan.rules import PERSONALIZATION_MAX

PLACEHOLDER_FIELDS = ("first_name", "last_name", "param1", "param2", "param3", "param4", "param5")
MAX_VALUE_LENGTH = PERSONALIZATION_MAX  # the API refuses longer personalization values
_PLACEHOLDER = re.compile(r"\{(first_name|last_name|param[1-5])\}")


def has_placeholders(text: str) -> bool:
    return "{" in text and _PLACEHOLDER.search(text) is not None


def placeholders_in(text: str) -> list[str]:
    """The slot names written in `text`, each once, in order."""
    return list(dict.fromkeys(match.group(1) for match in _PLACEHOLDER.finditer(text)))


def apply_placeholders(text: str, fields: Mapping[str, str]) -> str:
    if "{" not in text:
        return text
    return _PLACEHOLDER.sub(lambda match: fields.get(match.group(1), ""), text)
