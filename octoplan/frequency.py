"""The frequency cap's ledger: marketing messages per recipient over time, all campaigns.

`policies.frequency_cap: {max: N, days: D}` lets a recipient get at most N marketing messages
in any D days (any half-open window of D × 24 h). The ledger holds, from state, every marketing
batch that was or may have been sent (accepted, unconfirmed, in doubt) going out within reach
of the plan, each at the moment its messages go out: its send_at for a scheduled send (so a
send scheduled for Friday counts on Friday), else when it was journaled. A plan adds what each
campaign sends, in file order, so two campaigns of one plan share the cap: the first takes it.

Most recipients have fewer than N messages in the ledger, which one count over all its keys
tells (C speed); only the others are looked at one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import compress, repeat

from octoplan.model import FrequencyCap
from octoplan.state.base import StateReader

# The planner refuses a send_at further in the past than this (octoplan/compliance.py): no
# send of the plan goes out before now minus this, so older ledger entries never matter.
PAST_MARGIN = timedelta(minutes=5)


class Ledger:
    def __init__(self, cap: FrequencyCap, sends: Iterable[tuple[datetime, Sequence[str]]]) -> None:
        self.cap = cap
        self.window = timedelta(days=cap.days).total_seconds()
        self._sends: list[tuple[float, Sequence[str]]] = [(t.timestamp(), k) for t, k in sends]
        self._counted = 0  # sends counted in _counts so far: counted when first asked
        self._counts: Counter[str] = Counter()

    @classmethod
    def read(cls, store: StateReader, cap: FrequencyCap, now: datetime) -> Ledger:
        since = now - timedelta(days=cap.days) - PAST_MARGIN
        return cls(cap, store.marketing_sends(since))

    def add(self, keys: Sequence[str], at: datetime) -> None:
        """A send this plan makes, counted for the campaigns planned after it."""
        self._sends.append((at.timestamp(), keys))

    def over(self, keys: Sequence[str], indexes: Sequence[int], at: datetime) -> list[int]:
        """Which of `indexes` (into `keys`) one more message at `at` would put over the cap."""
        limit = self.cap.max
        counts = self._counts
        # Counted only when asked: the last campaign of a plan adds its sends for nobody.
        for _, members in self._sends[self._counted :]:
            counts.update(members)
        self._counted = len(self._sends)
        if not counts or counts.most_common(1)[0][1] < limit:
            return []  # nobody has as many messages as the cap in the whole ledger
        # Whole columns at C speed: each recipient's count in the ledger, against the cap.
        found = map(counts.get, map(keys.__getitem__, indexes), repeat(0))
        heavy = list(compress(indexes, map(limit.__le__, found)))
        if not heavy:
            return []
        wanted = {keys[index] for index in heavy}
        moment, window = at.timestamp(), self.window
        times: dict[str, list[float]] = {}
        for when, members in self._sends:
            if moment - window < when < moment + window:
                for key in wanted.intersection(members):
                    times.setdefault(key, []).append(when)
        return [index for index in heavy if _over(times.get(keys[index]), moment, window, limit)]


def _over(times: list[float] | None, moment: float, window: float, limit: int) -> bool:
    """Would one more message at `moment` make `limit` + 1 in a window? `times` all lie within
    one window of `moment`: those at or before it share a window with it (the one starting at
    the first of them), and so do those at or after it (the one starting at `moment`)."""
    if not times or len(times) < limit:
        return False
    before = sum(1 for t in times if t <= moment)
    if before >= limit or len(times) - before + times.count(moment) >= limit:
        return True
    return _busiest(times, moment, window) >= limit


def _busiest(times: list[float], moment: float, window: float) -> int:
    """The most messages among `times` in one window of `window` seconds that also holds
    `moment` (half-open windows [s, s + window))."""
    if not times:
        return 0
    points = sorted(times)
    best = 0
    # A busiest window can be taken to start at a message or at `moment` itself.
    for start in (moment, *(t for t in points if moment - window < t <= moment)):
        end = start + window
        if not start <= moment < end:
            continue
        best = max(best, sum(1 for t in points if start <= t < end))
    return best
