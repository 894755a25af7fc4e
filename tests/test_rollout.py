"""The cohort rule and the gate's verdicts (octoplan/rollout.py), on plain values."""

from __future__ import annotations

import zlib

from octoplan.rollout import cohort, gate_checks, in_cohort
from octoplan.state.base import StageReports

KEYS = [f"+3361{i:07d}" for i in range(20_000)]


def test_cohorts_grow_with_the_percentage_and_match_the_documented_rule() -> None:
    everyone = list(range(len(KEYS)))
    five, fifty = cohort(KEYS, everyone, "promo", 5), cohort(KEYS, everyone, "promo", 50)
    assert set(five) < set(fifty)  # nobody moves between stages
    assert cohort(KEYS, everyone, "promo", 100) == everyone
    assert 0.045 < len(five) / len(KEYS) < 0.055 and 0.49 < len(fifty) / len(KEYS) < 0.51
    documented = [i for i, k in enumerate(KEYS) if zlib.crc32(f"promo\n{k}".encode()) < 2**32 // 20]
    assert five == documented
    assert [i for i in everyone if in_cohort(KEYS[i], "promo", 5)] == five
    # Asked of some indexes only (those not sent yet), the answer is the same for them.
    some = everyone[::3]
    assert cohort(KEYS, some, "promo", 5) == [i for i in five if i % 3 == 0]
    # Another campaign draws other people.
    assert set(cohort(KEYS, everyone, "sale", 5)) != set(five)


def test_min_delivered_rate_waits_while_reports_can_still_reach_it_then_blocks() -> None:
    gate = [("min_delivered_rate", 0.9)]
    waiting = gate_checks(gate, StageReports(100, {"DELIVERED": 50}, 50, 0))
    assert (waiting[0].value, waiting[0].ok) == (0.5, None)
    assert waiting[0].detail == "50 of 100 sent delivered, 50 without a final report"
    lost = gate_checks(gate, StageReports(100, {"DELIVERED": 85, "NOT_DELIVERED": 11}, 96, 0))
    assert (lost[0].value, lost[0].ok) == (0.85, False)
    passed = gate_checks(gate, StageReports(100, {"DELIVERED": 90, "NOT_DELIVERED": 1}, 91, 0))
    assert passed[0].ok is True


def test_undelivered_and_stop_rates_block_above_their_threshold() -> None:
    gate = [("max_undelivered_rate", 0.05), ("max_stop_rate", 0.01)]
    reports = StageReports(200, {"DELIVERED": 188, "NOT_DELIVERED": 10, "ACK": 2}, 198, 3)
    undelivered, stops = gate_checks(gate, reports)
    assert (undelivered.value, undelivered.ok, undelivered.detail) == (
        0.05,
        True,
        "10 of 200 sent not delivered",
    )
    assert (stops.value, stops.ok, stops.detail) == (0.015, False, "3 STOP replies of 200 sent")
