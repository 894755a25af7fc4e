"""Hostile input through the real CLI: `apply` against a live sandbox refuses it with clear,
positioned errors, exit 1 and no traceback, and sends nothing and writes nothing (no state).

The volume is in the library-level fuzz suites (tests/test_fuzz_*.py); these cases check the
last mile: what the user sees, and that nothing leaves or lands on disk. Each project holds one
campaign per hostile input, and every one of them must be named in an error.
"""

from __future__ import annotations

import re
from pathlib import Path

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
HEAD = "channel: sms\npurpose: alert\n"
ONE = 'recipients: [{phone_number: "+33612345678"}]\n'
BOMB = '  a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"  a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 7)
)


def csv_campaign(name: str) -> str:
    return f"{HEAD}contacts: [contacts/{name}.csv]\ntext: Bonjour {{{{ contact.first_name }}}}\n"


# Refused while loading: every campaign file is read, each error reported.
LOAD_TIME: dict[str, str | bytes] = {
    "campaigns/yaml-bomb.yaml": HEAD + "text: Bonjour\n" + ONE + "vars:\n" + BOMB,
    "campaigns/python-tag.yaml": HEAD
    + "text: !!python/object/apply:os.system [touch pwned]\n"
    + ONE,
    "campaigns/binary.yaml": bytes(range(256)) * 4,
    "campaigns/deep.yaml": HEAD + ONE + "vars: " + "[" * 5000 + "]" * 5000 + "\n",
    "campaigns/not-utf8.yaml": (HEAD + ONE).encode() + b"text: caf\xe9\n",
    "campaigns/traversal.yaml": HEAD + "template: ../../etc/passwd\n" + ONE,
    "campaigns/absolute.yaml": HEAD + "text: Bonjour\ncontacts: [/etc/passwd]\n",
}

# Refused while reading contacts and rendering, which needs every file loaded first.
RENDER_TIME: dict[str, str | bytes] = {
    "campaigns/csv-nul.yaml": csv_campaign("nul"),
    "contacts/nul.csv": b"phone_number,first_name\n+33612345678,A\x00\n",
    "campaigns/csv-latin1.yaml": csv_campaign("latin1"),
    "contacts/latin1.csv": b"phone_number,first_name\n+33612345678,Andr\xe9\n",
    "campaigns/csv-huge-cell.yaml": csv_campaign("huge"),
    "contacts/huge.csv": b'phone_number,first_name\n+33612345678,"' + b"A" * 300_000 + b'"\n',
    "campaigns/csv-ragged.yaml": csv_campaign("ragged"),
    "contacts/ragged.csv": "phone_number,first_name\n+33612345678,A,B,C\n+33612345679\n",
    "campaigns/include-link.yaml": HEAD + "text: \"{% include 'x.j2' %}\"\n" + ONE,
    "campaigns/jinja-escape.yaml": HEAD
    + "text: \"{{ cycler.__init__.__globals__.os.popen('touch pwned').read() }}\"\n"
    + ONE,
}
POSITIONED = re.compile(r"^([\w./-]+):\d+(:\d+)?: error: \S", re.MULTILINE)


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            (root / name).write_bytes(data)
        else:
            (root / name).write_text(data, encoding="utf-8")


def apply_refuses(root: Path, sandbox: SandboxServer) -> set[str]:
    """Run apply; check that it refused cleanly and left no trace. The files it named."""
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    result = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert result.stdout == ""
    assert sandbox.requests() == [] and sandbox.deliveries() == []
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # no .octoplan/
    assert not (root / "pwned").exists()
    return {m.group(1) for m in POSITIONED.finditer(result.stderr)}


def test_hostile_campaign_files_are_refused_before_anything_happens(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(config=CONFIG)
    write(root, LOAD_TIME)
    assert apply_refuses(root, sandbox) == set(LOAD_TIME)


def test_hostile_contacts_and_templates_are_refused_before_the_state_is_touched(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(config=CONFIG)
    write(root, RENDER_TIME)
    (root / "templates").mkdir()
    (root / "templates" / "x.j2").symlink_to("/etc/passwd")
    named = apply_refuses(root, sandbox)
    assert named == {
        "contacts/nul.csv",
        "contacts/latin1.csv",
        "contacts/huge.csv",
        "contacts/ragged.csv",
        "campaigns/include-link.yaml",
        "campaigns/jinja-escape.yaml",
    }
