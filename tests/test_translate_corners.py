"""Validation errors of rarer shapes (issue 22), through the real `octoplan validate`: each
value type named as written (boolean, number, list, mapping), bounds, patterns, unknown keys
inside a mapping of models (environments) and inside metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.project import run_cli, write_files

BASE = (
    "channel: sms\npurpose: alert\nsender: ShopX\ntext: Votre colis arrive demain.\n"
    'recipients:\n  - {phone_number: "+33612345678"}\n'
)
GOOD = 'channel: sms\npurpose: alert\ntext: hi\nrecipients: [{phone_number: "+33612345678"}]\n'

CAMPAIGNS = {
    "purpose-float": (
        BASE.replace("purpose: alert", "purpose: 1.5"),
        "2:10: error: purpose must be one of alert, wholesale (got number 1.5)",
    ),
    "purpose-list": (
        BASE.replace("purpose: alert", "purpose: [alert]"),
        "2:10: error: purpose must be one of alert, wholesale (got a list)",
    ),
    "purpose-map": (
        BASE.replace("purpose: alert", "purpose: {a: 1}"),
        "2:10: error: purpose must be one of alert, wholesale (got a mapping)",
    ),
    "channel-int": (
        BASE.replace("channel: sms", "channel: 3"),
        "1:10: error: channel must be one of sms, voice_sms, rcs, email, live_chat (got integer 3)",
    ),
    "metadata-key": (
        BASE + "metadata:\n  typ: sms_premium\n",
        "8:3: error: unknown key 'typ' in metadata\n  hint: did you mean 'type'?",
    ),
    "metadata-type": (
        BASE + "metadata:\n  type: sms_premiumm\n",
        "8:9: error: metadata.type must be one of sms_premium, sms_low_cost, voice_sms "
        "(got 'sms_premiumm')\n  hint: did you mean 'sms_premium'?",
    ),
    "renamed-from": (
        BASE + "renamed_from: ['bad id!']\n",
        "7:16: error: renamed_from[0] must be a campaign id: 1 to 64 letters, digits, '.', '_' "
        "or '-', starting with a letter or digit (got 'bad id!')",
    ),
    "vars-list": (BASE + "vars: [1, 2]\n", "7:7: error: vars must be a mapping (got a list)"),
    "text-number": (
        BASE.replace("text: Votre colis arrive demain.", "text: 12.5"),
        "4:7: error: text must be a string (got number 12.5)\n"
        '  hint: quote it to keep it as written: "12.5"',
    ),
    "rollout-key": (
        BASE + "rollout:\n  - percent: 50\n  - percent: 100\n    wiat: 2h\n",
        "10:5: error: unknown key 'wiat' in rollout[1]\n  hint: did you mean 'wait'?",
    ),
    "rollout-gate-key": (
        BASE + "rollout:\n  - percent: 50\n  - percent: 100\n    gate: {max_stop_rat: 1}\n",
        "10:12: error: unknown key 'max_stop_rat' in rollout[1].gate\n"
        "  hint: did you mean 'max_stop_rate'?",
    ),
    "simulation-float": (
        BASE + "simulation_mode: 1.5\n",
        "7:18: error: simulation_mode must be true or false (got number 1.5)",
    ),
}


@pytest.fixture(scope="module")
def campaigns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    files = {f"campaigns/{name}.yaml": text for name, (text, _) in CAMPAIGNS.items()}
    return write_files(root, {"octoplan.yaml": "region: FR\n", **files})


@pytest.mark.parametrize("name", sorted(CAMPAIGNS))
def test_campaign_value_of_a_rarer_shape(campaigns: Path, name: str) -> None:
    result = run_cli("validate", f"campaigns/{name}.yaml", cwd=campaigns)
    assert (result.returncode, result.stdout) == (1, "")
    expected = CAMPAIGNS[name][1]
    assert result.stderr == f"campaigns/{name}.yaml:{expected}\n1 error in 1 file\n"


CONFIGS = {
    "environment-key": (
        "region: FR\nenvironments:\n  staging:\n    sandbx: true\n",
        "4:5: error: unknown key 'sandbx' in environments.staging\n  hint: did you mean 'sandbox'?",
    ),
    "environment-bool": (
        "region: FR\nenvironments:\n  staging:\n    sandbox: maybe\n",
        "4:14: error: environments.staging.sandbox must be true or false (got string 'maybe')",
    ),
    "max-cost-negative": (
        "region: FR\npolicies:\n  max_cost: -1\n",
        "3:13: error: policies.max_cost must be at least 0 (got -1)",
    ),
    "price-negative": (
        "region: FR\npricing:\n  currency: EUR\n  sms: {FR: -0.5}\n",
        "4:13: error: pricing.sms.FR must be at least 0 (got -0.5)",
    ),
    "hours-pattern": (
        "region: FR\npolicies:\n  marketing_hours:\n    start: 8h\n",
        "4:12: error: policies.marketing_hours.start must be a time written HH:MM (got '8h')",
    ),
    "defaults-bool": (
        "region: FR\ndefaults: true\n",
        "2:11: error: defaults must be a mapping (got boolean true)",
    ),
    "price-bool": (
        "region: FR\npricing:\n  sms: {FR: true}\n",
        "3:13: error: pricing.sms.FR must be a number (got boolean true)",
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_value_of_a_rarer_shape(tmp_path: Path, name: str) -> None:
    config, expected = CONFIGS[name]
    write_files(tmp_path, {"octoplan.yaml": config, "campaigns/a.yaml": GOOD})
    result = run_cli("validate", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"octoplan.yaml:{expected}\n1 error in 1 file\n"
