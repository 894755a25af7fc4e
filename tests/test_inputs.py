"""The files a plan read, and how two sets of them differ (octoplan/inputs.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from octoplan.errors import OctoplanError
from octoplan.inputs import ABSENT, changed_inputs, describe, inputs_digest, read_inputs
from octoplan.loader import load_project
from tests.fixtures.project import MakeProject

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
FILES = {
    "campaigns/a.yaml": (
        "template: a.sms.j2\nchannel: sms\npurpose: alert\ncontacts: [contacts/a.csv]\n"
        "exclude: [contacts/no.csv]\n"
    ),
    "campaigns/sub/b.yml": (
        "text: Hello B\nchannel: sms\npurpose: alert\ncontacts: [contacts/b.csv]\n"
    ),
    "templates/a.sms.j2": '{% extends "base.j2" %}{% block x %}A{% endblock %}',
    "templates/base.j2": "{% block x %}{% endblock %}",
    "templates/unused.j2": "never read",
    "contacts/a.csv": "phone_number\n+33612345670\n",
    "contacts/b.csv": "phone_number\n+33612345671\n",
    "contacts/no.csv": "phone_number\n+33612345672\n",
    "contacts/unused.csv": "phone_number\n+33612345673\n",
}


def sha256(root: Path, name: str) -> str:
    return hashlib.sha256((root / name).read_bytes()).hexdigest()


def test_every_file_a_campaign_reads_is_hashed_and_nothing_else(make_project: MakeProject) -> None:
    root = make_project(FILES, CONFIG)
    inputs = read_inputs(load_project(root))
    read = [
        "campaigns/a.yaml",
        "campaigns/sub/b.yml",
        "contacts/a.csv",
        "contacts/b.csv",
        "contacts/no.csv",
        "octoplan.yaml",
        "templates/a.sms.j2",
        "templates/base.j2",
    ]
    assert inputs == {name: sha256(root, name) for name in read}
    assert list(inputs) == read  # sorted: the same project gives the same file


def test_the_files_of_the_campaigns_a_plan_covers(make_project: MakeProject) -> None:
    root = make_project(FILES, CONFIG)
    project = load_project(root)
    project.campaigns = [c for c in project.campaigns if c.id == "b"]
    assert set(read_inputs(project)) == {"campaigns/sub/b.yml", "contacts/b.csv", "octoplan.yaml"}


def test_a_missing_file_is_recorded_as_absent(make_project: MakeProject) -> None:
    root = make_project(FILES, config=None)  # a project without octoplan.yaml
    project = load_project(root)
    (root / "contacts/no.csv").unlink()  # deleted after the project was loaded
    inputs = read_inputs(project)
    assert inputs["contacts/no.csv"] == ABSENT
    assert inputs["octoplan.yaml"] == ABSENT
    assert inputs["contacts/a.csv"] == sha256(root, "contacts/a.csv")


def test_an_unreadable_file_is_a_clear_error(make_project: MakeProject) -> None:
    root = make_project(FILES, CONFIG)
    project = load_project(root)
    (root / "contacts/b.csv").unlink()
    (root / "contacts/b.csv").mkdir()  # a folder where the file was
    with pytest.raises(OctoplanError) as caught:
        read_inputs(project)
    assert str(caught.value) == "contacts/b.csv: cannot read it (Is a directory)"


def test_differences_are_named_one_per_file() -> None:
    saved = {"a": "1", "b": "2", "c": "3", "d": ABSENT, "e": "5", "same": "6"}
    current = {"a": "1x", "b": ABSENT, "d": "4", "f": "7", "e": "5", "same": "6", "g": ABSENT}
    assert changed_inputs(saved, current) == [
        "a (changed)",
        "b (deleted)",
        "c (no longer used)",
        "d (new)",
        "f (new)",
        "g (missing)",
    ]
    assert changed_inputs(saved, dict(saved)) == []


def test_a_long_list_of_changes_is_cut_and_counted() -> None:
    changes = [f"contacts/{i}.csv (changed)" for i in range(1, 9)]
    assert describe(changes) == (
        "contacts/1.csv (changed), contacts/2.csv (changed), contacts/3.csv (changed), "
        "contacts/4.csv (changed), contacts/5.csv (changed) and 3 more"
    )
    assert describe(changes[:5]) == ", ".join(changes[:5])


def test_the_digest_depends_on_names_and_contents_only() -> None:
    one = inputs_digest({"a": "1", "b": "2"})
    assert one == inputs_digest({"b": "2", "a": "1"})
    assert one != inputs_digest({"a": "1", "b": "3"})
    assert one != inputs_digest({"a": "1", "c": "2"})
