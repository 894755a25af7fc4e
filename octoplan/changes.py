"""`--changed-since GITREF`: which campaigns are touched by the changes since a git ref.

A campaign is selected when its own file, a contact or exclude file it reads, a template it
uses (directly, or through `{% include %}`, `{% import %}`, `{% extends %}` at any depth) or the
project's octoplan.yaml changed; uncommitted and untracked files count as changed, so a
pull-request job and a developer's working tree get the same answer. A template that picks what
it includes at render time (`{% include "x." ~ contact.lang %}`) may use any template, so every
file under templates/ is one of its inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, TemplateSyntaxError, meta

from octoplan.errors import UsageError
from octoplan.loader import Project
from octoplan.project import CONFIG_NAME

if TYPE_CHECKING:
    import subprocess

TEMPLATES_DIR = "templates"


def _run_git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Every call, the first included: without git, the first one is what fails.
    import subprocess  # only for --changed-since: every `plan` imports this module

    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UsageError("--changed-since needs git, which is not installed") from None


def _git(root: Path, *args: str) -> str:
    result = _run_git(root, *args)
    if result.returncode != 0:
        raise UsageError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def changed_files(root: Path, ref: str) -> set[str]:
    """Project-relative posix paths changed since ref (committed, staged, unstaged, untracked)."""
    inside = _run_git(root, "rev-parse", "--show-toplevel")
    if inside.returncode != 0:
        raise UsageError(f"--changed-since needs a git repository, and {root} is not inside one")
    top = Path(inside.stdout.strip()).resolve()
    verify = _run_git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if verify.returncode != 0:
        raise UsageError(f"--changed-since: unknown git ref {ref!r}")
    names = _git(root, "diff", "--name-only", "--no-renames", ref, "--").splitlines()
    names += _git(root, "ls-files", "--others", "--exclude-standard").splitlines()
    # ls-files prints paths relative to cwd (root); diff prints them relative to the top.
    project = root.resolve()
    result: set[str] = set()
    for name in names:
        for base in (top, project):
            path = (base / name).resolve()
            if path.is_relative_to(project):
                result.add(path.relative_to(project).as_posix())
    return result


def _template_refs(source: str, env: Environment) -> set[str | None]:
    """Names of the templates source includes, imports or extends; None: a name computed at
    render time, which may be any template."""
    try:
        return {name for name in meta.find_referenced_templates(env.parse(source)) if name != ""}
    except (TemplateSyntaxError, RecursionError):
        return set()  # validate reports it; here it only means no known dependencies


def _every_template(root: Path) -> list[str]:
    folder = root / TEMPLATES_DIR
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def template_closure(root: Path, names: Iterable[str | None], env: Environment) -> set[str]:
    """Template names reachable from names through include/import/extends."""
    seen: set[str] = set()
    todo = list(names)
    everything = False
    while todo:
        name = todo.pop()
        if name is None:
            if not everything:
                everything = True
                todo.extend(_every_template(root))
            continue
        if name in seen:
            continue
        seen.add(name)
        file = root / TEMPLATES_DIR / name
        if file.is_file():
            todo.extend(_template_refs(file.read_text(encoding="utf-8", errors="replace"), env))
    return seen


def campaign_inputs(project: Project) -> dict[str, set[str]]:
    """Campaign id -> project-relative files it depends on."""
    env = Environment()
    inputs: dict[str, set[str]] = {}
    for source in project.campaigns:
        c = source.campaign
        roots: set[str | None] = set()
        if c.template:
            roots.add(c.template)
        if c.text:
            roots |= _template_refs(c.text, env)
        files = {source.path, CONFIG_NAME, *c.contacts, *c.exclude}
        files |= {f"{TEMPLATES_DIR}/{n}" for n in template_closure(project.root, roots, env)}
        inputs[c.id] = {Path(f).as_posix() for f in files}
    return inputs


def changed_campaigns(project: Project, ref: str) -> set[str]:
    changed = changed_files(project.root, ref)
    return {cid for cid, files in campaign_inputs(project).items() if files & changed}
