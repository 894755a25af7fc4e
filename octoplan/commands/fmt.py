"""`octoplan fmt [--check] [PATH...]`: rewrite campaign files in canonical form.

Like black and ruff: files are rewritten in place and listed; `--check` changes nothing, lists
the files that would change and exits 1 if there are any. Files that are not valid YAML are
reported with their diagnostics and left alone.
"""

from __future__ import annotations

from pathlib import Path

from octoplan.commands.context import AppContext
from octoplan.errors import Diagnostic, ValidationFailed
from octoplan.format import format_text
from octoplan.loader import campaign_files, display_path
from octoplan.words import plural
from octoplan.yamlsource import read_yaml


def run(app: AppContext, paths: list[Path], check: bool) -> int:
    root = app.root
    diags: list[Diagnostic] = []
    files = campaign_files(root, [p.absolute() for p in paths] or None, diags)
    changed = 0
    for file in files:
        name = display_path(root, file)
        try:
            read_yaml(file, name)  # refuses oversized, unsafe or broken YAML with positions
            text = file.read_text(encoding="utf-8-sig")
        except ValidationFailed as exc:
            diags.extend(exc.diagnostics)
            continue
        except (OSError, UnicodeDecodeError) as exc:
            diags.append(Diagnostic(name, None, None, f"cannot read: {exc}"))
            continue
        formatted = format_text(text)
        if formatted == text:
            continue
        changed += 1
        if check:
            app.echo(f"would reformat {name}")
        else:
            file.write_text(formatted, encoding="utf-8")
            app.echo(f"reformatted {name}")
    for diagnostic in diags:
        app.error(diagnostic.format())
    unchanged = len(files) - changed - len({d.path for d in diags})
    files_changed, files_unchanged = plural(changed, "file"), plural(unchanged, "file")
    if check:
        app.note(f"{files_changed} would be reformatted, {files_unchanged} already formatted")
    else:
        app.note(f"{files_changed} reformatted, {files_unchanged} left unchanged")
    return 1 if diags or (check and changed) else 0
