from __future__ import annotations

from octoplan.words import plural


def test_plural_counts_with_thousands_separators() -> None:
    assert plural(1, "file") == "1 file"
    assert plural(0, "file") == "0 files"
    assert plural(12_400, "message") == "12,400 messages"
    assert plural(2, "SMS part") == "2 SMS parts"
    assert plural(3, "entry", "entries") == "3 entries"
