"""The pydantic models on their own: strictness, defaults, helpers others call."""

from __future__ import annotations

from datetime import time

import pytest
from pydantic import ValidationError

from octoplan import prices
from octoplan.model import Campaign, Metadata, Pricing, ProjectConfig, Recipient

SMS = {"id": "c", "channel": "sms", "text": "Bonjour", "recipients": [{"phone_number": "+33"}]}


def error_types(data: dict[str, object]) -> list[tuple[object, ...]]:
    with pytest.raises(ValidationError) as info:
        Campaign.model_validate(data)
    return [(*e["loc"], e["type"]) for e in info.value.errors()]


def test_a_campaign_with_every_default() -> None:
    campaign = Campaign.model_validate(SMS)
    assert campaign.batch_size == 500
    assert campaign.purpose is None and campaign.marketing  # the API's default is wholesale
    assert campaign.metadata == Metadata()
    assert not campaign.on_list


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("simulation_mode", "true", "bool_type"),
        ("recipient_tracking", 1, "bool_type"),
        ("batch_size", "10", "int_type"),
        ("batch_size", True, "int_type"),
        ("text", 12, "string_type"),
        ("contacts", "contacts/a.csv", "list_type"),
        ("vars", ["a"], "dict_type"),
    ],
)
def test_types_are_strict(field: str, value: object, kind: str) -> None:
    assert error_types({**SMS, field: value}) == [(field, kind)]


def test_option_reads_the_top_level_or_metadata() -> None:
    top = Campaign.model_validate({**SMS, "type": "sms_low_cost"})
    meta = Campaign.model_validate({**SMS, "metadata": {"type": "sms_premium"}})
    assert (top.option("type"), meta.option("type")) == ("sms_low_cost", "sms_premium")
    assert top.option("subject") is None


def test_recipient_fields_include_contact_data() -> None:
    recipient = Recipient.model_validate(
        {"phone_number": "+33612345678", "first_name": "Axelle", "param1": 3, "city": "Lyon"}
    )
    assert recipient.fields() == {
        "phone_number": "+33612345678",
        "first_name": "Axelle",
        "param1": 3,
        "city": "Lyon",
    }


def test_pricing_falls_back_to_default() -> None:
    pricing = Pricing.model_validate({"sms": {"FR": 0.04, "default": 0.07}, "email": {}})
    assert (pricing.price("sms", "FR"), pricing.price("sms", "BE")) == (0.04, 0.07)
    assert (pricing.price("sms", None), pricing.price("email", "FR")) == (0.07, None)
    # A table not given keeps the one price table's (octoplan/prices.py).
    assert pricing.price("voice_sms", "FR") == prices.DEFAULT_TABLES["voice_sms"]["FR"]


def test_marketing_hours_as_times() -> None:
    hours = ProjectConfig.model_validate(
        {"policies": {"marketing_hours": {"start": "09:30", "end": "21:00"}}}
    ).policies.marketing_hours
    assert (hours.start_time, hours.end_time) == (time(9, 30), time(21, 0))
    assert (hours.timezone, hours.skip_public_holidays) == ("Europe/Paris", True)


def test_models_are_frozen() -> None:
    campaign = Campaign.model_validate(SMS)
    with pytest.raises(ValidationError):
        campaign.text = "changed"  # type: ignore[misc]
