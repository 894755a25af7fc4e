"""`octoplan validate` through the real CLI: every bad input gives one positioned error, exit 1.

Each case is a whole campaign file; EXPECTED holds the exact text printed on stderr after the
file name (`campaigns/<case>.yaml:`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.fixtures.project import MakeProject, run_cli, write_files

BASE = (
    "channel: sms\npurpose: alert\nsender: ShopX\ntext: Votre colis arrive demain.\n"
    'recipients:\n  - {phone_number: "+33612345678"}\n'
)
EMAIL = "channel: email\ntext: Bonjour\nrecipients: [{email: a@example.com}]\n"
RCS = 'channel: rcs\ntext: Bonjour\nrecipients: [{phone_number: "+33612345678"}]\n'
LIVE_CHAT = "channel: live_chat\ntext: Bonjour\nrecipients:\n"
NOT_UUID4 = "00000000-0000-0000-0000-000000000001"  # the API page's example: not version 4


def sub(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new)


# A billion-laughs document: a million values from six lines of aliases.
BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{b}: &{b} [{','.join([f'*{a}'] * 10)}]\n" for a, b in zip("abcde", "bcdef", strict=True)
)
CASES: dict[str, str] = {
    "unknown-key": sub("sender:", "sendr:"),
    "bad-channel": sub("channel: sms", "channel: smss"),
    "missing-channel": sub("channel: sms\n", ""),
    "bool-as-string": BASE + "simulation_mode: yes\n",
    "unquoted-phone": sub('{phone_number: "+33612345678"}', "{phone_number: 0612345678}"),
    "unterminated-quote": sub(
        "text: Votre colis arrive demain.", 'text: "Votre colis arrive demain.'
    ),
    "bad-indentation": sub("purpose: alert", "purpose: alert\n  sender: ShopX"),
    "duplicate-key": BASE + "text: Encore.\n",
    "tab-indent": sub("  - {phone", "\t- {phone"),
    "python-tag": BASE + "vars: !!python/object/apply:os.system [echo hi]\n",
    "merge-key": BASE + "vars:\n  <<: {a: 1}\n",
    "two-documents": BASE + "---\nchannel: sms\n",
    "empty-file": "",
    "top-level-list": "- channel: sms\n",
    "send-at-naive": BASE + "send_at: 2026-12-04T10:00:00\n",
    "send-at-garbage": BASE + "send_at: tomorrow morning\n",
    "send-at-date": BASE + "send_at: 2026-12-04\n",
    "text-too-long": sub("Votre colis arrive demain.", "x" * 1225),
    "text-empty": sub("Votre colis arrive demain.", '""'),
    "stop-missing": sub("purpose: alert", "purpose: wholesale"),
    "sender-punctuation": sub("sender: ShopX", "sender: Shop-X!"),
    "sender-too-short": sub("sender: ShopX", "sender: AB"),
    "bad-id": "id: black friday\n" + BASE,
    "bad-purpose": sub("purpose: alert", "purpose: marketing"),
    "bad-voice-language": sub("channel: sms", "channel: voice_sms")
    + "metadata:\n  voice_language: fr-CA\n",
    "bad-voice-gender": sub("channel: sms", "channel: voice_sms")
    + "metadata:\n  voice_gender: woman\n",
    "bad-emailing-service": EMAIL + "metadata:\n  emailing_service: smtp\n",
    "bad-body-format": EMAIL + "metadata:\n  body_format: markdown\n",
    "bad-rcs-message-type": RCS + "metadata:\n  message_type: carousel\n",
    "subject-on-sms": BASE + "metadata:\n  subject: Hello\n",
    "subject-too-long": EMAIL + "metadata:\n  subject: " + "s" * 1001 + "\n",
    "sms-recipient-without-phone": sub('{phone_number: "+33612345678"}', "{email: a@example.com}"),
    "email-recipient-without-email": LIVE_CHAT.replace("live_chat", "email")
    + "  - {first_name: Axelle}\n",
    "live-chat-recipient-empty": LIVE_CHAT + "  - {first_name: Axelle}\n",
    "conversation-id-not-uuid4": LIVE_CHAT + f"  - {{conversation_id: {NOT_UUID4}}}\n",
    "contacts-missing": BASE + "contacts: [contacts/nope.csv]\n",
    "contacts-outside": BASE + "contacts: [../secrets.csv]\n",
    "contacts-absolute": BASE + "contacts: [/etc/passwd]\n",
    "template-missing": sub("text: Votre colis arrive demain.", "template: nope.j2"),
    "template-traversal": sub("text: Votre colis arrive demain.", "template: ../../etc/passwd"),
    "template-absolute": sub("text: Votre colis arrive demain.", "template: /etc/passwd"),
    "template-link-out": sub("text: Votre colis arrive demain.", "template: link.j2"),
    "include-link-out": sub("Votre colis arrive demain.", "\"{% include 'link.j2' %}\""),
    "import-traversal": sub(
        "Votre colis arrive demain.", "\"{% import '../octoplan.yaml' as x %}\""
    ),
    "contacts-link-out": BASE + "contacts: [contacts/link.csv]\n",
    "exclude-traversal": BASE + "exclude: [../../etc/passwd]\n",
    "text-and-template": BASE + "template: colis.j2\n",
    "no-text": sub("text: Votre colis arrive demain.\n", ""),
    "no-recipients": "channel: sms\npurpose: alert\ntext: Bonjour\n",
    "request-id": BASE + "request_id: abc\n",
    "batch-size": BASE + "batch_size: 600\n",
    "on-list-without-list-name": BASE + "on_list: true\n",
    "on-list-on-email": EMAIL + "on_list: true\nlist_name: news\n",
    "voice-type-mismatch": sub("channel: sms", "channel: voice_sms")
    + "metadata:\n  type: sms_low_cost\n",
    "misspelt-metadata-key": EMAIL + "metadata:\n  subjet: Hello\n",
    "recipient-list-value": sub(
        '{phone_number: "+33612345678"}', '{phone_number: "+33612345678", tags: [a, b]}'
    ),
    "alias-bomb": BASE + "vars:\n" + "".join("  " + line + "\n" for line in BOMB.splitlines()),
    "recipients-not-a-list": sub(
        'recipients:\n  - {phone_number: "+33612345678"}\n', 'recipients: "+33612345678"\n'
    ),
    "optout-filtering-marketing": sub("purpose: alert", "purpose: wholesale").replace(
        "demain.", "demain. STOP au 30101"
    )
    + "optout_filtering: false\n",
    "email-from-invalid": EMAIL + "metadata:\n  email_from: shopx\n",
    "top-level-and-metadata": BASE + "type: sms_premium\nmetadata:\n  type: sms_low_cost\n",
}


EXPECTED = {
    "unknown-key": "3:1: error: unknown key 'sendr'\n  hint: did you mean 'sender'?",
    "bad-channel": (
        "1:10: error: channel must be one of sms, voice_sms, rcs, email, "
        "live_chat (got 'smss')\n  hint: did you mean 'sms'?"
    ),
    "missing-channel": (
        "1:1: error: missing required key 'channel'\n  hint: add e.g. channel: "
        "sms (sms, voice_sms, rcs, email, live_chat)"
    ),
    "bool-as-string": "7:18: error: simulation_mode must be true or false (got string 'yes')",
    "unquoted-phone": (
        "6:20: error: recipients[0].phone_number must be a string (got integer "
        '612345678)\n  hint: quote it to keep it as written: "0612345678"'
    ),
    "unterminated-quote": (
        '4:7: error: YAML syntax error: this " is never closed on its line\n  hint: end the '
        'text with " on the same line, or write several lines as a block (text: |)'
    ),
    "bad-indentation": (
        "3:3: error: YAML syntax error: 'sender' is indented under 'purpose' (line 2), which "
        "already has a value\n  hint: indent 'sender' like 'purpose' (by 0 spaces), or quote a "
        "value that holds ': '"
    ),
    "duplicate-key": (
        "7:1: error: duplicate key 'text' (first at line 4)\n  hint: remove one of them"
    ),
    "tab-indent": (
        "6:1: error: tab character in indentation\n  hint: YAML indents with "
        "spaces; replace the tab with spaces"
    ),
    "python-tag": (
        "7:7: error: YAML tag '!!python/object/apply:os.system' is not "
        "allowed\n  hint: campaign files use plain YAML: strings, numbers, "
        "booleans, lists and mappings"
    ),
    "merge-key": (
        "8:3: error: YAML merge keys (<<) are not supported\n  hint: repeat "
        "the keys, or put shared values in defaults in octoplan.yaml"
    ),
    "two-documents": (
        "8:1: error: only one YAML document per file is allowed\n  hint: move "
        "the second document to a file of its own"
    ),
    "empty-file": "1:1: error: campaign file is empty\n  hint: start with channel: sms",
    "top-level-list": "1:1: error: a campaign file must be a mapping of keys (got a list)",
    "send-at-naive": (
        "7:10: error: send_at needs a UTC offset (got '2026-12-04T10:00:00')\n "
        " hint: write it with an offset, e.g. 2026-12-04T10:00:00+01:00"
    ),
    "send-at-garbage": (
        "7:10: error: send_at must be an ISO 8601 date-time with an offset "
        "(got 'tomorrow morning')\n  hint: write it like "
        "2026-12-04T10:00:00+01:00"
    ),
    "send-at-date": (
        "7:10: error: send_at must be a date-time, not a date (got "
        "'2026-12-04')\n  hint: add a time and an offset, e.g. "
        "2026-12-04T10:00:00+01:00"
    ),
    "text-too-long": (
        "4:7: error: text is 1225 characters; the API accepts at most 1224\n  "
        "hint: shorten it: 1224 characters is already 8 SMS parts"
    ),
    "text-empty": "4:7: error: text must not be empty",
    "stop-missing": (
        "4:7: error: marketing SMS (purpose: wholesale) must contain the "
        'opt-out mention "STOP au 30101"\n  hint: add "STOP au 30101" to the '
        "text, or set purpose: alert for a transactional message"
    ),
    "sender-punctuation": (
        "3:9: error: sender must be 3 to 11 letters or digits (got "
        "'Shop-X!')\n  hint: operators refuse or rewrite other senders: no "
        "spaces, accents or punctuation"
    ),
    "sender-too-short": (
        "3:9: error: sender must be 3 to 11 letters or digits (got 'AB')\n  "
        "hint: operators refuse or rewrite other senders: no spaces, accents "
        "or punctuation"
    ),
    "bad-id": (
        "1:5: error: id must be 1 to 64 letters, digits, '.', '_' or '-', "
        "starting with a letter or digit (got 'black friday')"
    ),
    "bad-purpose": (
        "2:10: error: purpose must be one of alert, wholesale (got 'marketing')\n  hint: did "
        "you mean 'wholesale'? (the Octopush API calls marketing messages wholesale)"
    ),
    "bad-voice-language": (
        "8:19: error: metadata.voice_language must be one of en-US, en-GB, "
        "el-GR, pl-PL, hu-HU, sv-SE, de-DE, es-ES, es-LA, fr-FR, it-IT, pt-BR, "
        "ru-RU (got 'fr-CA')\n  hint: did you mean 'fr-FR'?"
    ),
    "bad-voice-gender": (
        "8:17: error: metadata.voice_gender must be one of male, female (got 'woman')"
    ),
    "bad-emailing-service": (
        "5:21: error: metadata.emailing_service must be one of mailbox, gateway (got 'smtp')"
    ),
    "bad-body-format": (
        "5:16: error: metadata.body_format must be one of plain_text, html (got 'markdown')"
    ),
    "bad-rcs-message-type": (
        "5:17: error: metadata.message_type must be one of simple_text, rich_card (got 'carousel')"
    ),
    "subject-on-sms": (
        "8:3: error: metadata.subject applies to the email channel only\n  "
        "hint: remove it: this campaign's channel is sms"
    ),
    "subject-too-long": (
        "5:12: error: metadata.subject is 1001 characters; at most 1000 are allowed"
    ),
    "sms-recipient-without-phone": (
        "6:5: error: recipients[0] has no phone_number (the sms channel sends to phone numbers)"
    ),
    "email-recipient-without-email": (
        "4:5: error: recipients[0] has no email (the email channel sends to e-mail addresses)"
    ),
    "live-chat-recipient-empty": (
        "4:5: error: recipients[0] needs at least one of phone_number, email, conversation_id"
    ),
    "conversation-id-not-uuid4": (
        "4:23: error: recipients[0].conversation_id must be a UUID v4 (got "
        "'00000000-0000-0000-0000-000000000001')"
    ),
    "contacts-missing": "7:12: error: contacts file 'contacts/nope.csv' not found",
    "contacts-outside": "7:12: error: contacts file '../secrets.csv' is outside the project",
    "contacts-absolute": (
        "7:12: error: contacts file '/etc/passwd' must be a path relative to the project"
    ),
    "template-missing": "4:11: error: template 'nope.j2' not found in templates/",
    "template-traversal": "4:11: error: template '../../etc/passwd' is outside templates/",
    "template-absolute": (
        "4:11: error: template '/etc/passwd' must be a path relative to the project"
    ),
    "template-link-out": "4:11: error: template 'link.j2' is outside templates/",
    "include-link-out": (
        "4: error: campaign include-link-out, recipient +33612345678 "
        "(campaigns/include-link-out.yaml:6): template 'link.j2' is a link to a file outside "
        "templates/\n  hint: templates may only use files under templates/"
    ),
    "import-traversal": (
        "4: error: campaign import-traversal, recipient +33612345678 "
        "(campaigns/import-traversal.yaml:6): template '../octoplan.yaml' not found under "
        "templates/"
    ),
    "contacts-link-out": "7:12: error: contacts file 'contacts/link.csv' is outside the project",
    "exclude-traversal": "7:11: error: exclude file '../../etc/passwd' is outside the project",
    "text-and-template": (
        "7:1: error: set either text or template, not both\n  hint: keep text "
        "for a short message, template for a file under templates/"
    ),
    "no-text": (
        '1:1: error: campaign has no text\n  hint: add text: "..." or '
        "template: <a file under templates/>"
    ),
    "no-recipients": (
        "1:1: error: campaign has no recipients\n  hint: add recipients: "
        "(inline) or contacts: [contacts/<file>.csv]"
    ),
    "request-id": (
        "7:1: error: request_id is generated by octoplan; remove it\n  hint: "
        "each batch gets a request_id derived from its content, so retries are "
        "deduplicated by the API"
    ),
    "batch-size": "7:13: error: batch_size must be at most 500 (got 600)",
    "on-list-without-list-name": (
        "7:10: error: on_list: true needs list_name\n  hint: name the contact "
        "list the API will create, e.g. list_name: black-friday"
    ),
    "on-list-on-email": (
        "4:1: error: on_list applies to the sms and voice_sms channels only\n  "
        "hint: remove it: this campaign's channel is email"
    ),
    "voice-type-mismatch": (
        "8:9: error: metadata.type must be voice_sms for the voice_sms channel (got 'sms_low_cost')"
    ),
    "misspelt-metadata-key": (
        "5:3: error: unknown key 'subjet' in metadata\n  hint: did you mean 'subject'?"
    ),
    "recipient-list-value": (
        "6:42: error: recipients[0].tags must be a single value (string, "
        "number or boolean), not a list\n  hint: contact fields hold one value "
        "each"
    ),
    "alias-bomb": (
        "8:18: error: YAML aliases expand to more than 100,000 values\n  hint: "
        "write the values out, or use defaults in octoplan.yaml"
    ),
    "recipients-not-a-list": "5:13: error: recipients must be a list (got string '+33612345678')",
    "optout-filtering-marketing": (
        "7:19: error: optout_filtering: false is only allowed for "
        "transactional campaigns (purpose: alert)\n  hint: marketing messages "
        "must never reach contacts who opted out"
    ),
    "email-from-invalid": (
        "5:15: error: metadata.email_from must be an e-mail address (got 'shopx')"
    ),
    "top-level-and-metadata": (
        "9:3: error: type is declared twice: at the top level and under "
        "metadata\n  hint: keep one of them"
    ),
    "not-utf8": ("2:10: error: not UTF-8 text (byte 0xe9)\n  hint: save the file as UTF-8"),
}

NOT_UTF8 = b"channel: sms\ntext: caf\xe9\n"


@pytest.fixture(scope="module")
def bad_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad")
    files = {f"campaigns/{name}.yaml": text for name, text in CASES.items()}
    write_files(root, {"octoplan.yaml": "region: FR\n", "templates/colis.j2": "", **files})
    (root / "campaigns" / "not-utf8.yaml").write_bytes(NOT_UTF8)
    (root / "templates" / "link.j2").symlink_to("/etc/passwd")
    (root / "contacts").mkdir()
    (root / "contacts" / "link.csv").symlink_to("/etc/hostname")
    return root


def test_there_are_at_least_30_distinct_bad_inputs() -> None:
    assert len(set(CASES.values())) >= 30
    assert set(EXPECTED) == {*CASES, "not-utf8"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_gives_one_positioned_error(bad_project: Path, name: str) -> None:
    result = run_cli("validate", f"campaigns/{name}.yaml", cwd=bad_project)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"campaigns/{name}.yaml:{EXPECTED[name]}\n1 error in 1 file\n"


# Found while rendering, which runs only once every file has loaded.
RENDER_TIME = {"include-link-out", "import-traversal"}


def test_all_errors_are_reported_together(bad_project: Path) -> None:
    result = run_cli("validate", cwd=bad_project)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    names = sorted(set(EXPECTED) - RENDER_TIME)
    assert result.stderr == "\n".join(f"campaigns/{n}.yaml:{EXPECTED[n]}" for n in names) + (
        f"\n{len(names)} errors in {len(names)} files\n"
    )


def test_json_format_lists_every_diagnostic(bad_project: Path) -> None:
    result = run_cli("validate", "--format", "json", "campaigns/unknown-key.yaml", cwd=bad_project)
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "valid": False,
        "campaigns": [],
        "diagnostics": [
            {
                "path": "campaigns/unknown-key.yaml",
                "line": 3,
                "col": 1,
                "severity": "error",
                "message": "unknown key 'sendr'",
                "hint": "did you mean 'sender'?",
            }
        ],
    }


def test_the_example_project_is_valid(example_project: Path) -> None:
    result = run_cli("validate", cwd=example_project)
    assert (result.returncode, result.stdout, result.stderr) == (0, "6 campaigns valid\n", "")


def test_json_format_of_a_valid_project(example_project: Path) -> None:
    result = run_cli("validate", "--format", "json", cwd=example_project)
    assert result.returncode == 0
    assert json.loads(result.stdout) == {
        "valid": True,
        "campaigns": [
            "black-friday-2026",
            "delivery-call",
            "newsletter",
            "order-shipped",
            "rcs-welcome",
            "support-chat",
        ],
        "diagnostics": [],
    }


def test_paths_limit_the_campaigns(example_project: Path) -> None:
    result = run_cli("validate", "campaigns/newsletter.yaml", "campaigns", cwd=example_project)
    assert (result.returncode, result.stdout) == (0, "6 campaigns valid\n")
    result = run_cli("validate", "newsletter.yaml", cwd=example_project / "campaigns")
    assert (result.returncode, result.stdout) == (0, "1 campaign valid\n")


def test_a_missing_path_is_an_error(example_project: Path) -> None:
    result = run_cli("validate", "campaigns/nope.yaml", cwd=example_project)
    assert result.returncode == 1
    assert result.stderr == (
        "campaigns/nope.yaml: error: no such file or directory\n1 error in 1 file\n"
    )


def test_errors_in_octoplan_yaml(make_project: MakeProject) -> None:
    campaign = (
        "channel: sms\npurpose: alert\ntext: x\nrecipients: [{phone_number: '+33612345678'}]\n"
    )
    root = make_project(
        {"campaigns/a.yaml": campaign},
        config="region: FRA\npolicies:\n  max_segmets: 3\n",
    )
    result = run_cli("validate", cwd=root)
    assert result.returncode == 1
    assert result.stderr == (
        "octoplan.yaml:1:9: error: region must be a two-letter country code, e.g. FR (got 'FRA')\n"
        "  hint: it is the default region for phone numbers written without +country code\n"
        "octoplan.yaml:3:3: error: unknown key 'max_segmets' in policies\n"
        "  hint: did you mean 'max_segments'?\n"
        "2 errors in 1 file\n"
    )


def test_usage_errors_exit_1(example_project: Path) -> None:
    result = run_cli("validate", "--format", "xml", cwd=example_project)
    assert result.returncode == 1
    assert "Invalid value for '--format'" in result.stderr
    result = run_cli("-C", "nowhere", "validate", cwd=example_project)
    assert (result.returncode, result.stderr) == (
        1,
        "error: nowhere: not a directory (given with -C/--project)\n",
    )


WARNS = (
    'channel: sms\ntext: "Bonjour 😀"\nrecipients: [{phone_number: "+33612345678"}]\n'
    "purpose: alert\n"
)
UCS2_WARNING = (
    "campaigns/w.yaml:2:7: warning: campaign w: 😀 (U+1F600) at campaigns/w.yaml:2:9 makes "
    "1 message UCS-2 (70 characters per SMS instead of 160)\n"
)
QUIET_CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"


def test_quiet_prints_nothing_on_success_not_even_warnings(make_project: MakeProject) -> None:
    root = make_project({"campaigns/w.yaml": WARNS}, QUIET_CONFIG)
    result = run_cli("validate", cwd=root)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "1 campaign valid, 1 warning\n",
        UCS2_WARNING,
    )
    result = run_cli("--quiet", "validate", cwd=root)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_quiet_prints_errors_only(make_project: MakeProject) -> None:
    root = make_project(
        {"campaigns/w.yaml": WARNS, "campaigns/x.yaml": WARNS.replace("text", "txet")},
        QUIET_CONFIG,
    )
    result = run_cli("-q", "validate", cwd=root)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "campaigns/x.yaml:2:1: error: unknown key 'txet'\n"
        "  hint: did you mean 'text'?\n"
        "1 error in 1 file\n",
    )


def test_quiet_keeps_json(example_project: Path) -> None:
    result = run_cli("-q", "validate", "--format", "json", cwd=example_project)
    assert result.returncode == 0
    assert json.loads(result.stdout)["valid"] is True


def test_verbose_adds_the_time_taken(example_project: Path) -> None:
    result = run_cli("--verbose", "validate", cwd=example_project)
    assert (result.returncode, result.stdout) == (0, "6 campaigns valid\n")
    assert re.fullmatch(r"checked 6 campaigns in \d+\.\d\d s\n", result.stderr)
