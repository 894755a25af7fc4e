from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import phonenumbers
import pytest

from octoplan.contactfiles import open_source
from octoplan.contacts import ContactSet, collect
from octoplan.phones import (
    InvalidRecipient,
    _fast_e164_type,
    _parse,
    normalize_conversation_id,
    normalize_email,
    normalize_phone,
)
from tests.fixtures.project import MakeProject, run_cli


def load(tmp_path: Path, name: str, text: str | bytes, channel: str = "sms") -> ContactSet:
    file = tmp_path / name
    if isinstance(text, bytes):
        file.write_bytes(text)
    else:
        file.write_text(text, encoding="utf-8")
    return collect([open_source(file, f"contacts/{name}")], [], channel, "FR")


def errors(result: ContactSet) -> list[str]:
    return [d.format() for d in result.errors]


@pytest.mark.parametrize(
    "raw",
    [
        "06 12 34 56 78",
        "0612345678",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "0033612345678",
        "00 33 6 12 34 56 78",
        "+33 (0)6 12 34 56 78",
        "+33612345678",
        "  +33 6 12 34 56 78  ",
        "(06) 12 34 56 78",
    ],
)
def test_french_mobile_formats_normalize_to_e164(raw: str) -> None:
    assert normalize_phone(raw, "FR", "sms") == "+33612345678"


@pytest.mark.parametrize(
    ("raw", "channel", "message", "hint"),
    [
        (
            "06 12 34 56 7",
            "sms",
            "'06 12 34 56 7' is not a valid phone number for region FR",
            None,
        ),
        (
            "07 12 34 56 78",
            "sms",
            "'07 12 34 56 78' is not a valid phone number for region FR",
            None,
        ),
        (
            "0692 12 34 56",
            "sms",
            "'0692 12 34 56' is not a valid phone number for region FR",
            "it is valid in region RE: write it in international format (+262692123456)",
        ),
        (
            "01 23 45 67 89",
            "sms",
            "'01 23 45 67 89' (+33123456789) is a fixed line: it cannot receive SMS",
            "SMS and RCS need a mobile number",
        ),
        (
            "09 51 23 45 67",
            "rcs",
            "'09 51 23 45 67' (+33951234567) is a VoIP number: it cannot receive RCS messages",
            "SMS and RCS need a mobile number",
        ),
        (
            "0800 123 456",
            "voice_sms",
            "'0800 123 456' (+33800123456) is a toll-free number: it cannot receive voice SMS",
            None,
        ),
        (
            "0612345678x",
            "sms",
            "'0612345678x' is not a phone number: only digits, spaces, dots, dashes, "
            "parentheses and a leading + are allowed",
            None,
        ),
        (
            "abc",
            "sms",
            "'abc' is not a phone number: only digits, spaces, dots, dashes, "
            "parentheses and a leading + are allowed",
            None,
        ),
    ],
)
def test_bad_numbers_are_explained(raw: str, channel: str, message: str, hint: str | None) -> None:
    with pytest.raises(InvalidRecipient) as caught:
        normalize_phone(raw, "FR", channel)
    assert (str(caught.value), caught.value.hint) == (message, hint)


def test_a_fixed_line_can_receive_a_voice_sms() -> None:
    assert normalize_phone("01 23 45 67 89", "FR", "voice_sms") == "+33123456789"


def test_the_e164_fast_path_agrees_with_a_full_parse() -> None:
    rng = random.Random(1234)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    samples = [f"+33{rng.choice('67')}{rng.randrange(10**8):08d}" for _ in range(1500)]
    samples += [f"+262{rng.choice(['692', '262'])}{rng.randrange(10**6):06d}" for _ in range(300)]
    samples += [
        f"+{rng.choice(codes)}{rng.randrange(10 ** rng.randint(6, 11))}" for _ in range(3000)
    ]
    taken = 0
    for raw in samples:
        fast = _fast_e164_type(raw[1:])
        if fast is None:
            continue
        taken += 1
        try:
            slow: tuple[str, int] | None = _parse(raw, "FR")
        except InvalidRecipient:
            slow = None
        if slow is None:
            assert fast[1] == phonenumbers.PhoneNumberType.UNKNOWN, raw
        else:
            assert fast == slow, raw
    assert taken > 0.8 * len(samples)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("Axelle.Durand@Example.COM", "axelle.durand@example.com"), (" a@b.fr ", "a@b.fr")],
)
def test_emails_are_lower_cased(raw: str, normalized: str) -> None:
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize("raw", ["axelle", "a@b", "a b@c.fr", "a@@b.fr"])
def test_bad_emails(raw: str) -> None:
    with pytest.raises(InvalidRecipient) as caught:
        normalize_email(raw)
    assert str(caught.value) == f"'{raw}' is not a valid e-mail address"


