"""The house rules of the code base (issue "The house"), checked on the source tree itself.

- no module in ``sim/`` or ``kernels/`` over 500 lines (one responsibility per module);
- no import cycle among the project's modules (deferred imports inside functions included);
- the repository stands alone: no file refers to the specification folder outside it.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sim", "kernels", "jobs", "hydra_plugins")
MAX_LINES = 500
# modules that must import on their own, in a fresh interpreter (the checkpoint split)
ALONE = ("sim.checkpoint.store", "sim.checkpoint.households", "sim.checkpoint.macro_state",
         "sim.shard_pool", "sim.supervisor", "sim.shard", "sim.coordinator", "sim.bench_checkpoint")


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules that ``name`` imports, at top level or inside a function: a cycle through a
    deferred import is still two modules that cannot be understood one without the other.

    ``from package import module`` names the module (not the package's __init__), and parent
    packages that run first are left out: a package whose __init__ imports its own submodules is
    how packages work, not a cycle."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else base)
    return {t for t in targets if t in known and t != name}


def test_no_module_over_500_lines():
    too_long = {name: n for name, path in _modules().items()
                if name.split(".")[0] in ("sim", "kernels")
                and (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"


def test_no_import_cycles():
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    cycles, state = [], {}

    def walk(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            walk(name, [])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_import_cycle_detector_finds_a_cycle(tmp_path):
    """The detector itself can fail: two modules importing each other (one inside a function) form
    a cycle."""
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("from pkg import b\n")
    b.write_text("def late():\n    import pkg.a\n")
    known = {"pkg", "pkg.a", "pkg.b"}
    assert "pkg.b" in _imports("pkg.a", a, known)
    assert "pkg.a" in _imports("pkg.b", b, known)


@pytest.mark.parametrize("module", ALONE)
def test_module_imports_alone(module):
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_repository_stands_alone():
    """No tracked file points at the specification folder beside the checkout: a clone has only
    the project, whose model and design live in docs/."""
    try:
        files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    needles = ("../shared", "shared/MODEL", "shared/DESIGN", "shared/NOTES", "MODEL-STAGE2.md",
               "NOTES-TOOLS.md", " MODEL.md", "`MODEL.md", "(MODEL.md", " DESIGN.md", "`DESIGN.md",
               "(DESIGN.md")
    this = Path(__file__).relative_to(ROOT).as_posix()
    offending = []
    for rel in files:
        path = ROOT / rel
        if rel == this or not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if any(needle in line for needle in needles):
                offending.append(f"{rel}:{lineno}: {line.strip()[:100]}")
    assert not offending, "references outside the repository:\n" + "\n".join(offending)
