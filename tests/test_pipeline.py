"""A plan compares each message with state in one of two places, with the same outcome:

- `plan` reads the state first and compares while building, a chunk at a time, in both
  processes when a big list is read on two cores (Messages.sent);
- `apply` builds before it opens and locks the state (bad input must change nothing), and the
  planner compares afterwards, from every text's content hash (Messages.hashes).

The state is real (SQLite), filled through the store as apply fills it: recipients sent with
the text they will get again, sent with a text that has changed since, refused (sent again
under a fresh request_id), and journaled but unconfirmed (resent as-is).
"""

from __future__ import annotations

import csv
import io
import operator
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from octoplan.apply import _intent
from octoplan.pipeline import Selection, campaign_specs, load, make_plan
from octoplan.plan import BatchKind, Plan
from octoplan.planview import plan_json
from octoplan.state.base import BatchStatus, StateReader, StateStore
from octoplan.state.open import open_state
from tests.fixtures.project import write_files

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TEMPLATE = (
    "Bonjour {{ contact.first_name }}, "
    "{% if contact.city %}votre magasin de {{ contact.city }} vous attend. {% endif %}"
    "Code {{ contact.code }}. STOP au 30101"
)

CAMPAIGN = (
    "id: promo\nchannel: sms\npurpose: wholesale\nsender: ShopX\n"
    "template: t.sms.j2\nbatch_size: 100\ncontacts: [contacts/big.csv]\n"
)


def contacts(rows: range) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("phone_number", "first_name", "city", "code"))
    for index in rows:
        number = f"+3361{index:07d}" if index % 2 else f"06 1{index:07d}"
        if index % 89 == 0 and index:
            number = f"+3361{index // 2:07d}"  # a duplicate of an earlier row
        city = ("Lyon", "", "Paris", "")[index % 4]
        writer.writerow((number, ("Zoé", "Hugo", "Ana")[index % 3], city, f"C{index}"))
    return out.getvalue()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_files(
        tmp_path / "p",
        {
            "octoplan.yaml": "region: FR\npricing: {currency: EUR, sms: {FR: 0.045}}\n",
            "templates/t.sms.j2": TEMPLATE,
            "contacts/big.csv": contacts(range(0, 3000, 3)),  # from both halves of the next
            "campaigns/c.yaml": CAMPAIGN,
        },
    )


@pytest.fixture
def store(root: Path) -> Iterator[StateStore]:
    opened = open_state(str(root / "state.db"), root)
    try:
        yield opened
    finally:
        opened.close()


def journal(store: StateStore, plan: Plan, outcomes: list[BatchStatus | None]) -> None:
    """Record the plan's requests as apply does: the intent, then the outcome (None: none)."""
    (campaign,) = plan.campaigns
    batches = [b for b in campaign.batches if b.kind is BatchKind.NEW]
    assert len(batches) >= len(outcomes)
    for batch, outcome in zip(batches, outcomes, strict=False):
        store.record_intent(_intent(campaign, batch), NOW, attempt=True)
        if outcome is not None:
            store.record_outcome(batch.request_id, outcome, NOW, ticket="t-" + batch.request_id)


