"""octoplan/partition.py: `--shard I/N`, which recipients a runner works on."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from octoplan import rollout
from octoplan.errors import UsageError
from octoplan.partition import Partition, parse, shard_of


def realistic_keys(count: int, seed: int = 20) -> list[str]:
    """Identity keys as state holds them: E.164 mobile numbers (most of one length, several
    countries) and lower-cased e-mails."""
    rng = random.Random(seed)
    keys: set[str] = set()
    while len(keys) < count:
        kind = rng.random()
        if kind < 0.6:
            keys.add(f"+336{rng.randrange(10**8):08d}")
        elif kind < 0.75:
            keys.add(f"+4915{rng.randrange(10**9):09d}")
        elif kind < 0.85:
            keys.add(f"+447{rng.randrange(10**9):09d}")
        else:
            keys.add(f"user{rng.randrange(10**7)}@example{rng.randrange(20)}.com")
    return sorted(keys)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2/4", Partition(2, 4)), ("1/1", Partition(1, 1)), (" 3 / 7 ", Partition(3, 7))],
)
def test_parse(text: str, expected: Partition) -> None:
    assert parse(text) == expected
    assert expected.label == f"{expected.index}/{expected.count}"


@pytest.mark.parametrize("text", ["5/4", "0/4", "2", "", "a/b", "-1/2", "2/0", "1/2/3", "1.0/2"])
def test_parse_refuses_what_is_not_a_shard(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert str(caught.value) == f"--shard must be I/N with 1 <= I <= N, e.g. 2/4; got {text!r}"


def test_a_partition_made_directly_is_checked_too() -> None:
    with pytest.raises(UsageError) as caught:
        Partition(3, 2)
    assert str(caught.value) == "--shard must be I/N with 1 <= I <= N, e.g. 2/4; got '3/2'"


@pytest.mark.parametrize("count", range(1, 8))
def test_every_key_is_in_exactly_one_shard(count: int) -> None:
    keys = realistic_keys(3000)
    shards = [Partition(index, count) for index in range(1, count + 1)]
    for key in keys:
        assert [p.index for p in shards if p.contains(key)] == [shard_of(key, count)]
    # select (at C speed) answers as contains does, key by key, and for any subset of indexes.
    chosen = [p.select(keys, range(len(keys))) for p in shards]
    assert sorted(i for part in chosen for i in part) == list(range(len(keys)))
    for p, part in zip(shards, chosen, strict=True):
        assert part == [i for i, key in enumerate(keys) if p.contains(key)]
        odd = list(range(1, len(keys), 2))
        assert p.select(keys, odd) == [i for i in odd if p.contains(keys[i])]


@pytest.mark.parametrize("count", range(2, 8))
def test_shards_are_even_over_realistic_keys(count: int) -> None:
    keys = realistic_keys(10_000)
    sizes = Counter(shard_of(key, count) for key in keys)
    expected = len(keys) / count
    assert sorted(sizes) == list(range(1, count + 1))
    assert all(abs(size - expected) < 0.1 * expected for size in sizes.values()), sizes


def test_a_recipient_is_in_the_same_shard_whatever_the_campaign() -> None:
    # Identity only: the shard of a number depends on nothing else (not salted per campaign).
    assert shard_of("+33612345678", 4) == shard_of("+33612345678", 4)
    assert Partition(shard_of("+33612345678", 4), 4).contains("+33612345678")


@pytest.mark.parametrize("count", [2, 3, 4])
@pytest.mark.parametrize("campaign", ["promo", "black-friday-2026"])
def test_each_shard_gets_its_share_of_a_rollout_cohort(count: int, campaign: str) -> None:
    # The partition and the cohorts are independent draws: a 5% stage is about 5% of every
    # shard. (With the bare CRC-32 of the key, a 5% cohort of same-length numbers fell whole
    # into one shard of two: CRC-32 is affine, the salted one being the bare one xor a
    # constant.)
    keys = [f"+336{n:08d}" for n in random.Random(3).sample(range(10**8), 20_000)]
    everyone = list(range(len(keys)))
    cohort = set(rollout.cohort(keys, everyone, campaign, 5))
    for index in range(1, count + 1):
        mine = Partition(index, count).select(keys, everyone)
        share = sum(1 for i in mine if i in cohort) / len(mine)
        assert 0.035 < share < 0.065, (index, share)


def test_owner_of_a_request_is_the_shard_of_its_lowest_key() -> None:
    keys = realistic_keys(50)
    first = min(keys)
    owners = [p for p in (Partition(i, 3) for i in (1, 2, 3)) if p.owns(reversed(keys))]
    assert owners == [Partition(shard_of(first, 3), 3)]
