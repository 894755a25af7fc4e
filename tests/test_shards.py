"""A big CSV list read on N cores gives exactly what reading it in one go gives.

`OCTOPLAN_SHARD_BYTES` lowers the size from which a file is split, so a small file with every
kind of trouble in all its parts goes through the real forks: duplicates across the parts, bad
numbers, quoted line breaks, blank and ragged rows, render errors, UCS-2 texts, excluded keys.
(tests/test_shards_cli.py: the same through the CLI, cut points, CRLF, failed children.)
"""

from __future__ import annotations

import csv
import io
import itertools
import random
from pathlib import Path

import pytest

from octoplan import shards
from octoplan.contactfiles import CsvSource
from octoplan.desired import DesiredCampaign, build_campaign
from octoplan.loader import load_project

TEMPLATE = (
    "{% if contact.city %}{{ contact.city }} : {% endif %}Bonjour {{ contact.first_name }}, "
    "code {{ contact.code }}{% if contact.tier == 'gold' %} (or){% endif %}. STOP au 30101"
)


def _contacts(rows: int) -> str:
    rng = random.Random(5)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("phone_number", "first_name", "city", "code", "tier"))
    for index in range(rows):
        number = f"+3361{index:07d}" if index % 2 else f"06 10 {index:06d}"[:14]
        if index % 97 == 0:
            number = f"+3361{rng.randrange(rows):07d}"  # a duplicate, often across halves
        if index % 211 == 0:
            number = "06 12"  # not a number
        name = rng.choice(["Zoé", "Hugo", "Ana", "Émile’s", "Lin 😀", "x" * 60, "line\nbreak"])
        first = "" if index % 301 == 0 else name  # a render error: first_name is printed
        writer.writerow(
            (
                number,
                first,
                rng.choice(["", "Lyon", "Paris, 9e"]),
                f"C{index}",
                rng.choice(["gold", ""]),
            )
        )
        if index % 500 == 0:
            out.write("\n")  # a blank line
        if index % 733 == 0:
            out.write("+33700000000,too,many,cells,here,really\n")
    return out.getvalue()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "big"
    for folder in ("templates", "contacts", "campaigns"):
        (root / folder).mkdir(parents=True)
    (root / "octoplan.yaml").write_text(
        "region: FR\npricing: {currency: EUR, sms: {FR: 0.045}}\n", encoding="utf-8"
    )
    (root / "templates" / "t.sms.j2").write_text(TEMPLATE, encoding="utf-8")
    (root / "contacts" / "big.csv").write_text(_contacts(4000), encoding="utf-8")
    (root / "contacts" / "optout.csv").write_text(
        "phone_number\n+33610000003\n+33610003001\n", encoding="utf-8"
    )
    (root / "campaigns" / "c.yaml").write_text(
        "channel: sms\npurpose: wholesale\nsender: ShopX\ntemplate: t.sms.j2\n"
        "recipients:\n  - {phone_number: '+33610003999', first_name: Inline, code: I1}\n"
        "contacts: [contacts/big.csv]\nexclude: [contacts/optout.csv]\n",
        encoding="utf-8",
    )
    return root


def _build(root: Path) -> DesiredCampaign:
    project = load_project(root)
    return build_campaign(project, project.campaigns[0])


def _summary(desired: DesiredCampaign) -> tuple[object, ...]:
    return (
        [tuple(m) for m in desired.messages],
        [d.format() for d in desired.errors],
        [d.format() for d in desired.warnings],
        desired.duplicates,
        desired.excluded,
        round(desired.cost, 6),
    )


@pytest.mark.parametrize("jobs", [2, 3, 4, 7])
def test_n_parts_give_what_one_go_gives(
    project: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    monkeypatch.setenv("OCTOPLAN_JOBS", "1")
    one_go = _build(project)
    monkeypatch.setenv("OCTOPLAN_JOBS", str(jobs))
    monkeypatch.setenv("OCTOPLAN_SHARD_BYTES", "1")
    parts = shards.split(CsvSource(project / "contacts/big.csv", "contacts/big.csv"))
    assert parts is not None and len(parts) == jobs
    cuts = [part.part for part in parts]
    assert all(cut is not None for cut in cuts)
    for before, after in itertools.pairwise(cuts):
        assert before is not None and after is not None
        assert before[1] == after[0] and after[2] > before[2] + 4000 // jobs // 2  # cut mid-file
    split = _build(project)
    assert _summary(split) == _summary(one_go)
    # The data really holds what the test is about.
    assert one_go.duplicates > 10 and one_go.excluded == 2
    assert len(one_go.errors) >= 4 and len(one_go.messages) > 3500


def test_a_file_with_quotes_open_across_the_middle_is_cut_at_a_row(tmp_path: Path) -> None:
    rows = "".join(f'+3361{i:07d},"a\n{i}"\n' for i in range(200))
    file = tmp_path / "q.csv"
    file.write_text("phone_number,note\n" + rows, encoding="utf-8")
    data = file.read_bytes()
    cut = shards._cut(data, len(data) // 2)
    assert cut is not None
    assert data[:cut].count(b'"') % 2 == 0 and data[cut : cut + 5] == b"+3361"


def test_a_part_waits_folded_and_unfolds_as_read_even_with_a_separator_in_a_value() -> None:
    columns = [["+33610000001", "+33610000002"], ["Zoé", "a\x1eb"], ["", ""]]

    folded, lines = shards._fold(columns, [2, 5])

    assert isinstance(folded[0], str) and folded[1] == ["Zoé", "a\x1eb"]
    assert shards._unfold((folded, lines)) == (columns, [2, 5])
