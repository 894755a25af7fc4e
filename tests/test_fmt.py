"""`octoplan fmt`: canonical key order, comments kept, idempotent, `--check` for CI.

Comments keep the column they were written at, so re-indenting can widen the gap before them.
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import pytest

from octoplan.format import format_text
from tests.fixtures.project import REPO, MakeProject, run_cli

MESSY = """\
# Order shipped: transactional.
text: "Votre colis arrive"   # short on purpose
metadata:
    with_replies: true
    type: sms_premium  # premium route
recipients:
- {phone_number: "+33612345678"}   # Axelle
- phone_number: '+33612345679'
  first_name: Bruno
custom_note: kept as written
channel: sms
id: shipped
purpose: alert
"""

CANONICAL = """\
# Order shipped: transactional.
id: shipped
channel: sms
purpose: alert
text: "Votre colis arrive"   # short on purpose
recipients:
  - {phone_number: "+33612345678"} # Axelle
  - phone_number: '+33612345679'
    first_name: Bruno
custom_note: kept as written
metadata:
  type: sms_premium    # premium route
  with_replies: true
"""


def test_canonical_order_keeps_comments_and_quotes() -> None:
    assert format_text(MESSY) == CANONICAL


def test_formatting_is_idempotent() -> None:
    assert format_text(CANONICAL) == CANONICAL
    assert format_text(format_text(MESSY)) == format_text(MESSY)


@pytest.mark.parametrize("path", sorted((REPO / "campaigns").glob("*.yaml")), ids=lambda p: p.name)
def test_the_example_campaigns_are_formatted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text


def test_any_key_order_gives_the_same_result() -> None:
    lines = ["channel: sms", "purpose: alert", "id: x", "text: hi", "batch_size: 10"]
    results = {format_text("\n".join(order) + "\n") for order in itertools.permutations(lines)}
    assert results == {"id: x\nchannel: sms\npurpose: alert\ntext: hi\nbatch_size: 10\n"}


def test_check_lists_files_and_changes_nothing(make_project: MakeProject) -> None:
    root = make_project({"campaigns/a.yaml": MESSY, "campaigns/b.yaml": CANONICAL})
    result = run_cli("fmt", "--check", cwd=root)
    assert (result.returncode, result.stdout) == (1, "would reformat campaigns/a.yaml\n")
    assert result.stderr == "1 file would be reformatted, 1 file already formatted\n"
    assert (root / "campaigns/a.yaml").read_text(encoding="utf-8") == MESSY


def test_fmt_rewrites_then_check_passes(make_project: MakeProject) -> None:
    root = make_project({"campaigns/a.yaml": MESSY, "campaigns/b.yaml": CANONICAL})
    result = run_cli("fmt", cwd=root)
    assert (result.returncode, result.stdout) == (0, "reformatted campaigns/a.yaml\n")
    assert result.stderr == "1 file reformatted, 1 file left unchanged\n"
    assert (root / "campaigns/a.yaml").read_text(encoding="utf-8") == CANONICAL
    result = run_cli("fmt", "--check", cwd=root)
    assert (result.returncode, result.stdout) == (0, "")


def test_fmt_paths(make_project: MakeProject) -> None:
    root = make_project({"campaigns/a.yaml": MESSY, "campaigns/x/b.yaml": MESSY})
    result = run_cli("fmt", "campaigns/x", cwd=root)
    assert (result.returncode, result.stdout) == (0, "reformatted campaigns/x/b.yaml\n")
    assert (root / "campaigns/a.yaml").read_text(encoding="utf-8") == MESSY


def test_broken_files_are_reported_and_left_alone(make_project: MakeProject) -> None:
    broken = "channel: sms\ntext: x\ntext: y\n"
    root = make_project({"campaigns/a.yaml": broken, "campaigns/b.yaml": CANONICAL})
    result = run_cli("fmt", cwd=root)
    assert result.returncode == 1
    assert result.stderr == (
        "campaigns/a.yaml:3:1: error: duplicate key 'text' (first at line 2)\n"
        "  hint: remove one of them\n"
        "0 files reformatted, 1 file left unchanged\n"
    )
    assert (root / "campaigns/a.yaml").read_text(encoding="utf-8") == broken


def test_hostile_files_are_reported_and_left_alone(make_project: MakeProject) -> None:
    deep = "channel: sms\nvars: " + "[" * 5000 + "]" * 5000 + "\n"
    root = make_project({"campaigns/deep.yaml": deep})
    with (root / "campaigns" / "big.yaml").open("wb") as handle:
        handle.truncate(11 * 1024 * 1024)
    (root / "campaigns" / "latin1.yaml").write_bytes(b"channel: sms\ntext: caf\xe9\n")
    result = run_cli("fmt", cwd=root)
    assert result.returncode == 1
    assert result.stderr == (
        "campaigns/big.yaml: error: file is 11.0 MB; YAML files are limited to 10 MB\n"
        "  hint: put contacts in a CSV or JSON file (contacts: [contacts/<file>.csv])\n"
        "campaigns/deep.yaml:2:70: error: YAML nesting is deeper than 64 levels\n"
        "  hint: campaign and contact files need a few levels of lists and mappings\n"
        "campaigns/latin1.yaml:2:10: error: not UTF-8 text (byte 0xe9)\n"
        "  hint: save the file as UTF-8\n"
        "0 files reformatted, 0 files left unchanged\n"
    )
    assert (root / "campaigns" / "deep.yaml").read_text(encoding="utf-8") == deep


def test_an_anchor_defined_twice_is_formatted_silently() -> None:
    text = "id: a\nchannel: sms\ntext: &x Hi\nvars: {a: &x 2, b: *x}\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert format_text(text) == text
