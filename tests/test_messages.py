"""Messages as columns: reordering keeps each message's values together."""

from __future__ import annotations

import random
from array import array

from octoplan.messages import (
    CHANGED,
    NOT_SENT,
    SENT,
    DesiredMessage,
    Messages,
    Shared,
    gather,
    sent_flags,
)


def _messages(keys: list[str]) -> Messages:
    return Messages(
        keys=keys,
        names=Shared([("phone_number", "first_name")] * len(keys)),
        records=[f"\x1fname of {k}" for k in keys],  # after the key
        texts=[f"text for {k}" for k in keys],
        request_texts=[f"request for {k}" for k in keys],
        segments=array("i", [int(k[-1]) for k in keys]),
        encodings=Shared(["GSM-7" if int(k[-1]) % 2 else "UCS-2" for k in keys]),
        costs=array("d", [int(k[-2:]) / 100 for k in keys]),
        order=array("i", [int(k[5:]) for k in keys]),
        hashes=[f"h{k}" for k in keys],
        sent=bytearray(int(k[-1]) % 3 for k in keys),
    )


def test_a_big_column_in_random_order_is_sorted_by_key_with_every_value_kept_aligned() -> None:
    keys = [f"+3361{i:07d}" for i in range(6000)]
    random.Random(3).shuffle(keys)

    done = _messages(keys).in_key_order()

    assert done.keys == sorted(keys)
    expected = _messages(sorted(keys))
    for name in ("names", "records", "texts", "request_texts", "segments", "encodings"):
        assert getattr(done, name) == getattr(expected, name), name
    for name in ("costs", "order", "hashes", "sent"):
        assert getattr(done, name) == getattr(expected, name), name
    assert isinstance(done.sent, bytearray)


def test_small_or_nearly_sorted_columns_are_left_as_they_are() -> None:
    small = [f"+3361{i:07d}" for i in range(100)][::-1]
    assert _messages(small).in_key_order().keys == small
    nearly = [f"+3361{i:07d}" for i in range(6000)]
    nearly[10], nearly[20] = nearly[20], nearly[10]
    assert _messages(nearly).in_key_order().keys == nearly


def test_sent_flags_tell_not_sent_sent_and_changed_asking_hashes_of_the_sent_only() -> None:
    asked: list[list[int]] = []

    def hashes(indexes: list[int]) -> list[str]:
        asked.append(indexes)
        return [f"h{i}" for i in indexes]

    flags = sent_flags(["a", "b", "c", "d"], {"b": "h1", "d": "old"}, hashes)

    assert list(flags) == [NOT_SENT, SENT, NOT_SENT, CHANGED]
    assert asked == [[1, 3]]
    assert sent_flags(["a", "b"], {}, hashes) == bytearray(2) and asked == [[1, 3]]


def test_packed_messages_open_as_the_same_columns() -> None:
    """What a shard sends (octoplan/shards.py) is what it built, column by column."""
    keys = [f"+3361{i:07d}" for i in range(50)]
    built = _messages(keys)

    opened = Messages.unpack(built.pack())

    assert opened == _messages(keys)
    assert [opened.message(i) for i in range(50)] == [built.message(i) for i in range(50)]


def test_messages_packed_without_keys_take_the_receivers_keys_by_their_order() -> None:
    """A shard's messages travel without their keys: the parent reads them from its own key
    list, by each message's order (its contact's place in the list)."""
    keys = [f"+3361{i:07d}" for i in range(50)]
    random.Random(4).shuffle(keys)
    built = _messages(keys)
    packed = built.pack(keys=False)
    by_order = [f"+3361{i:07d}" for i in range(50)]

    opened = Messages.unpack(packed, by_order)

    assert packed.keys == ""
    assert opened == _messages(keys)
    assert opened.keys[0] is by_order[int(keys[0][5:])]


def test_a_shared_column_keeps_each_rows_value_through_appends_merges_and_reorders() -> None:
    column = Shared(["GSM-7", "UCS-2", "GSM-7"])
    column.append("UCS-2")
    other = Shared(["UCS-2"] * 3 + ["GSM-7"])
    column.extend(other)
    column.extend(["x"] * 2)
    wide = Shared([f"v{i}" for i in range(300)])  # more than a byte's worth of values
    wide.extend(column)

    expected = ["GSM-7", "UCS-2", "GSM-7", "UCS-2", "UCS-2", "UCS-2", "UCS-2", "GSM-7", "x", "x"]
    assert list(column) == expected and len(column) == 10
    assert column.count("UCS-2") == 5 and column.count("y") == 0
    assert [column[i] for i in range(10)] == expected
    assert list(wide)[300:] == expected and wide[299] == "v299"
    assert column.gathered(gather([9, 0, 1])) == ["x", "GSM-7", "UCS-2"]
    assert list(column.reordered(gather(range(9, -1, -1)))) == expected[::-1]


def _message(key: str, fields: dict[str, str]) -> DesiredMessage:
    return DesiredMessage(key, fields, "text", "text", 1, "GSM-7", 0.05)


def test_records_hold_no_second_copy_of_the_key_unless_one_does_not_start_with_it() -> None:
    messages = Messages()
    messages.append(_message("+33610000001", {"phone_number": "+33610000001"}), 0, None, 0)
    messages.append(
        _message("+33610000002", {"phone_number": "+33610000002", "a": "Zoé"}), 1, None, 0
    )
    assert messages.records == ["", "\x1fZoé"] and messages.keyed_records
    whole = _messages(["+33610000003"])
    assert whole.record(0) == "+33610000003\x1fname of +33610000003"

    other = Messages()  # the e-mail address is this recipient's key: its record is kept whole
    other.append(
        _message("a@b.fr", {"phone_number": "+33610000004", "email": "a@b.fr"}), 2, None, 0
    )
    messages.extend(other)
    messages.extend(whole)
    messages.append(_message("+33610000005", {"phone_number": "+33610000005"}), 4, None, 0)

    expected = [
        "+33610000001",
        "+33610000002\x1fZoé",
        "+33610000004\x1fa@b.fr",
        "+33610000003\x1fname of +33610000003",
        "+33610000005",
    ]
    assert not messages.keyed_records and messages.records == expected
    assert [messages.record(i) for i in range(5)] == expected
    assert messages.records_at(gather([4, 1])) == [expected[4], expected[1]]
    assert Messages.unpack(messages.pack()).records_at(gather(range(5))) == expected
    assert messages.fields(1) == {"phone_number": "+33610000002", "a": "Zoé"}


def test_a_shared_column_widens_its_codes_at_the_257th_value_whichever_way_it_comes() -> None:
    appended = Shared([f"v{i}" for i in range(256)])
    appended.append("v256")
    extended = Shared([f"v{i}" for i in range(256)])
    extended.extend(["v256"] * 3)
    merged = Shared([f"v{i}" for i in range(256)])
    merged.extend(Shared(["v256", "v0"]))

    assert appended[256] == "v256" and len(appended) == 257
    assert list(extended)[256:] == ["v256"] * 3
    assert list(merged)[256:] == ["v256", "v0"]
