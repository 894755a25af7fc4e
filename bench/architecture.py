"""The figures issue 18 (architecture) is judged by, measured on the source tree.

    .venv/bin/python bench/architecture.py [--limits]

Prints: modules over 600 lines, functions over 80 lines, import cycles among octoplan's
modules, the core modules that write channel names as literals, and the core modules (outside
the CLI) that read os.environ. `--limits` exits 1 when one of the issue's limits is exceeded
(no module over 600 lines, no function over 80, no import cycle, channel literals in at most 3
core modules, os.environ in at most 2), so the step can be checked as it is taken.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "octoplan"
CHANNELS = {"sms", "voice_sms", "rcs", "email", "livechat", "live_chat"}
# The CLI layer and the sandbox (an independent reading of the API) are not "core".
NOT_CORE = ("octoplan/cli.py", "octoplan/commands/", "octoplan/sandbox/", "octoplan/__main__.py")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    package = name if name in known and _is_package(name) else name.rpartition(".")[0]
    found = set()
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }  # imports for annotations only: no cycle at run time
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import submodule` needs the submodule, not the package's names.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _is_package(name: str) -> bool:
    return (ROOT / Path(*name.split(".")) / "__init__.py").exists()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in graph:
        if node not in index:
            visit(node)
    return result


def main() -> int:
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    long_modules, long_functions = [], []
    literals: dict[str, set[str]] = defaultdict(set)
    environ: list[str] = []
    for name, path in modules.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        relative = path.relative_to(ROOT).as_posix()
        core = not relative.startswith(NOT_CORE)
        lines = text.count("\n")
        if lines > 600:
            long_modules.append((lines, relative))
        graph[name] = _imports(name, tree, known)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 80:
                    long_functions.append((length, f"{relative}:{node.lineno} {node.name}"))
            elif (
                core
                and isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in CHANNELS
            ):
                literals[relative].add(node.value)
            elif (
                core
                and isinstance(node, ast.Attribute)
                and node.attr in {"environ", "getenv"}
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ):
                environ.append(relative)
    cycles = _cycles(graph)
    environ_modules = sorted(set(environ))

    print(f"modules over 600 lines: {len(long_modules)}")
    for lines, relative in sorted(long_modules, reverse=True):
        print(f"  {lines:5} {relative}")
    print(f"functions over 80 lines: {len(long_functions)}")
    for length, where in sorted(long_functions, reverse=True):
        print(f"  {length:5} {where}")
    print(f"import cycles: {len(cycles)}")
    for component in cycles:
        print("  " + " <-> ".join(component))
    print(f"core modules with channel names as literals: {len(literals)}")
    for relative, names in sorted(literals.items()):
        print(f"  {relative}: {', '.join(sorted(names))}")
    print(f"core modules reading os.environ: {len(environ_modules)}")
    for relative in environ_modules:
        print(f"  {relative}")

    over = (
        bool(long_modules)
        or bool(long_functions)
        or bool(cycles)
        or len(literals) > 3
        or len(environ_modules) > 2
    )
    if "--limits" in sys.argv[1:]:
        print("limits: " + ("EXCEEDED" if over else "met"))
        return 1 if over else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
