from __future__ import annotations

import pytest

from octoplan.mask import mask_email, mask_phone, mask_recipient


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+33612345678", "+33 6•• •• •• 78"),
        ("+12025550123", "+1 2• •• •• •• 23"),
        ("+447911123456", "+44 7• •• •• •• 56"),
        ("+262692123456", "+262 6•• •• •• 56"),
        ("garbage", "••••"),
    ],
)
def test_mask_phone(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


def test_mask_phone_never_shows_the_middle_digits() -> None:
    assert "1234" not in mask_phone("+33612345678").replace(" ", "")


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("axelle.durand@example.com", "a•••@e•••.com"),
        ("x@localhost", "x•••@l•••"),
        ("no-at-sign", "••••"),
    ],
)
def test_mask_email(address: str, masked: str) -> None:
    assert mask_email(address) == masked


def test_mask_recipient_dispatches_on_kind() -> None:
    assert mask_recipient("+33612345678") == "+33 6•• •• •• 78"
    assert mask_recipient("bob@example.org") == "b•••@e•••.org"
    assert mask_recipient("6f1c2a3e-0000-4000-8000-000000000001") == "6f1c••••"
