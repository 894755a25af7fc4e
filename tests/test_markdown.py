"""The PR comment: structure (parsed as Markdown), masking, and GitHub's size limit."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from octoplan.markdown import GITHUB_LIMIT, MARKER, cell, plan_markdown
from octoplan.pipeline import Selection, load, make_plan
from octoplan.plan import Plan
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli, write_files

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"


def campaign(i: int, recipients: int) -> str:
    rows = "\n".join(
        f'  - {{phone_number: "+336{i:04d}{j:04d}", first_name: "Jo|{j}"}}'
        for j in range(recipients)
    )
    return (
        f"id: c{i:03d}\nchannel: sms\n"
        f'text: "{{{{ contact.first_name }}}}, votre code {i} est prêt"\n'
        f"recipients:\n{rows}\npurpose: alert\n"
    )


def tables(html: str) -> list[str]:
    return re.findall(r"<table>.*?</table>", html, re.S)


def table_shapes(text: str) -> list[list[int]]:
    """Cells per row of every table, as a Markdown parser sees them (header row first)."""
    shapes: list[list[int]] = []
    for token in MarkdownIt("commonmark").enable("table").parse(text):
        if token.type == "table_open":
            shapes.append([])
        elif token.type == "tr_open":
            shapes[-1].append(0)
        elif token.type in ("th_open", "td_open"):
            shapes[-1][-1] += 1
    return shapes


def assert_whole(text: str, limit: int = GITHUB_LIMIT) -> None:
    """Under the limit, every table whole, every <details> closed, the footer last."""
    assert len(text) <= limit
    shapes = table_shapes(text)
    # The policies' verdicts come first (SPEC §7: a reviewer reads them first), then the
    # summary table.
    assert len(shapes) >= 2 and shapes[0][0] == 4 and shapes[1][0] == 8
    assert all(len(set(rows)) == 1 for rows in shapes), shapes  # no row cut short
    assert all(len(rows) >= 2 for rows in shapes)  # no table without a body row
    assert text.count("<details>") == text.count("</details>")
    assert text.rstrip("\n").endswith("· recipients masked</sub>")


@pytest.fixture(scope="module")
def plan_of_200(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    root = tmp_path_factory.mktemp("md200")
    write_files(root, {"octoplan.yaml": CONFIG})
    write_files(root, {f"campaigns/c{i:03d}.yaml": campaign(i, 3) for i in range(200)})
    project = load(root, Selection())
    store = open_state(str(root / "state.db"), root)
    try:
        return make_plan(project, store, datetime.now(UTC), Selection())
    finally:
        store.close()


def test_markdown_plan_of_200_campaigns_parses_masks_and_fits(make_project: MakeProject) -> None:
    root = make_project({f"campaigns/c{i:03d}.yaml": campaign(i, 3) for i in range(200)}, CONFIG)

    result = run_cli("plan", "--format", "markdown", cwd=root, timeout=300)

    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert_whole(text)
    assert text.startswith(MARKER + "\n### octoplan plan: 200 to create\n")
    assert "**600** messages in **200** requests" in text
    assert not re.search(r"\+33\s?6\d{8}", text)  # no clear phone number anywhere
    assert "+33 6•• •• •• 01" in text
    html = MarkdownIt("commonmark").enable("table").render(text)
    summary = tables(html)[1]
    # header row + 200 campaigns + the total row, every row with all 8 cells
    rows = re.findall(r"<tr>(.*?)</tr>", summary, re.S)
    assert len(rows) == 202
    assert all(len(re.findall(r"<t[hd]", row)) == 8 for row in rows)
    assert "<strong>Total</strong>" in rows[-1]
    # a pipe in a contact's name stays inside its cell
    assert "Jo|0, votre code 0 est pret" in html  # auto_optimize_text: ê -> e
    # 200 sections do not fit: whole sections are dropped, and the comment says how many.
    shown = html.count("<details>")
    assert 0 < shown < 200
    assert f"… {200 - shown} more campaigns not shown (comment size limit)" in html
    # one sample table per section shown: a header and 3 masked samples
    assert table_shapes(text)[2:] == [[2, 2, 2, 2]] * shown


@pytest.mark.parametrize("limit", [3_000, 8_000, 20_000, 40_000, GITHUB_LIMIT, 200_000])
def test_any_limit_cuts_between_rows_and_sections(plan_of_200: Plan, limit: int) -> None:
    text = plan_markdown(plan_of_200, limit)
    assert_whole(text, limit)
    summary = table_shapes(text)[1]
    if limit < 20_000:  # the summary table itself is cut, by whole rows, with a row saying so
        assert len(summary) < 202
        assert re.search(r"\| \| … [\d,]+ more campaigns \| \| \| \| \| \| \|\n", text)
    if limit == 200_000:
        assert len(summary) == 202
        assert text.count("<details>") == 200
        assert "not shown" not in text


def test_markdown_is_truncated_between_sections_with_a_note(make_project: MakeProject) -> None:
    root = make_project({f"campaigns/c{i:03d}.yaml": campaign(i, 1) for i in range(300)}, CONFIG)
    big = "x" * 900
    for i in range(300):  # long texts make each campaign section large
        path = root / f"campaigns/c{i:03d}.yaml"
        path.write_text(path.read_text().replace("est prêt", big), encoding="utf-8")

    result = run_cli("plan", "--format", "markdown", cwd=root, timeout=300)

    assert result.returncode == 0, result.stderr
    assert_whole(result.stdout)
    assert re.search(r"_… \d+ more campaigns not shown \(comment size limit\)", result.stdout)
    html = MarkdownIt("commonmark").enable("table").render(result.stdout)
    assert html.count("<details>") == html.count("</details>")


def test_cell_escapes_what_would_break_a_table() -> None:
    assert cell("a|b\nc `d` <b>") == "a\\|b<br>c \\`d\\` &lt;b&gt;"
    assert cell("y" * 400).endswith("…")


def test_markdown_shows_errors_first(make_project: MakeProject) -> None:
    root = make_project(
        {
            "campaigns/ok.yaml": campaign(1, 1),
            "campaigns/bad.yaml": (
                'channel: sms\npurpose: alert\ntext: "{{ contact.nope }}"\n'
                'recipients: [{phone_number: "+33612345678"}]\n'
            ),
        },
        CONFIG,
    )
    result = run_cli("plan", "--format", "markdown", cwd=root)
    assert result.returncode == 1
    errors_at = result.stdout.index("#### Errors and warnings")
    assert "❌ `campaigns/bad.yaml:3" in result.stdout[errors_at:]
    # Before the summary table and the campaigns' sections.
    assert errors_at < result.stdout.index("| | Campaign |") < result.stdout.index("<details>")
    assert_whole(result.stdout)
    assert Path(root / "plan.json").exists() is False


def test_many_warnings_are_listed_first_and_cut_with_a_count(make_project: MakeProject) -> None:
    # 200 campaigns, each with a UCS-2 warning: the list gets a quarter of the comment at most.
    files = {
        f"campaigns/c{i:03d}.yaml": campaign(i, 1).replace("prêt", "prêt 😀") for i in range(200)
    }
    root = make_project(files, CONFIG)

    result = run_cli("plan", "--format", "markdown", cwd=root, timeout=300)

    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert_whole(text)
    listed = len(re.findall(r"^- ⚠️ `campaigns/c\d{3}\.yaml:3:7` campaign c\d{3}: 😀", text, re.M))
    assert 0 < listed < 200
    assert f"\n- … {200 - listed} more\n" in text
    assert text.index("#### Errors and warnings") < text.index("| | Campaign |")