def test_conversation_ids_are_uuids() -> None:
    assert normalize_conversation_id("ABCDEF00-0000-4000-8000-000000000001") == (
        "abcdef00-0000-4000-8000-000000000001"
    )
    with pytest.raises(InvalidRecipient) as caught:
        normalize_conversation_id("conv-1")
    assert str(caught.value) == "'conv-1' is not a valid conversation_id"


def test_csv_with_bom_semicolons_quotes_and_empty_cells(tmp_path: Path) -> None:
    text = (
        "\ufeffphone_number;first_name;city\n"
        "06 12 34 56 78;Axelle;Paris\n"
        '"+33 6 98 76 54 32";"Chloé; la grande";\n'
    )
    result = load(tmp_path, "c.csv", text)
    assert errors(result) == []
    assert [(c.key, c.fields, c.line) for c in result.contacts] == [
        (
            "+33612345678",
            {"phone_number": "+33612345678", "first_name": "Axelle", "city": "Paris"},
            2,
        ),
        ("+33698765432", {"phone_number": "+33698765432", "first_name": "Chloé; la grande"}, 3),
    ]


def test_bad_csv_rows_are_reported_with_file_line_and_column(tmp_path: Path) -> None:
    text = (
        "first_name,phone_number\n"
        "Axelle,06 12 34 56 78\n"
        "\n"
        "Bob,06 12 34 56 7\n"
        "Dan,01 23 45 67 89\n"
        "Eve\n"
        "Fay,\n"
        '"multi\nline",06 98 76 54 32\n'
        "Gus,06 98 76 54 3x\n"
    )
    result = load(tmp_path, "c.csv", text)
    assert errors(result) == [
        "contacts/c.csv:4:5: error: '06 12 34 56 7' is not a valid phone number for region FR",
        "contacts/c.csv:5:5: error: '01 23 45 67 89' (+33123456789) is a fixed line: "
        "it cannot receive SMS\n  hint: SMS and RCS need a mobile number",
        "contacts/c.csv:6: error: row has 1 cells, the header has 2\n"
        "  hint: cells are separated by ','; quote values that contain it",
        "contacts/c.csv:7: error: contact has no phone_number (needed for channel sms)",
        "contacts/c.csv:10:5: error: '06 98 76 54 3x' is not a phone number: only digits, "
        "spaces, dots, dashes, parentheses and a leading + are allowed",
    ]
    assert [(c.key, c.line) for c in result.contacts] == [("+33612345678", 2), ("+33698765432", 8)]


def test_csv_header_problems(tmp_path: Path) -> None:
    result = load(tmp_path, "c.csv", "phone_number,name,,name\n0612345678,a,b,c\n")
    assert errors(result) == [
        "contacts/c.csv:1:19: error: empty column name in the header",
        "contacts/c.csv:1:20: error: duplicate column 'name'",
    ]


def test_csv_that_is_not_utf8(tmp_path: Path) -> None:
    result = load(tmp_path, "c.csv", "phone_number,city\n0612345678,B\xe9ziers\n".encode("latin-1"))
    assert errors(result) == [
        "contacts/c.csv:2:13: error: not UTF-8 text (byte 0xe9)\n"
        "  hint: save the file as UTF-8 (in Excel: 'CSV UTF-8')"
    ]


def test_yaml_contacts_with_lines_and_columns(tmp_path: Path) -> None:
    text = (
        "- {phone_number: '+33612345678', first_name: Axelle, param1: 12}\n"
        "- phone_number: 0612345678\n"
        "  first_name: Bob\n"
        "- phone_number: '06 12 34 56 7'\n"
        "- first_name: [a, b]\n"
        "  phone_number: '0698765432'\n"
    )
    result = load(tmp_path, "c.yaml", text)
    assert errors(result) == [
        "contacts/c.yaml:2:17: error: phone_number must be a string, not the number 612345678"
        '\n  hint: quote it: a number loses its leading 0 or + (write "0612345678")',
        "contacts/c.yaml:4:17: error: '06 12 34 56 7' is not a valid phone number for region FR",
        "contacts/c.yaml:5:15: error: first_name must be a single value, not a list",
    ]
    assert [(c.key, c.fields, c.line) for c in result.contacts] == [
        (
            "+33612345678",
            {"phone_number": "+33612345678", "first_name": "Axelle", "param1": "12"},
            1,
        )
    ]


def test_json_contacts_know_their_line(tmp_path: Path) -> None:
    text = (
        '[\n  {"email": "A@Example.com", "first_name": "Axelle"},\n'
        '  {"email": "not-an-email"},\n'
        '  {"email": "b@example.com", "vip": true, "score": 1.5, "none": null}\n]\n'
    )
    result = load(tmp_path, "c.json", text, channel="email")
    assert errors(result) == [
        "contacts/c.json:3: error: 'not-an-email' is not a valid e-mail address"
    ]
    assert [(c.key, c.fields, c.line) for c in result.contacts] == [
        ("a@example.com", {"email": "a@example.com", "first_name": "Axelle"}, 2),
        ("b@example.com", {"email": "b@example.com", "vip": "true", "score": "1.5"}, 4),
    ]


