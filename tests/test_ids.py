"""request_ids and content hashes are stable across octoplan versions (octoplan/ids.py).

State written by one version is read by the next: a request journaled before a crash is
resumed after an upgrade under the id it was journaled with, and what was sent is compared by
content hash. An id or a hash that changed between versions would make a resumed request a new
one (a second send inside the API's 24 h window) and every sent text look changed. So the
values below are pinned as the first version wrote them; changing one needs a state migration.
"""

from __future__ import annotations

import re

from octoplan.ids import batch_request_id, content_hash, content_hashes, options_digest

SINGLE = ([("phone_number",)], [0, 0], ["+33600000001", "+33600000002"])
MIXED = (
    [("phone_number",), ("phone_number", "first_name")],
    [0, 1],
    ["+33600000001", "+33600000002\x1fZoé"],
)


def test_a_request_id_is_op_and_32_hex_digits() -> None:
    request_id = batch_request_id("promo", "sms-campaign/send", {"text": "Bonjour"}, SINGLE)
    assert re.fullmatch(r"op-[0-9a-f]{32}", request_id)


def test_request_ids_are_those_earlier_versions_journaled() -> None:
    assert (
        batch_request_id("promo", "sms-campaign/send", {"text": "Bonjour"}, SINGLE)
        == "op-3fdae7e8878438513fa6964f92221aa6"
    )
    # Recipients of two shapes, and earlier attempts (their order does not matter).
    assert (
        batch_request_id(
            "promo", "multi-channel/send", {"text": "Hé"}, MIXED, earlier=["op-b", "op-a"]
        )
        == "op-3667086d333a802e9ffc9be3661a238b"
    )
    assert batch_request_id(
        "promo", "multi-channel/send", {"text": "Hé"}, MIXED, earlier=["op-a", "op-b"]
    ) == batch_request_id("promo", "multi-channel/send", {"text": "Hé"}, MIXED, ["op-b", "op-a"])


def test_content_hashes_are_those_earlier_versions_recorded() -> None:
    options = options_digest({"channel": "sms", "sender": "ShopX"})
    assert options.hex() == "896eea031149f51a160643bdc0f8cc60"
    assert content_hash(options, "Bonjour Zoé") == "fa198679791dd7c92632d115"
    assert content_hashes(options, ["Bonjour Zoé", "x"]) == [
        "fa198679791dd7c92632d115",
        "a17b58fbef98378258cea8a9",
    ]
