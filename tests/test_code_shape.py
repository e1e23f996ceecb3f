"""The shape of the code (issue 18): no import circle, no function over 80 lines, no private cross-module
imports, a light ``import estimators``.

The import graph is read from the source (module-level imports only: an import inside a function runs when
the function does, which is how optional and heavy dependencies are deferred). Importing ``a.b.c`` loads the
packages ``a.b`` and ``a`` too, so those are edges as well, except the importer's own parent packages (a
module inside a package never reloads it).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("estimators", "proofs_numeric")
MAX_LINES = 80


def _modules(root: Path, packages=PACKAGES) -> dict[str, Path]:
    out = {}
    for pkg in packages:
        for f in sorted((root / pkg).rglob("*.py")):
            parts = list(f.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = f
    return out


def _module_level_imports(tree: ast.Module):
    """Import nodes executed when the module is imported (not those inside functions or TYPE_CHECKING)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
        elif isinstance(node, (ast.If, ast.Try, ast.With)) or type(node).__name__ == "TryStar":
            for field in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field, []):
                    stack.extend(child.body if isinstance(child, ast.ExceptHandler) else [child])


def import_graph(root: Path = ROOT, packages=PACKAGES) -> dict[str, set[str]]:
    """module -> modules of the packages it loads when imported."""
    mods = _modules(root, packages)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        own_pkg = name if is_pkg else name.rpartition(".")[0]
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)} | ({name} if is_pkg else set())
        edges: set[str] = set()

        def add(target: str) -> None:
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                t = ".".join(parts[:i])
                if t in mods and t not in ancestors and t != name:
                    edges.add(t)

        for node in _module_level_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for a in node.names:
                    add(a.name)
                continue
            if node.level:
                base = own_pkg.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            add(mod)
            for a in node.names:
                if f"{mod}.{a.name}" in mods:
                    add(f"{mod}.{a.name}")
        graph[name] = edges
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    circles = import_circles(import_graph())
    assert not circles, "import circles (module-level imports):\n" + "\n".join(" -> ".join(c) for c in circles)


def test_the_circle_check_finds_a_circle(tmp_path):
    """The check fails on a circle: a package whose __init__ imports a module that imports the package back."""
    pkg = tmp_path / "loopy"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .sub import thing\n")
    (pkg / "sub" / "__init__.py").write_text("from .thing import thing\n")
    (pkg / "sub" / "thing.py").write_text("from .. import helper\n\ndef thing():\n    from ..lazy import x\n")
    (pkg / "helper.py").write_text("import loopy.sub.thing\n")
    (pkg / "lazy.py").write_text("from .sub import thing\n")   # only imported inside a function: no edge back
    circles = import_circles(import_graph(tmp_path, ("loopy",)))
    assert circles == [["loopy.helper", "loopy.sub", "loopy.sub.thing"]]
    (pkg / "helper.py").write_text("def f():\n    import loopy.sub.thing\n")
    assert import_circles(import_graph(tmp_path, ("loopy",))) == []


def _functions(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.lineno, node.end_lineno - node.lineno + 1


#: functions still waiting for their split into named steps (issue 18), as "path:function"; each must still be
#: over the limit (a stale entry fails), and the list only shrinks
PENDING_LONG: set = set()
#: private imports across modules still waiting for a public name (issue 18), as "path:module.name"
PENDING_PRIVATE: set = set()


def test_no_function_over_80_lines():
    long = {f"{path.relative_to(ROOT)}:{name}": f"{path.relative_to(ROOT)}:{line} {name} ({n} lines)"
            for path in _modules(ROOT).values() for name, line, n in _functions(path) if n > MAX_LINES}
    new = [v for k, v in long.items() if k not in PENDING_LONG]
    assert not new, f"functions over {MAX_LINES} lines (split them into named steps):\n" + "\n".join(new)
    stale = sorted(PENDING_LONG - set(long))
    assert not stale, f"no longer over {MAX_LINES} lines: remove from PENDING_LONG: {stale}"


def _private_imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    yield f"{path.relative_to(ROOT)}:{'.' * node.level}{node.module or ''}.{a.name}", node.lineno


def test_no_private_cross_module_imports():
    """A name with a leading underscore is its module's own: other modules use public names."""
    found = dict(hit for path in _modules(ROOT).values() for hit in _private_imports(path))
    new = [f"{k} (line {v})" for k, v in found.items() if k not in PENDING_PRIVATE]
    assert not new, "private names imported from another module:\n" + "\n".join(new)
    stale = sorted(PENDING_PRIVATE - set(found))
    assert not stale, f"no longer imported: remove from PENDING_PRIVATE: {stale}"


@pytest.mark.parametrize("module, banned", [
    ("estimators", ("flint", "scipy", "cvxpy", "clarabel", "torch", "hypothesis", "matplotlib", "estimators.minimax",
                    "estimators.aqp")),
    ("estimators.torch", ("flint", "scipy", "cvxpy", "hypothesis", "estimators.minimax", "estimators.aqp")),
])
def test_import_loads_no_solver(module, banned):
    """``import estimators`` loads no solver, Arb or scipy until they are used (the import stays light:
    ``python -X importtime -c 'import estimators'`` measures it)."""
    code = f"import sys, {module}; print(','.join(m for m in {banned!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "", f"import {module} loaded {out.strip()}"
