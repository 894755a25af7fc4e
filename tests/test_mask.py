from __future__ import annotations

import pytest

from octoplan.errors import Diagnostic
from octoplan.mask import mask_email, mask_phone, mask_recipient, mask_text, masked


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


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Appelez le +33612345678.", "Appelez le +33 6•• •• •• 78."),
        ("tel +33 6 12 34 56 78, fixe", "tel +33 6•• •• •• 78, fixe"),
        ("06 12 34 56 78", "0• •• •• •• 78"),
        ("06.12.34.56.78", "0•.••.••.••.78"),
        ("06-12-34-56-78/", "0•-••-••-••-78/"),
        ("(0033) 6 12 34 56 78", "(0•••) • •• •• •• 78"),
        ("+1 (555) 123-4567", "+1 5• •• •• •• 67"),
        ("n°0612345678", "n°0•••••••78"),
        ("à Axelle.Durand+promo@mail.example.com !", "à A•••@m•••.com !"),
        ("0612345678@sms.example.com", "0•••@s•••.com"),
        # Not personal data: left as written.
        ("valable jusqu'au 27/11/2026 ou 2026-11-27", "valable jusqu'au 27/11/2026 ou 2026-11-27"),
        ("request op-123456789012abcdef, ticket sms_3c63a3a24c", None),
        ("campaign promo-2026112701, request op-12345678901234567890123456789012", None),
        ("1 234 567,89 EUR, 3 SMS parts", None),
        ("+33 6•• •• •• 78", None),
    ],
)
def test_mask_text_finds_numbers_and_addresses(text: str, masked: str | None) -> None:
    assert mask_text(text) == (text if masked is None else masked)


def test_masked_diagnostics_keep_everything_but_the_personal_data() -> None:
    diagnostic = Diagnostic(
        "contacts/c.csv", 3, None, "recipient 0612345678 is wrong", "write to a@b.fr", "warning"
    )
    assert masked([diagnostic]) == (
        Diagnostic(
            "contacts/c.csv",
            3,
            None,
            "recipient 0•••••••78 is wrong",
            "write to a•••@b•••.fr",
            "warning",
        ),
    )
