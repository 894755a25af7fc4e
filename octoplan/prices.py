"""The one price table: what plans estimate and what the sandbox charges (SPEC §7).

A price is per SMS part for `sms` and `sms_low_cost`, per message for the other channels, per
destination region (an ISO code of the number, `default` for the others), in the table's
currency. `octoplan.yaml`'s `pricing` replaces any of these tables for a project; the sandbox
that `apply --sandbox` starts charges the project's tables, so what it answers as `total_cost`
is the plan's estimate (`octoplan sandbox` on its own charges these defaults).

The account's credit (`wallet/check-balance`) is counted in `sms_premium` units: one unit is
one SMS part at the `sms` price of the project's region (see `credit_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

DEFAULT_CURRENCY: Final = "EUR"
DEFAULT_TABLES: Final[Mapping[str, Mapping[str, float]]] = {
    "sms": {"FR": 0.045, "default": 0.06},  # sms_premium, per part
    "sms_low_cost": {"FR": 0.03, "default": 0.04},  # per part
    "voice_sms": {"FR": 0.05, "default": 0.08},
    "rcs": {"FR": 0.04, "default": 0.05},
    "email": {"default": 0.001},
    "live_chat": {"default": 0.0},
}
# The balance's unit names -> the table that prices one unit.
UNIT_TABLES: Final[Mapping[str, str]] = {"sms_premium": "sms", "sms_low_cost": "sms_low_cost"}


def product(channel: str, sms_type: str | None = None) -> str:
    """The table a message is priced from: its channel, or `sms_low_cost` for those SMS."""
    return "sms_low_cost" if channel == "sms" and sms_type == "sms_low_cost" else channel


def price_in(table: Mapping[str, float], region: str | None) -> float | None:
    """The price for `region` in one table: its own entry, else `default`, else None."""
    if region is not None and region in table:
        return table[region]
    return table.get("default")
