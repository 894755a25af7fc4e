"""The PR comment: structure (parsed as Markdown), masking, and GitHub's size limit."""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt

from octoplan.markdown import GITHUB_LIMIT, MARKER, cell
from tests.fixtures.project import MakeProject, run_cli

CONFIG = "region: FR\ndefaults: {sender: ShopX, purpose: alert}\n"


def campaign(i: int, recipients: int) -> str:
    rows = "\n".join(
        f'  - {{phone_number: "+336{i:04d}{j:04d}", first_name: "Jo|{j}"}}'
        for j in range(recipients)
    )
    return (
        f"id: c{i:03d}\nchannel: sms\n"
        f'text: "{{{{ contact.first_name }}}}, votre code {i} est prêt"\n'
        f"recipients:\n{rows}\n"
    )


def tables(html: str) -> list[str]:
    return re.findall(r"<table>.*?</table>", html, re.S)


def test_markdown_plan_of_200_campaigns_parses_masks_and_fits(make_project: MakeProject) -> None:
    root = make_project({f"campaigns/c{i:03d}.yaml": campaign(i, 3) for i in range(200)}, CONFIG)

    result = run_cli("plan", "--format", "markdown", cwd=root, timeout=300)

    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert len(text) <= GITHUB_LIMIT
    assert text.startswith(MARKER + "\n### octoplan plan: 200 to create\n")
    assert "**600** messages in **200** requests" in text
    assert not re.search(r"\+33\s?6\d{8}", text)  # no clear phone number anywhere
    assert "+33 6•• •• •• 01" in text
    html = MarkdownIt("commonmark").enable("table").render(text)
    summary = tables(html)[0]
    # header row + 200 campaigns + the total row, every row with all 8 cells
    rows = re.findall(r"<tr>(.*?)</tr>", summary, re.S)
    assert len(rows) == 202
    assert all(len(re.findall(r"<t[hd]", row)) == 8 for row in rows)
    assert "<strong>Total</strong>" in rows[-1]
    # a pipe in a contact's name stays inside its cell
    assert "Jo|0, votre code 0 est pret" in html  # auto_optimize_text: ê -> e


def test_markdown_is_truncated_between_sections_with_a_note(make_project: MakeProject) -> None:
    root = make_project({f"campaigns/c{i:03d}.yaml": campaign(i, 1) for i in range(300)}, CONFIG)
    big = "x" * 900
    for i in range(300):  # long texts make each campaign section large
        path = root / f"campaigns/c{i:03d}.yaml"
        path.write_text(path.read_text().replace("est prêt", big), encoding="utf-8")

    result = run_cli("plan", "--format", "markdown", cwd=root, timeout=300)

    assert result.returncode == 0, result.stderr
    assert len(result.stdout) <= GITHUB_LIMIT
    assert re.search(r"_… \d+ more campaign\(s\) not shown \(comment size limit\)", result.stdout)
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
    assert result.stdout.index("<details>") > errors_at
    assert Path(root / "plan.json").exists() is False