def test_json_syntax_error(tmp_path: Path) -> None:
    text = '[\n {"email": "a@b.fr"}\n {"email": "c@d.fr"}\n]'
    result = load(tmp_path, "c.json", text, channel="email")
    assert errors(result) == ["contacts/c.json:3:2: error: invalid JSON: Expecting ',' delimiter"]


def test_duplicates_collapse_and_exclude_lists_remove(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(
        "phone_number,first_name\n0612345678,First\n+33 6 12 34 56 78,Second\n"
        "0698765432,Out\n0698765432,Out again\n0611111111,Stays\n",
        encoding="utf-8",
    )
    (tmp_path / "optout.csv").write_text(
        "phone_number,email\n+33698765432,\n,someone@example.com\n", encoding="utf-8"
    )
    result = collect(
        [open_source(tmp_path / "a.csv", "a.csv")],
        [open_source(tmp_path / "optout.csv", "optout.csv")],
        "sms",
        "FR",
    )
    assert errors(result) == []
    assert [(c.key, c.fields["first_name"]) for c in result.contacts] == [
        ("+33612345678", "First"),
        ("+33611111111", "Stays"),
    ]
    assert (result.duplicates, result.excluded) == (2, 1)


def test_a_bad_number_in_an_exclude_list_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "optout.csv").write_text("phone_number\n06 12 34\n", encoding="utf-8")
    result = collect([], [open_source(tmp_path / "optout.csv", "optout.csv")], "sms", "FR")
    assert errors(result) == [
        "optout.csv:2:1: error: '06 12 34' is not a valid phone number for region FR"
    ]


def test_errors_are_capped_per_file(tmp_path: Path) -> None:
    rows = "".join(f"0{i:09d}\n" for i in range(25))
    result = load(tmp_path, "c.csv", "phone_number\n" + rows)
    assert len(result.errors) == 21
    assert (
        result.errors[-1].format() == "contacts/c.csv: error: 5 more errors in this file not shown"
    )


# -- files that are not contact lists ---------------------------------------------------------

