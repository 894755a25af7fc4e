"""The frequency cap's ledger (octoplan/frequency.py): rolling windows, in-plan additions."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from octoplan.frequency import Ledger, _busiest, _over
from octoplan.model import FrequencyCap

T0 = datetime.fromisoformat("2026-11-24T10:00:00+01:00")
DAY = timedelta(days=1)
A, B, C = "+33600000001", "+33600000002", "+33600000003"


def test_busiest_window_holding_the_moment_is_half_open() -> None:
    week = 7 * 86400.0
    now = T0.timestamp()
    assert _busiest([], now, week) == 0
    # Exactly 7 days before: out of every 7-day window that holds now.
    assert _busiest([now - week], now, week) == 0
    assert _busiest([now - week + 1], now, week) == 1
    # 6 days before and 6 days after are never in one 7-day window together.
    assert _busiest([now - 6 * 86400, now + 6 * 86400], now, week) == 1
    assert _busiest([now - 3 * 86400, now + 3 * 86400], now, week) == 2


def test_recipients_at_the_cap_are_over_it_the_others_are_not() -> None:
    ledger = Ledger(FrequencyCap(max=2, days=7), [(T0 - 2 * DAY, [A, B]), (T0 - DAY, [A])])
    keys = [A, B, C]
    assert ledger.over(keys, [0, 1, 2], T0) == [0]
    # Eight days later the first send has left every window holding it.
    assert ledger.over(keys, [0, 1, 2], T0 + 6 * DAY + timedelta(hours=1)) == []


def test_a_scheduled_send_counts_at_its_send_time() -> None:
    ledger = Ledger(FrequencyCap(max=1, days=7), [(T0 + 10 * DAY, [A])])
    assert ledger.over([A], [0], T0) == []  # 10 days apart: never in one window
    assert ledger.over([A], [0], T0 + 4 * DAY) == [0]


def test_sends_added_by_the_plan_count_for_the_campaigns_after() -> None:
    ledger = Ledger(FrequencyCap(max=1, days=7), [])
    assert ledger.over([A, B], [0, 1], T0) == []
    ledger.add([A], T0)
    assert ledger.over([A, B], [0, 1], T0) == [0]


@given(
    st.lists(st.integers(min_value=-6, max_value=6), max_size=8),
    st.integers(min_value=1, max_value=4),
)
def test_the_shortcut_agrees_with_the_sweep(days: list[int], limit: int) -> None:
    # Whole days within one 7-day window of now, as the ledger hands them over.
    now, week = T0.timestamp(), 7 * 86400.0
    times = [now + d * 86400.0 for d in days]
    assert _over(times, now, week, limit) == (_busiest(times, now, week) >= limit)
