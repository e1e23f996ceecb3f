"""Layers point one way: ``proofs_numeric`` uses ``estimators``, never the reverse."""
import ast
from pathlib import Path

import estimators


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_estimators_never_import_proofs_numeric():
    root = Path(estimators.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 20
    bad = [f"{f.relative_to(root.parent)} imports {m}" for f in files for m in _imports(f)
           if m == "proofs_numeric" or m.startswith("proofs_numeric.")]
    assert not bad, bad