NOT_TEXT_HINT = "\n  hint: contact files are UTF-8 text: is this a binary or UTF-16 file?"


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (
            "c.csv",
            b"phone_number,first_name\n+33612345678,A\x00B\n",
            f"contacts/c.csv:2:15: error: control character 0x00 in a text file{NOT_TEXT_HINT}",
        ),
        (
            "c.csv",
            b"phone_number,first_name\n+33612345678,\xc3\xa9\x1b[2J\n",
            f"contacts/c.csv:2:15: error: control character 0x1b in a text file{NOT_TEXT_HINT}",
        ),
        (
            "c.csv",
            "phone_number\n+33612345678\n".encode("utf-16"),
            "contacts/c.csv:1:1: error: UTF-16 text, not UTF-8\n"
            "  hint: save the file as UTF-8 (in Excel: 'CSV UTF-8')",
        ),
        (
            "c.csv",
            b'phone_number,n\n+33612345678,"' + b"x" * 200_000 + b'"\n',
            "contacts/c.csv:2: error: a cell is longer than 131,072 characters\n"
            "  hint: contact fields are short: is a quote left open on this line or above it?",
        ),
        (
            "c.csv",
            b'phone_number,n\n+33612345678,ok\n+33612345679,"open\n' + b"x,y\n" * 40_000,
            "contacts/c.csv:32770: error: a cell is longer than 131,072 characters\n"
            "  hint: contact fields are short: is a quote left open on this line or above it?",
        ),
        (
            "c.csv",
            b"c" * (1024 * 1024 + 1) + b"\n",
            "contacts/c.csv:1: error: the header row is longer than 1,048,576 characters\n"
            "  hint: the first line must name the columns: is this a contact list?",
        ),
        (
            "c.json",
            b'[{"phone_number": "+33612345678", "city": "B\xe9ziers"}]',
            "contacts/c.json:1:45: error: not UTF-8 text (byte 0xe9)\n"
            "  hint: save the file as UTF-8 (in Excel: 'CSV UTF-8')",
        ),
        (
            "c.json",
            b'[{"phone_number": "+33612345678"},\n ' + b"[" * 100_000 + b"]" * 100_000 + b"]",
            "contacts/c.json:2: error: invalid JSON: nesting too deep for a contact",
        ),
        (
            "c.json",
            b'[{"phone_number": "+33612345678", "first_name": "A\\u0000B"}]',
            "contacts/c.json:1: error: first_name: control character U+0000 is not allowed\n"
            "  hint: remove it: messages and contact fields are plain text",
        ),
        (
            "c.json",
            b'[{"phone_number": "+33612345678", "first_name": "\\ud83d"}]',
            "contacts/c.json:1: error: first_name: invalid character \\ud83d: half of a "
            "UTF-16 pair\n  hint: write the character itself, or escape it whole "
            "(\\U0001F600 for 😀)",
        ),
        (
            "c.json",
            b'[{"phone_number": "+33612345678", "": "x"}]',
            "contacts/c.json:1: error: bad field name ''",
        ),
        (
            "c.json",
            b'[{"phone_number": "+33612345678", "\\f0": "x"}]',
            "contacts/c.json:1: error: bad field name '\\x0c0': control character U+000C is "
            "not allowed",
        ),
        (
            "c.json",
            b'[{"phone_number": "+33612345678", "first_name": "' + b"x" * 200_000 + b'"}]',
            "contacts/c.json:1: error: first_name is longer than 131,072 characters\n"
            "  hint: contact fields are short",
        ),
    ],
    ids=[
        "csv-nul",
        "csv-escape",
        "csv-utf16",
        "csv-huge-cell",
        "csv-open-quote",
        "csv-huge-header",
        "json-not-utf8",
        "json-deep",
        "json-nul-escape",
        "json-surrogate",
        "json-empty-name",
        "json-control-name",
        "json-huge-value",
    ],
)
def test_files_that_are_not_contact_lists(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    result = load(tmp_path, name, data)
    assert errors(result) == [expected]


def test_a_row_of_a_million_cells(tmp_path: Path) -> None:
    result = load(tmp_path, "c.csv", "phone_number,n\n" + "x," * 1_000_000 + "\n")
    assert errors(result) == [
        "contacts/c.csv:2: error: row has 1000001 cells, the header has 2\n"
        "  hint: cells are separated by ','; quote values that contain it"
    ]


# Reads the contact files named on its command line in a process that cannot bypass file
# permissions: the capabilities that let root read anything (CAP_DAC_OVERRIDE,
# CAP_DAC_READ_SEARCH) are dropped from its effective set first (capset(2); a no-op for any
# other user, who has none). So an unreadable file is unreadable whoever runs the tests (CI
# runs them as root), and the assertion is never skipped.
UNPRIVILEGED_READ = """
import ctypes, json, struct, sys
from pathlib import Path

libc = ctypes.CDLL(None, use_errno=True)
header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0))  # version 3, this process
caps = ctypes.create_string_buffer(24)
if libc.capget(header, caps) != 0:
    sys.exit(f"capget: errno {ctypes.get_errno()}")
sets = list(struct.unpack("6I", caps.raw))  # effective, permitted, inheritable (x2)
sets[0] &= ~(1 << 1 | 1 << 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
if libc.capset(header, ctypes.create_string_buffer(struct.pack("6I", *sets))) != 0:
    sys.exit(f"capset: errno {ctypes.get_errno()}")

from octoplan.contactfiles import open_source
from octoplan.contacts import collect

root = Path(sys.argv[1])
for name in sys.argv[2:]:
    result = collect([open_source(root / name, name)], [], "sms", "FR")
    print(json.dumps([d.format() for d in result.errors]))
"""


def test_an_unreadable_file(tmp_path: Path) -> None:
    names = ("c.csv", "c.json")
    for name in names:
        (tmp_path / name).write_text("phone_number\n", encoding="utf-8")
        (tmp_path / name).chmod(0)
    read = subprocess.run(
        [sys.executable, "-c", UNPRIVILEGED_READ, str(tmp_path), *names],
        capture_output=True,
        text=True,
        check=False,
    )
    assert read.returncode == 0, read.stderr
    assert [json.loads(line) for line in read.stdout.splitlines()] == [
        [f"{name}: error: cannot read: Permission denied"] for name in names
    ]


def test_yaml_contacts_under_a_contacts_key_are_reported_where_they_are(
    make_project: MakeProject,
) -> None:
    """The list may sit under a `contacts:` key: an error names the contact's own line and
    column, not 1:1 (each position was looked up as if the list were at the top)."""
    root = make_project(
        {
            "campaigns/a.yaml": (
                'channel: sms\npurpose: alert\ntext: "Hi"\ncontacts: [contacts/c.yaml]\n'
            ),
            "contacts/c.yaml": (
                "contacts:\n"
                '  - {phone_number: "+33612345678", first_name: Zoé}\n'
                '  - {phone_number: "06123", first_name: Noé}\n'
            ),
        }
    )
    result = run_cli("validate", cwd=root)
    assert (result.returncode, result.stderr) == (
        1,
        "contacts/c.yaml:3:20: error: '06123' is not a valid phone number for region FR\n"
        "1 error in 1 file\n",
    )
