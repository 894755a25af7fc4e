"""`plan --changed-since REF` in a real git repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from octoplan.changes import campaign_inputs
from octoplan.loader import load_project
from tests.fixtures.project import MakeProject, run_cli, write_files

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
FILES = {
    "campaigns/a.yaml": (
        'template: a.sms.j2\nchannel: sms\nrecipients: [{phone_number: "+33612345678"}]\n'
        "purpose: alert\n"
    ),
    "campaigns/b.yaml": (
        'template: b.sms.j2\nchannel: sms\nrecipients: [{phone_number: "+33612345679"}]\n'
        "purpose: alert\n"
    ),
    "campaigns/c.yaml": (
        "text: '{% import \"macros.j2\" as m %}{{ m.hello() }} C'\n"
        "channel: sms\ncontacts: [contacts/c.csv]\npurpose: alert\n"
    ),
    "templates/a.sms.j2": '{% import "macros.j2" as m %}{{ m.hello() }} A',
    "templates/b.sms.j2": "B",
    "templates/macros.j2": "{% macro hello() %}Salut{% endmacro %}",
    "contacts/c.csv": "phone_number\n+33612345670\n",
}


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def selected(root: Path, ref: str = "HEAD") -> list[str]:
    result = run_cli("plan", "--format", "json", "--changed-since", ref, cwd=root)
    assert result.returncode == 0, result.stderr
    return [c["id"] for c in json.loads(result.stdout)["campaigns"]]


def repo(make_project: MakeProject) -> Path:
    root = make_project(FILES, CONFIG)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "start")
    return root


def test_nothing_changed_selects_nothing(make_project: MakeProject) -> None:
    assert selected(repo(make_project)) == []


def test_an_edited_campaign_selects_only_it(make_project: MakeProject) -> None:
    root = repo(make_project)
    path = root / "campaigns/b.yaml"
    path.write_text(path.read_text() + "batch_size: 100\n")
    assert selected(root) == ["b"]


def test_a_shared_macro_selects_every_campaign_importing_it(make_project: MakeProject) -> None:
    # a imports it from its template file, c from its inline text; b does not use it.
    root = repo(make_project)
    write_files(root, {"templates/macros.j2": "{% macro hello() %}Coucou{% endmacro %}"})
    assert selected(root) == ["a", "c"]


def test_a_template_of_one_campaign_selects_only_it(make_project: MakeProject) -> None:
    root = repo(make_project)
    write_files(root, {"templates/b.sms.j2": "B2"})
    git(root, "commit", "-qam", "b text")
    assert selected(root, "HEAD~1") == ["b"]


def test_a_contact_file_and_a_committed_change_count(make_project: MakeProject) -> None:
    root = repo(make_project)
    write_files(root, {"contacts/c.csv": "phone_number\n+33612345671\n"})
    git(root, "commit", "-qam", "contacts")
    assert selected(root, "HEAD~1") == ["c"]
    assert selected(root, "HEAD") == []


def test_the_project_config_selects_everything(make_project: MakeProject) -> None:
    root = repo(make_project)
    write_files(root, {"octoplan.yaml": CONFIG + "vars: {x: 1}\n"})
    assert selected(root) == ["a", "b", "c"]


def test_outside_a_repository_is_a_clear_error(make_project: MakeProject) -> None:
    root = make_project(FILES, CONFIG)
    result = run_cli("plan", "--changed-since", "main", cwd=root)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: --changed-since needs a git repository, and {root} is not inside one\n"
    )


def test_an_unknown_ref_is_a_clear_error(make_project: MakeProject) -> None:
    result = run_cli("plan", "--changed-since", "nope", cwd=repo(make_project))
    assert result.returncode == 1
    assert result.stderr == "error: --changed-since: unknown git ref 'nope'\n"


def test_a_project_in_a_subdirectory_of_the_repository(make_project: MakeProject) -> None:
    root = make_project(FILES, CONFIG)
    top = root.parent  # the repository holds the project in a folder of its own
    write_files(top, {"README.md": "docs\n", "other/octoplan.yaml": "region: BE\n"})
    git(top, "init", "-q")
    git(top, "add", ".")
    git(top, "commit", "-qm", "start")
    write_files(top, {"README.md": "more docs\n", "other/octoplan.yaml": "region: DE\n"})
    assert selected(root) == []  # changes outside the project select nothing
    path = root / "campaigns/a.yaml"
    path.write_text(path.read_text() + "batch_size: 100\n")
    assert selected(root) == ["a"]


def test_a_template_nested_too_deeply_has_no_known_dependencies(
    make_project: MakeProject,
) -> None:
    deep = "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"
    root = make_project({**FILES, "templates/b.sms.j2": deep}, CONFIG)
    inputs = campaign_inputs(load_project(root))
    assert inputs["b"] == {"campaigns/b.yaml", "octoplan.yaml", "templates/b.sms.j2"}


def test_a_template_name_computed_at_render_time_makes_every_template_an_input(
    make_project: MakeProject,
) -> None:
    # Which file `include` reads depends on the contact: any template may be the one.
    root = make_project(
        {
            **FILES,
            "templates/b.sms.j2": '{% include "greet." ~ (contact.lang or "fr") ~ ".j2" %}',
            "templates/greet.fr.j2": "Salut",
            "templates/lang/greet.en.j2": "Hi",
        },
        CONFIG,
    )
    inputs = campaign_inputs(load_project(root))
    assert inputs["b"] == {
        "campaigns/b.yaml",
        "octoplan.yaml",
        "templates/a.sms.j2",
        "templates/b.sms.j2",
        "templates/greet.fr.j2",
        "templates/lang/greet.en.j2",
        "templates/macros.j2",
    }
    assert inputs["a"] == {
        "campaigns/a.yaml",
        "octoplan.yaml",
        "templates/a.sms.j2",
        "templates/macros.j2",
    }
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "start")
    write_files(root, {"templates/greet.fr.j2": "Coucou"})
    assert selected(root) == ["b"]
