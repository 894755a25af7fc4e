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

from octoplan import channels

DEFAULT_CURRENCY: Final = "EUR"
SMS_LOW_COST: Final = "sms_low_cost"  # the one table that is not a channel's: low-cost SMS
# Each channel's table (octoplan/channels.py), and low-cost SMS.
DEFAULT_TABLES: Final[Mapping[str, Mapping[str, float]]] = {
    **{c.name: c.default_prices for c in channels.ALL},
    SMS_LOW_COST: {"FR": 0.03, "default": 0.04},  # per part
}
# The balance's unit names -> the table that prices one unit.
UNIT_TABLES: Final[Mapping[str, str]] = {
    "sms_premium": channels.SMS.name,
    SMS_LOW_COST: SMS_LOW_COST,
}


def product(channel: str, sms_type: str | None = None) -> str:
    """The table a message is priced from: its channel, or its `type`'s own (low-cost SMS)."""
    return channels.get(channel).product(sms_type)


def per_part(product: str) -> bool:
    """Is a table's price per SMS part (else per message)?"""
    return product == SMS_LOW_COST or channels.get(product).bills_per_part


def price_in(table: Mapping[str, float], region: str | None) -> float | None:
    """The price for `region` in one table: its own entry, else `default`, else None."""
    if region is not None and region in table:
        return table[region]
    return table.get("default")
