"""`--shard I/N`: the part of a campaign's recipients one of N runners plans and applies.

N CI runners sharing one PostgreSQL state each run `octoplan apply --shard I/N` and together
send the campaign once, without overlap. (Not octoplan/shards.py: that one reads a big CSV file
on every core of one process.)

- **Identity only.** A recipient belongs to shard `(mix(crc32(identity)) * N) >> 32` + 1, its
  identity the key state knows it by (normalized number, lower-cased e-mail, conversation id:
  `messages.keys`, as Deduper and rollout cohorts see them). It is not salted with the campaign
  id: a recipient is in the same shard for every campaign, so what is decided per recipient
  across campaigns (the frequency cap, the 30-day repeat guard, opt-outs) is decided by one
  runner, never by two at once.
- **Mixed, not bare CRC-32.** CRC-32 is affine: for keys of one length (E.164 numbers), the
  salted CRC of a rollout cohort (octoplan/rollout.py) is the bare CRC xor a constant, so its
  top bits, which pick a shard, would decide the cohort too (a 5% stage falling whole into one
  of two shards). Multiplying by an odd constant modulo 2^32 (Knuth's multiplicative hash, a
  bijection: shards stay equal) carries every bit into the top ones and breaks that tie.
- **Old batches have one owner.** A journaled or scheduled request made by an unsharded apply
  may hold recipients of every shard: it belongs to the shard of its first recipient key (the
  lowest), so exactly one runner resumes, settles or cancels it (see `owns`).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from zlib import crc32

from octoplan.errors import UsageError

_MASK = (1 << 32) - 1
_MIX = 0x9E3779B1  # odd: x -> x * _MIX mod 2^32 is a bijection
_TEXT = re.compile(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*")


def shard_of(key: str, count: int) -> int:
    """The 1-based shard of N `count` that a recipient identity falls in."""
    return ((crc32(key.encode()) * _MIX & _MASK) * count >> 32) + 1


@dataclass(frozen=True)
class Partition:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise UsageError(_message(f"{self.index}/{self.count}"))

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    def contains(self, key: str) -> bool:
        return shard_of(key, self.count) == self.index

    def owns(self, keys: Iterable[str]) -> bool:
        """Whether a journaled or scheduled request of these recipients is this shard's: the
        shard of its lowest key (a request made by a sharded apply is wholly in one shard)."""
        first = min(keys, default=None)
        return first is None or self.contains(first)

    def select(self, keys: Sequence[str], indexes: Iterable[int]) -> list[int]:
        """Of `indexes` (into `keys`), those of this shard's recipients. Mixed hashes in a
        shard's range [low, high) are those with (hash - low) mod 2^32 < high - low, which
        builtins test at C speed (map and compress, no Python loop): the same answer as
        `contains`, key by key."""
        low = -(-(self.index - 1 << 32) // self.count)  # ceil((index - 1) * 2^32 / count)
        width = -(-(self.index << 32) // self.count) - low
        chosen = list(indexes)
        # Everyone (the planner's first question): the keys themselves, no lookup each.
        everyone = len(chosen) == len(keys) and chosen[-1:] == [len(keys) - 1]
        picked = iter(keys) if everyone else map(keys.__getitem__, chosen)
        hashes = map(crc32, map(str.encode, picked))
        mixed = map(operator.and_, map(operator.mul, hashes, repeat(_MIX)), repeat(_MASK))
        offsets = map(operator.and_, map(operator.sub, mixed, repeat(low)), repeat(_MASK))
        return list(compress(chosen, map(width.__gt__, offsets)))


def parse(text: str) -> Partition:
    """`I/N` as typed after --shard; a UsageError saying the form otherwise."""
    found = _TEXT.fullmatch(text)
    if found is None:
        raise UsageError(_message(text))
    index, count = int(found[1]), int(found[2])
    if not 1 <= index <= count:
        raise UsageError(_message(text))
    return Partition(index, count)


def _message(text: str) -> str:
    return f"--shard must be I/N with 1 <= I <= N, e.g. 2/4; got {text!r}"