def everything(plan: Plan) -> dict[str, Any]:
    """What a plan says and what apply would send, to the byte."""
    return {
        "view": plan_json(plan),
        "batches": [
            (b.kind, b.request_id, b.recipients, b.payload, b.content_hashes)
            for c in plan.campaigns
            for b in c.batches
        ],
        "samples": [c.samples for c in plan.campaigns],
    }


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_compared_while_built_or_by_the_planner_the_plan_is_the_same(
    root: Path, store: StateStore, jobs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOPLAN_JOBS", jobs)
    monkeypatch.setenv("OCTOPLAN_SHARD_BYTES", "1")  # two cores from the first byte
    first = make_plan(load(root, Selection()), store, NOW, Selection())
    accepted, refused = BatchStatus.ACCEPTED, BatchStatus.REFUSED
    journal(store, first, [accepted, accepted, refused, None, *[accepted] * 4])
    # The text changes for the contacts with a city; the list grows.
    write_files(
        root,
        {
            "templates/t2.sms.j2": TEMPLATE.replace("vous attend", "vous espère"),
            "campaigns/c.yaml": CAMPAIGN.replace("t.sms.j2", "t2.sms.j2"),
            "contacts/big.csv": contacts(range(3000)),
        },
    )
    project = load(root, Selection())

    while_built = make_plan(project, store, NOW, Selection())
    by_the_planner = make_plan(project, store, NOW, Selection(), campaign_specs(project))

    assert everything(while_built) == everything(by_the_planner)
    (campaign,) = while_built.campaigns
    journaled = first.campaigns[0].batches
    accepted_batches = [journaled[i] for i in (0, 1, 4, 5, 6, 7)]
    assert campaign.already_sent == sum(len(b.recipients) for b in accepted_batches)
    # Those with a city get another text now (and a few whose number now comes first on
    # another row of the list).
    with_city = [b for b in accepted_batches if "magasin" in b.text]
    assert 0 < len(with_city) < len(accepted_batches)
    changed = campaign.changed_after_send
    assert sum(len(b.recipients) for b in with_city) <= changed < campaign.already_sent
    # The request without an outcome is resent as journaled.
    assert campaign.pending == len(journaled[3].recipients) > 0
    resumed = [b for b in campaign.batches if b.kind is BatchKind.RESUME]
    assert [b.request_id for b in resumed] == [journaled[3].request_id]
    refused = set(journaled[2].recipients)
    sent_again = {k for b in campaign.batches if b.kind is BatchKind.NEW for k in b.recipients}
    assert refused and refused <= sent_again
    assert campaign.duplicates > 10


def test_a_big_list_in_random_order_gives_the_plan_of_the_list_sorted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = contacts(range(20_000)).splitlines(keepends=True)
    header = rows[0]
    body = [row for i, row in enumerate(rows[1:]) if i % 89 or not i]  # no duplicates
    random.Random(7).shuffle(body)
    roots = {
        name: write_files(
            tmp_path / name,
            {
                "octoplan.yaml": "region: FR\n",
                "templates/t.sms.j2": TEMPLATE,
                "contacts/big.csv": header + "".join(lines),
                "campaigns/c.yaml": CAMPAIGN.replace("batch_size: 100", "batch_size: 500"),
            },
        )
        for name, lines in (("sorted", sorted(body)), ("shuffled", body))
    }
    batches = {}
    for name, root in roots.items():
        store = open_state(str(root / "state.db"), root)
        try:
            batches[name] = everything(make_plan(load(root, Selection()), store, NOW, Selection()))[
                "batches"
            ]
        finally:
            store.close()

    assert batches["shuffled"] == batches["sorted"] and len(batches["sorted"]) > 30
    # The messages were built into a few runs sorted by key, not in the list's random order.
    (spec,) = campaign_specs(load(roots["shuffled"], Selection()), {})
    keys = spec.messages.keys
    assert sum(map(operator.gt, keys, keys[1:])) < 10
    assert sum(map(operator.gt, body, body[1:])) > 5000


def reading_only(store: StateStore) -> StateReader:
    """The store seen through `StateReader` alone: any write method is an AttributeError."""

    def delegate(name: str) -> Any:
        return lambda self, *args, **kwargs: getattr(store, name)(*args, **kwargs)

    methods = {name: delegate(name) for name in StateReader.__abstractmethods__}
    view: StateReader = type("ReadingOnly", (StateReader,), methods)()
    return view


def test_the_planner_only_reads_the_state(root: Path, store: StateStore) -> None:
    """Planning gets a `StateReader` (mypy refuses a write there); here a plan with history
    (sent, refused, unconfirmed requests, an opt-out, a frequency cap's ledger) is made
    through a view that has no write method at all, and is the plan made with the store."""
    write_files(
        root,
        {
            "octoplan.yaml": "region: FR\npricing: {currency: EUR, sms: {FR: 0.045}}\n"
            "policies: {frequency_cap: {max: 2, days: 7}}\n"
        },
    )
    first = make_plan(load(root, Selection()), store, NOW, Selection())
    journal(store, first, [BatchStatus.ACCEPTED, BatchStatus.REFUSED, None])
    write_files(root, {"templates/t.sms.j2": TEMPLATE.replace("vous attend", "vous espère")})
    project = load(root, Selection())
    view = reading_only(store)
    with pytest.raises(AttributeError):
        view.record_intent  # type: ignore[attr-defined]  # noqa: B018

    read = make_plan(project, view, NOW, Selection())

    assert everything(read) == everything(make_plan(project, store, NOW, Selection()))
    (campaign,) = read.campaigns
    assert {b.kind for b in campaign.batches} >= {BatchKind.NEW}
