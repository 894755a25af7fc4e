"""Do two revisions of octoplan make the same plans? A check for refactors that must change
no behaviour.

    .venv/bin/python bench/same_plan.py [--base main] [--head HEAD] [--contacts 100000]

Each revision is exported (`git archive`) into a temporary directory and run from there
(PYTHONPATH), on the same projects at the same path, at the same moment (bench/scale.py,
BENCH_NOW):

- the example project (this repository's root: campaigns/, contacts/, templates/);
- a generated list of `--contacts` realistic contacts (bench/gen_contacts.py --mixed);
- the same list with half of it already sent (applied by the base revision to
  `octoplan sandbox`), then the template changed: plans that resume nothing but must tell
  sent, changed and new recipients apart.

Each project gets a state made by the base revision first (a new state's lineage is random,
and plans show it). For each, `octoplan plan` in text, JSON and markdown, and the plan file of
`plan --out`, are compared byte for byte, with the exit codes and stderr. Prints one line per
case, `identical` or `different` (and the first differing lines); exits 1 when one differs.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale import BENCH_NOW, REPO, Sandbox, make_project

FORMATS = ("text", "json", "markdown")


def export(rev: str, into: Path) -> Path:
    """The tree of `rev`, as committed, in `into`."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def env_for(source: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(source),
        "OCTOPLAN_NOW": BENCH_NOW,
        "NO_COLOR": "1",
        "COLUMNS": "100",
        **(extra or {}),
    }


def plans(source: Path, project: Path, work: Path) -> dict[str, str]:
    """Every output of `octoplan plan` of `project` by the octoplan in `source`, run on a
    fresh copy of the project at `work` (the same path for every revision)."""
    outputs: dict[str, str] = {}
    for fmt in FORMATS:
        if work.exists():
            shutil.rmtree(work)
        shutil.copytree(project, work, symlinks=True)
        command = [sys.executable, "-m", "octoplan", "plan", "--format", fmt]
        if fmt == "json":
            command += ["--out", "saved-plan.json"]
        done = subprocess.run(
            command, cwd=work, env=env_for(source), capture_output=True, text=True, check=False
        )
        outputs[f"{fmt} (exit code)"] = str(done.returncode)
        outputs[fmt] = done.stdout
        outputs[f"{fmt} (stderr)"] = done.stderr
        if fmt == "json":
            saved = work / "saved-plan.json"
            outputs["plan file"] = saved.read_text() if saved.exists() else "(none)"
    shutil.rmtree(work)
    return outputs


def compare(name: str, base: dict[str, str], head: dict[str, str]) -> bool:
    same = base == head
    print(f"{name:<52} {'identical' if same else 'different'}")
    for key in base:
        if base[key] != head.get(key):
            diff = difflib.unified_diff(
                base[key].splitlines(), head.get(key, "").splitlines(), lineterm="", n=0
            )
            print(f"  {key}: " + " | ".join(list(diff)[2:6]))
    return same


def example_project(into: Path) -> Path:
    """The repository's own example project, without the state a run may have left."""
    for part in ("campaigns", "contacts", "templates"):
        shutil.copytree(REPO / part, into / part)
    shutil.copy(REPO / "octoplan.yaml", into / "octoplan.yaml")
    return into


def half_sent(into: Path, contacts: int, cache: dict[int, Path], base: Path, work: Path) -> Path:
    """`contacts` contacts, the first half of them sent by the base revision, then the
    template's text changed."""
    make_project(into, contacts // 2, cache, mixed=True)
    sandbox_env = env_for(base)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(base)  # the sandbox runs the base revision too
    try:
        sandbox = Sandbox(work / "sandbox.db")
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    try:
        done = subprocess.run(
            [sys.executable, "-m", "octoplan", "apply", "--auto-approve"],
            cwd=into,
            env={**sandbox_env, **sandbox.env()},
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        sandbox.stop()
    if done.returncode != 0:
        sys.exit(f"octoplan apply failed:\n{done.stdout}\n{done.stderr}")
    make_project(into, contacts, cache, mixed=True)  # the same first rows, and more
    template = into / "templates" / "promo.sms.j2"
    template.write_text(template.read_text().replace("-20%", "-25%"), encoding="utf-8")
    return into


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main")
    parser.add_argument("--head", default="HEAD")
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="octoplan-same-plan-") as tmp:
        root = Path(tmp)
        base, head = export(args.base, root / "base"), export(args.head, root / "head")
        print(f"base: {args.base} ({_commit(args.base)}), head: {args.head} ({_commit(args.head)})")
        cache: dict[int, Path] = {}
        cases = {
            "example project": example_project(root / "example"),
            f"{args.contacts:,} realistic contacts": make_project(
                root / "generated", args.contacts, cache, mixed=True
            ),
            f"{args.contacts:,} contacts, half sent, text changed": half_sent(
                root / "state", args.contacts, cache, base, root
            ),
        }
        results = []
        for name, project in cases.items():
            _with_state(project, base)
            work = root / "run"
            results.append(compare(name, plans(base, project, work), plans(head, project, work)))
    return 0 if all(results) else 1


def _with_state(project: Path, base: Path) -> None:
    """A state for `project` if it has none yet, made by the base revision: a new state gets a
    random lineage, which plans show; every run then starts from a copy of this one."""
    if (project / ".octoplan" / "state.db").exists():
        return
    done = subprocess.run(
        [sys.executable, "-m", "octoplan", "plan"],
        cwd=project,
        env=env_for(base),
        capture_output=True,
        text=True,
        check=False,
    )
    if not (project / ".octoplan" / "state.db").exists():
        sys.exit(f"no state was made for {project}:\n{done.stdout}\n{done.stderr}")


def _commit(rev: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", rev],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
