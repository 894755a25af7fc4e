"""Oversized inputs through the real CLI, in a process limited to 1 GiB of address space: each
is refused with a clear error naming the file and the limit, exit 1, and memory stays bounded
(the limit turns any attempt to hold a 300 MB file several times over into a crash).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from tests.fixtures.project import MakeProject

ADDRESS_SPACE = 1 << 30
MB = 1 << 20
HEAD = "channel: sms\npurpose: alert\nsender: ShopX\n"
ONE = 'recipients: [{phone_number: "+33612345678"}]\n'


def fill(file: Path, head: bytes, megabytes: int, tail: bytes = b"\n") -> None:
    """head + megabytes of 'x' + tail, written in chunks (no big string in this process)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    chunk = b"x" * MB
    with file.open("wb") as handle:
        handle.write(head)
        for _ in range(megabytes):
            handle.write(chunk)
        handle.write(tail)


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def validate_limited(root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCTOPUSH_", "OCTOPLAN_"))}
    return subprocess.run(
        [sys.executable, "-m", "octoplan", "validate"],
        cwd=root,
        env={**env, "NO_COLOR": "1"},
        preexec_fn=_limit,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_oversized_campaign_files_and_templates(make_project: MakeProject) -> None:
    root = make_project({"campaigns/template.yaml": HEAD + "template: big.j2\n" + ONE})
    fill(root / "campaigns" / "one-line.yaml", HEAD.encode() + b"text: ", 50)
    fill(root / "templates" / "big.j2", b"", 50)

    result = validate_limited(root)

    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    assert result.stderr == (
        "campaigns/one-line.yaml: error: file is 50.0 MB; YAML files are limited to 10 MB\n"
        "  hint: put contacts in a CSV or JSON file (contacts: [contacts/<file>.csv])\n"
        "campaigns/template.yaml:4:11: error: template 'big.j2' is 50.0 MB; templates are "
        "limited to 1 MB\n"
        "2 errors in 2 files\n"
    )


def test_oversized_contact_files_and_included_templates(make_project: MakeProject) -> None:
    campaigns = {
        f"campaigns/{name}.yaml": f"{HEAD}text: Bonjour\ncontacts: [contacts/{file}]\n"
        for name, file in [("cell", "cell.csv"), ("header", "header.csv"), ("json", "big.json")]
    }
    campaigns["campaigns/include.yaml"] = HEAD + "text: \"{% include 'big.j2' %}\"\n" + ONE
    root = make_project(campaigns)
    fill(root / "contacts" / "cell.csv", b"phone_number,first_name\n+33612345678,", 300)
    fill(root / "contacts" / "header.csv", b"phone_number,", 300)
    fill(root / "contacts" / "big.json", b'[{"phone_number": "+33612345678", "n": "', 100, b'"}]')
    fill(root / "templates" / "big.j2", b"", 50)

    result = validate_limited(root)

    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    assert result.stderr == (
        "contacts/cell.csv:2: error: a cell is longer than 131,072 characters\n"
        "  hint: contact fields are short: is a quote left open on this line or above it?\n"
        "contacts/header.csv:1: error: the header row is longer than 1,048,576 characters\n"
        "  hint: the first line must name the columns: is this a contact list?\n"
        "campaigns/include.yaml:4: error: campaign include, recipient +33612345678 "
        "(campaigns/include.yaml:5): template 'big.j2' is 50.0 MB; templates are limited to "
        "1 MB\n"
        "  hint: is this the right file?\n"
        "contacts/big.json:1: error: n is longer than 131,072 characters\n"
        "  hint: contact fields are short\n"
        "4 errors in 4 files\n"
    )
