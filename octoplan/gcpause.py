"""Pausing Python's cycle collector while building many small objects.

A plan builds millions of tuples, lists and strings, none of them in reference cycles; every
700 new containers the collector would walk the ever-growing heap for nothing, which makes
building a million messages about twice as slow.

What a plan builds then lives until the command ends, in lists of a million values each: the
first collection after the pause would walk every one of them (about 0.15 s for a million
contacts), and again at each older generation's turn. `paused_gc(keep=True)` moves what exists
at the end of the pause out of the collector's sight (`gc.freeze`) instead: it is freed by
reference counting as usual, only never scanned for cycles (it holds none; a plan of a million
contacts leaves no cyclic garbage behind, measured with `gc.collect()`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc(*, keep: bool = False) -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if keep:
            gc.freeze()
        if was_enabled:
            gc.enable()
